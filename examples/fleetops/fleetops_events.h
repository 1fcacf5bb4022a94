// examples/fleetops/fleetops_events.h — the vocabulary the FleetOps design
// (shared/seeds/fleetops-kafka-design.md) gives its four topics: severities,
// alert states, operator action types, ISO 8601 timestamps and UUIDs, shared
// by the replay, the two services and the command line.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace fleetops {

// The dataset's frame rate: the design's replay metadata says
// "replay_rate": 10.0, the 10 Hz of the driving datasets it replays.
inline constexpr double kFrameRateHz = 10.0;
inline constexpr int64_t kFrameIntervalMs = 100;

// The design's event type names in weir.yaml.
inline constexpr const char* kRawTelemetryEvent = "RawTelemetryEvent";
inline constexpr const char* kAnomalyEvent = "AnomalyEvent";
inline constexpr const char* kOperatorAlert = "OperatorAlert";
inline constexpr const char* kOperatorAction = "OperatorAction";

// anomalies.severity: "INFO, WARNING, or CRITICAL".
enum class Severity : uint8_t { kInfo, kWarning, kCritical };
std::string_view SeverityName(Severity s);

// operator_alerts.alert_status: "OPEN, ACKNOWLEDGED, RESOLVED, DISMISSED".
enum class AlertStatus : uint8_t { kOpen, kAcknowledged, kResolved, kDismissed };
inline constexpr AlertStatus kAllAlertStatuses[] = {AlertStatus::kOpen, AlertStatus::kAcknowledged,
                                                    AlertStatus::kResolved,
                                                    AlertStatus::kDismissed};
std::string_view AlertStatusName(AlertStatus s);
std::optional<AlertStatus> ParseAlertStatus(std::string_view name);

// operator_actions.action_type: "ACKNOWLEDGE, RESOLVE, DISMISS, INTERVENE".
enum class ActionType : uint8_t { kAcknowledge, kResolve, kDismiss, kIntervene };
std::string_view ActionTypeName(ActionType t);
std::optional<ActionType> ParseActionType(std::string_view name);

// "2024-01-15T10:23:45.123Z" (UTC, milliseconds) for |unix_ms|.
std::string FormatIso8601Ms(int64_t unix_ms);
// The inverse, for "YYYY-MM-DDTHH:MM:SS[.f...]Z"; nullopt for anything else.
std::optional<int64_t> ParseIso8601Ms(std::string_view text);
// The wall clock, formatted as above.
std::string NowIso8601();

// A name-based UUID (version 8 of RFC 9562, built from a 128-bit hash of
// |name|): the same name always gives the same id. The services derive
// anomaly and alert ids this way, so that handling an event again (at-least-
// once) produces the same ids and the downstream effects stay idempotent.
std::string NameUuid(std::string_view name);
// A random version-4 UUID drawn from |rng| (deterministic for a seeded rng).
std::string RandomUuid(std::mt19937_64& rng);

}  // namespace fleetops
