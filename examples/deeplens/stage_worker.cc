#include "stage_worker.h"

#include <fmt/format.h>

#include "blob_store.h"
#include "deeplens_events.h"
#include "image_features.h"
#include "weir/publish/publisher.h"

namespace deeplens {

using nlohmann::json;
using weir::ErrorClass;
using weir::Status;
using weir::consume::HandlerResult;

std::string_view StageName(Stage s) {
  switch (s) {
    case Stage::kValidation:
      return kStageValidation;
    case Stage::kFeatureExtraction:
      return kStageFeatureExtraction;
    case Stage::kIndexing:
      break;
  }
  return kStageIndexing;
}

std::string_view StageGroup(Stage s) {
  switch (s) {
    case Stage::kValidation:
      return "deeplens-processing-group";
    case Stage::kFeatureExtraction:
      return "feature-extraction-service";
    case Stage::kIndexing:
      break;
  }
  return "vector-indexing-service";
}

namespace {

// The event type a stage consumes, and those it publishes.
const char* InputType(Stage s) {
  switch (s) {
    case Stage::kValidation:
      return kImageUploadedEvent;
    case Stage::kFeatureExtraction:
      return kImageValidatedEvent;
    case Stage::kIndexing:
      break;
  }
  return kImageProcessedEvent;
}

const char* OutputType(Stage s) {
  switch (s) {
    case Stage::kValidation:
      return kImageValidatedEvent;
    case Stage::kFeatureExtraction:
      return kImageProcessedEvent;
    case Stage::kIndexing:
      break;
  }
  return kImageIndexedEvent;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

weir::Result<std::unique_ptr<StageWorker>> StageWorker::Create(Stage stage,
                                                               const weir::Topology& topology,
                                                               weir::kafka::ClientConfig config,
                                                               weir::publish::Publisher* publisher,
                                                               StageWorkerOptions options) {
  if (options.group.empty()) options.group = std::string(StageGroup(stage));
  if (topology.FindGroup(options.group) == nullptr) {
    return Status::NotFound(fmt::format("{}: no consumer group {} (the {} worker's)", topology.path,
                                        options.group, StageName(stage)));
  }
  for (const char* type : {OutputType(stage), kImageFailedEvent, kTenantUsageEvent}) {
    if (publisher == nullptr || !publisher->HasEventType(type)) {
      return Status::InvalidArgument(
          fmt::format("{}: the {} worker publishes {}, which is not declared", topology.path,
                      StageName(stage), type));
    }
  }
  std::unique_ptr<StageWorker> w(new StageWorker());
  w->stage_ = stage;
  w->publisher_ = publisher;
  w->options_ = std::move(options);
  if (stage == Stage::kIndexing) {
    if (w->options_.index_path.empty()) {
      return Status::InvalidArgument("the indexing worker needs the vector index's path");
    }
    WEIR_ASSIGN_OR_RETURN(
        w->index_, VectorIndex::Open(w->options_.index_path, w->options_.duplicate_distance));
  }
  WEIR_ASSIGN_OR_RETURN(
      w->runtime_, weir::consume::GroupRuntime::Create(topology, w->options_.group,
                                                       std::move(config), w->options_.runtime));
  StageWorker* self = w.get();
  WEIR_RETURN_IF_ERROR(w->runtime_->OnEventType(
      InputType(stage), [self](const weir::consume::Message& m) { return self->Handle(m); }));
  return w;
}

StageWorker::~StageWorker() {
  if (runtime_) (void)runtime_->Stop(std::chrono::seconds(5));
}

Status StageWorker::Start() { return runtime_->Start(); }

Status StageWorker::Stop(std::chrono::milliseconds deadline) { return runtime_->Stop(deadline); }

StageWorkerStats StageWorker::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

HandlerResult StageWorker::Handle(const weir::consume::Message& m) {
  // The runtime has checked the event against its schema; what is read
  // below is there and of the right type. Anything else is a bug, reported
  // as the record's failure rather than an exception across the runtime.
  try {
    const json event = json::parse(m.json());
    switch (stage_) {
      case Stage::kValidation:
        return Validate(event);
      case Stage::kFeatureExtraction:
        return ExtractFeatures(event);
      case Stage::kIndexing:
        return Index(event);
    }
    return HandlerResult::Fail(ErrorClass::kUnknown, "unknown stage");
  } catch (const std::exception& e) {
    return HandlerResult::Fail(ErrorClass::kSchemaValidation,
                               fmt::format("{} worker: {}", StageName(stage_), e.what()));
  }
}

HandlerResult StageWorker::Emit(const char* type, const json& outcome,
                                const std::vector<json>& usage, bool failed) {
  const std::string image_id = outcome.value("image_id", "");
  auto publish = [&](const char* t, const json& event) {
    const weir::publish::PublishResult r = publisher_->Publish(t, Dump(event));
    if (r.accepted()) return true;
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.publish_failures;
    return false;
  };
  if (!publish(type, outcome)) {
    return HandlerResult::Retry(
        fmt::format("publishing the {} of image {} failed", type, image_id));
  }
  for (const json& u : usage) {
    if (!publish(kTenantUsageEvent, u)) {
      return HandlerResult::Retry(fmt::format("publishing the {} usage of image {} failed",
                                              u.value("usage_type", ""), image_id));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++(failed ? stats_.failed : stats_.passed);
  }
  if (options_.on_outcome) options_.on_outcome(stage_, outcome, failed);
  return HandlerResult::Ok();
}

HandlerResult StageWorker::Fail(const json& event, std::string_view reason_code,
                                std::string_view message) {
  const std::string tenant = event.at("tenant_id").get<std::string>();
  const std::string image_id = event.at("image_id").get<std::string>();
  std::vector<json> usage;
  if (stage_ == Stage::kValidation) {
    usage.push_back(TenantUsageJson(tenant, kUsageUploaded, 1, image_id));
    usage.push_back(TenantUsageJson(tenant, kUsageStorageBytes,
                                    event.at("file_size").get<int64_t>(), image_id));
  }
  usage.push_back(TenantUsageJson(tenant, kUsageFailed, 1, image_id));
  return Emit(kImageFailedEvent, ImageFailedJson(event, StageName(stage_), reason_code, message),
              usage, true);
}

std::optional<DecodedImage> StageWorker::LoadImage(const json& event, HandlerResult* result) {
  const std::string path = event.at("storage_path").get<std::string>();
  auto bytes = BlobStore::Read(path, options_.limits.max_bytes);
  if (!bytes.ok()) {
    switch (bytes.status().code()) {
      case weir::StatusCode::kNotFound:
        *result = Fail(event, kMissingBlob, bytes.status().message());
        break;
      case weir::StatusCode::kInvalidArgument:
        *result = Fail(event, RejectCodeName(RejectCode::kTooLarge), bytes.status().message());
        break;
      default:  // the disk may come back
        *result = HandlerResult::Retry(bytes.status().ToString());
    }
    return std::nullopt;
  }
  auto decoded = DecodeImage(*bytes, options_.limits);
  if (auto* rejected = std::get_if<ImageRejection>(&decoded)) {
    *result = Fail(event, RejectCodeName(rejected->code), rejected->message);
    return std::nullopt;
  }
  return std::move(std::get<DecodedImage>(decoded));
}

HandlerResult StageWorker::Validate(const json& event) {
  HandlerResult result;
  std::optional<DecodedImage> image = LoadImage(event, &result);
  if (!image) return result;
  json validated = event;
  validated["mime_type"] = ImageMimeType(image->format);
  validated["width"] = image->image.width;
  validated["height"] = image->image.height;
  validated["validated_at"] = NowIso8601();
  const std::string tenant = event.at("tenant_id").get<std::string>();
  const std::string image_id = event.at("image_id").get<std::string>();
  return Emit(
      kImageValidatedEvent, validated,
      {TenantUsageJson(tenant, kUsageUploaded, 1, image_id),
       TenantUsageJson(tenant, kUsageStorageBytes, event.at("file_size").get<int64_t>(), image_id)},
      false);
}

HandlerResult StageWorker::ExtractFeatures(const json& event) {
  HandlerResult result;
  std::optional<DecodedImage> image = LoadImage(event, &result);
  if (!image) return result;
  json processed = event;
  processed["features"] = ColourHistogram(image->image);
  processed["feature_model"] = kFeatureModel;
  processed["perceptual_hash"] = HashToHex(PerceptualHash(image->image));
  processed["processed_at"] = NowIso8601();
  return Emit(kImageProcessedEvent, processed,
              {TenantUsageJson(event.at("tenant_id").get<std::string>(), kUsageProcessed, 1,
                               event.at("image_id").get<std::string>())},
              false);
}

HandlerResult StageWorker::Index(const json& event) {
  IndexEntry entry;
  entry.image_id = event.at("image_id").get<std::string>();
  entry.tenant_id = event.at("tenant_id").get<std::string>();
  entry.storage_path = event.at("storage_path").get<std::string>();
  entry.histogram = event.at("features").get<std::vector<double>>();
  const std::string hex = event.value("perceptual_hash", "");
  const std::optional<uint64_t> phash = HashFromHex(hex);
  if (!phash || event.value("feature_model", "") != kFeatureModel) {
    // Features of another model cannot be compared with the index's.
    return HandlerResult::Fail(
        ErrorClass::kSchemaValidation,
        fmt::format("image {}: feature_model \"{}\" with perceptual_hash \"{}\": the index holds "
                    "{} features",
                    entry.image_id, event.value("feature_model", ""), hex, kFeatureModel));
  }
  entry.phash = *phash;
  auto added = index_->Add(entry, NowIso8601());
  if (!added.ok()) return HandlerResult::Retry(added.status().ToString());
  const IndexEntry& stored = added->entry;
  const json indexed{
      {"tenant_id", stored.tenant_id},
      {"image_id", stored.image_id},
      {"index_name", IndexNameFor(stored.tenant_id)},
      {"vector_dimensions", stored.histogram.size()},
      {"duplicate_of", stored.duplicate_of ? json(*stored.duplicate_of) : json(nullptr)},
      {"hash_distance", stored.hash_distance ? json(*stored.hash_distance) : json(nullptr)},
      {"indexed_at", stored.indexed_at}};
  return Emit(kImageIndexedEvent, indexed,
              {TenantUsageJson(stored.tenant_id, kUsageIndexed, 1, stored.image_id)}, false);
}

}  // namespace deeplens
