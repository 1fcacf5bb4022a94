// examples/deeplens/deeplens_events.h — the events of weir.yaml as the
// DeepLens services build and read them: names, topics, and JSON builders
// whose output the schemas in schemas/ accept.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace deeplens {

// Event types (weir.yaml `event_types:`).
inline constexpr const char* kImageUploadedEvent = "ImageUploadedEvent";
inline constexpr const char* kImageValidatedEvent = "ImageValidatedEvent";
inline constexpr const char* kImageFailedEvent = "ImageFailedEvent";
inline constexpr const char* kImageProcessedEvent = "ImageProcessedEvent";
inline constexpr const char* kImageIndexedEvent = "ImageIndexedEvent";
inline constexpr const char* kTenantUsageEvent = "TenantUsageEvent";

// Topics.
inline constexpr const char* kImagesUploaded = "images.uploaded";
inline constexpr const char* kImagesValidated = "images.validated";
inline constexpr const char* kImagesFailed = "images.failed";
inline constexpr const char* kImagesProcessed = "images.processed";
inline constexpr const char* kImagesIndexed = "images.indexed";
inline constexpr const char* kTenantUsage = "tenant.usage";

// The `stage` of ImageFailedEvent.
inline constexpr const char* kStageValidation = "validation";
inline constexpr const char* kStageFeatureExtraction = "feature-extraction";
inline constexpr const char* kStageIndexing = "indexing";

// The reason_code of a blob that is gone (every other code is a
// RejectCodeName).
inline constexpr const char* kMissingBlob = "missing_blob";

// The usage_type values of TenantUsageEvent.
inline constexpr const char* kUsageUploaded = "image_uploaded";
inline constexpr const char* kUsageStorageBytes = "storage_bytes";
inline constexpr const char* kUsageProcessed = "image_processed";
inline constexpr const char* kUsageIndexed = "image_indexed";
inline constexpr const char* kUsageFailed = "image_failed";

// Now, as the events' date-time fields write it ("2026-01-15T10:23:45.123Z").
std::string NowIso8601();

// The index an image goes to: "<tenant>-images".
std::string IndexNameFor(std::string_view tenant_id);

// The fields of |event| that ImageUploadedEvent declares (an images.failed
// event carries its image's upload event, whatever stage failed).
nlohmann::json UploadFields(const nlohmann::json& event);

// An ImageFailedEvent for |image_event| (the stage's input event).
nlohmann::json ImageFailedJson(const nlohmann::json& image_event, std::string_view stage,
                               std::string_view reason_code, std::string_view message);

// A TenantUsageEvent. Its usage_id is "<image_id>:<usage_type>", so that
// the same usage reported twice (a redelivered event) is one usage: the
// publisher drops the repeat within publisher.dedup_ttl, and the billing
// consumer counts each usage_id once.
nlohmann::json TenantUsageJson(std::string_view tenant_id, std::string_view usage_type,
                               int64_t quantity, std::string_view image_id);

}  // namespace deeplens
