// examples/activity-logs/activity_events.h — the activity logs' names and
// the shapes derived from an event: the analytics event, and the seed's
// dead-letter envelope read from one of weir's dead letters.
//
// Source: ../shared/seeds/activity-logs-topics.md ("Topics Design").
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "weir/consume/dead_letter.h"
#include "weir/status.h"

namespace activity_logs {

inline constexpr const char* kActivityEvent = "UserActivity";
inline constexpr const char* kAnalyticsEvent = "UserActivityAnalytics";
inline constexpr const char* kActivityTopic = "user-activity-logs";
inline constexpr const char* kDlqTopic = "user-activity-logs-dlq";
inline constexpr const char* kAnalyticsTopic = "user-activity-analytics";
inline constexpr const char* kProcessorGroup = "user-activity-processor";

// The analytics event for |activity| (a UserActivity event) once it is
// stored in a |store_kind| ("sqlite", "postgresql") store at |stored_at|:
// eventId, userId, activityType, timestamp, sessionId (when the event has
// one), storedAt, store and version "1.0". Its eventId is the activity's,
// so a consumer of the analytics topic can de-duplicate a re-stored event.
nlohmann::json AnalyticsEvent(const nlohmann::json& activity, const std::string& store_kind,
                              const std::string& stored_at);

// The seed's dead-letter message for a dead letter of user-activity-logs
// (schemas/user_activity_dlq.schema.json is its "value"):
//   {"key": <original key>,
//    "value": {<the original event's fields>...,
//              "error": {"code", "message", "timestamp", "retryCount"}},
//    "headers": {<the original headers>..., "originalTopic",
//                "originalPartition", "originalOffset"}}
// error.code is weir's error type (SCHEMA_VALIDATION, PROCESSING_FAILURE,
// TIMEOUT, BUSINESS_LOGIC, UNKNOWN), message and retryCount weir's, and
// timestamp when it was dead-lettered. An original value that is not a JSON
// object (a record no producer of this system wrote) is kept as text in
// value.original.
nlohmann::json SeedDeadLetter(const weir::consume::DeadLetter& dl);

}  // namespace activity_logs
