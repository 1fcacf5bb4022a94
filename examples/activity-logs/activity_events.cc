#include "activity_events.h"

#include "weir/topology.h"

namespace activity_logs {

using nlohmann::json;

json AnalyticsEvent(const json& activity, const std::string& store_kind,
                    const std::string& stored_at) {
  json out = {
      {"eventId", activity.value("eventId", "")},
      {"userId", activity.value("userId", "")},
      {"activityType", activity.value("activityType", "")},
      {"timestamp", activity.value("timestamp", "")},
      {"storedAt", stored_at},
      {"store", store_kind},
      {"version", "1.0"},
  };
  const auto metadata = activity.find("metadata");
  if (metadata != activity.end() && metadata->is_object()) {
    const auto session = metadata->find("sessionId");
    if (session != metadata->end() && session->is_string()) out["sessionId"] = *session;
  }
  return out;
}

json SeedDeadLetter(const weir::consume::DeadLetter& dl) {
  json value = json::object();
  if (dl.value) {
    json parsed = json::parse(*dl.value, nullptr, false);
    if (parsed.is_object()) {
      value = std::move(parsed);
    } else {
      value["original"] = weir::consume::TextOrBase64(*dl.value);
    }
  }
  value["error"] = {
      {"code", std::string(weir::ErrorClassName(dl.error_type))},
      {"message", dl.error_message},
      {"timestamp", weir::consume::FormatDlqTimestamp(dl.timestamp_ms)},
      {"retryCount", dl.retry_count},
  };
  json headers = json::object();
  for (const weir::Header& h : dl.original_headers) {
    headers[h.key] = h.value ? json(weir::consume::TextOrBase64(*h.value)) : json(nullptr);
  }
  headers["originalTopic"] = dl.original_topic;
  headers["originalPartition"] = dl.original_partition.value();
  headers["originalOffset"] = dl.original_offset.value();
  return json{{"key", dl.key ? json(weir::consume::TextOrBase64(*dl.key)) : json(nullptr)},
              {"value", std::move(value)},
              {"headers", std::move(headers)}};
}

}  // namespace activity_logs
