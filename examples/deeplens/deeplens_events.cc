#include "deeplens_events.h"

#include <fmt/format.h>

#include "common/wall_clock.h"
#include "weir/consume/dead_letter.h"

namespace deeplens {

using nlohmann::json;

std::string NowIso8601() { return weir::consume::FormatDlqTimestamp(weir::WallClockMs()); }

std::string IndexNameFor(std::string_view tenant_id) { return fmt::format("{}-images", tenant_id); }

json UploadFields(const json& event) {
  static constexpr const char* kFields[] = {
      "tenant_id",    "image_id",  "original_file_name", "storage_provider",
      "storage_path", "file_size", "mime_type",          "uploaded_at",
      "width",        "height",    "validated_at"};
  json out = json::object();
  if (!event.is_object()) return out;
  for (const char* f : kFields) {
    if (auto it = event.find(f); it != event.end()) out[f] = *it;
  }
  return out;
}

json ImageFailedJson(const json& image_event, std::string_view stage, std::string_view reason_code,
                     std::string_view message) {
  const std::string what =
      std::string(stage) == "validation" ? "Validation failed" : fmt::format("{} failed", stage);
  return json{{"image_id", image_event.value("image_id", "")},
              {"image_event", UploadFields(image_event)},
              {"reason", fmt::format("{}: {}", what, message)},
              {"reason_code", reason_code},
              {"stage", stage},
              {"failed_at", NowIso8601()}};
}

json TenantUsageJson(std::string_view tenant_id, std::string_view usage_type, int64_t quantity,
                     std::string_view image_id) {
  return json{{"usage_id", fmt::format("{}:{}", image_id, usage_type)},
              {"tenant_id", tenant_id},
              {"usage_type", usage_type},
              {"quantity", quantity},
              {"image_id", image_id},
              {"occurred_at", NowIso8601()}};
}

}  // namespace deeplens
