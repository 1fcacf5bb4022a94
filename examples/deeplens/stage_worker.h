// examples/deeplens/stage_worker.h — the three workers of the DeepLens
// pipeline, each one consumer group of weir.yaml run by weir's consumer
// runtime:
//
//   validation          deeplens-processing-group on images.uploaded: reads
//                       the blob, checks size, format (magic bytes) and that
//                       it decodes (image_codec.h) → images.validated (the
//                       upload event plus width, height, validated_at), or
//                       images.failed with the reason.
//   feature-extraction  feature-extraction-service on images.validated:
//                       decodes again and computes the colour histogram and
//                       perceptual hash (image_features.h) →
//                       images.processed (features, feature_model,
//                       perceptual_hash, processed_at).
//   indexing            vector-indexing-service on images.processed: adds
//                       the image to the vector index (vector_index.h),
//                       which decides whether it duplicates an earlier one
//                       → images.indexed (duplicate_of, hash_distance).
//
// Each stage also reports tenant.usage: validation an image_uploaded and
// its storage_bytes (taken from the durable upload event, so usage is
// counted once per upload whatever the API did), and each stage an
// image_processed / image_indexed or image_failed.
//
// A handler publishes every event of its outcome (delivered or spooled)
// before it reports the record done, so a record is committed only once its
// outcome is safe. A bad image is a business outcome, published to
// images.failed as an ImageFailedEvent (reason_code, reason, stage); it is
// not an error of the handler. Transient trouble (a publish or the index
// failing) is retried per weir.yaml and, when retries run out, the record
// is dead-lettered to images.failed by the runtime with its provenance.
// Redelivery is harmless: every event the stages publish has an id (image_id
// or usage_id) that the publisher de-duplicates (publisher.dedup_ttl), and
// the index returns its first decision for an image it already holds.
//
// Lifetime: the Publisher must outlive the worker. Threads: Start, Stop and
// the accessors may be called from any thread; on_outcome runs on the
// runtime's worker threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "image_codec.h"
#include "vector_index.h"
#include "weir/consume/runtime.h"
#include "weir/kafka/client_config.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::publish {
class Publisher;
}

namespace deeplens {

enum class Stage : uint8_t { kValidation, kFeatureExtraction, kIndexing };
// "validation", "feature-extraction", "indexing".
std::string_view StageName(Stage s);
// The consumer group of weir.yaml that runs |s|.
std::string_view StageGroup(Stage s);

struct StageWorkerOptions {
  ImageLimits limits;
  weir::consume::RuntimeOptions runtime;
  // kIndexing: the SQLite file of the vector index (required).
  std::string index_path;
  int duplicate_distance = kDefaultDuplicateDistance;
  // Default: StageGroup(stage).
  std::string group;
  // Called with the event that is the outcome of each record (validated,
  // processed, indexed, or failed), once it is published. Must not block
  // for long or throw.
  std::function<void(Stage stage, const nlohmann::json& event, bool failed)> on_outcome;
};

struct StageWorkerStats {
  uint64_t passed = 0;  // images sent on to the next topic
  uint64_t failed = 0;  // ImageFailedEvents published
  uint64_t publish_failures = 0;
};

class StageWorker {
 public:
  // Fails, naming weir.yaml, when the group or an event type the stage
  // publishes is not declared, or the index cannot be opened.
  static weir::Result<std::unique_ptr<StageWorker>> Create(Stage stage,
                                                           const weir::Topology& topology,
                                                           weir::kafka::ClientConfig config,
                                                           weir::publish::Publisher* publisher,
                                                           StageWorkerOptions options = {});
  ~StageWorker();

  weir::Status Start();
  // Stops the group (see GroupRuntime::Stop); idempotent.
  weir::Status Stop(std::chrono::milliseconds deadline = std::chrono::seconds(30));
  // The error that stopped the group (OK while it runs or after Stop()).
  weir::Status Error() const { return runtime_->error(); }

  Stage stage() const { return stage_; }
  StageWorkerStats Stats() const;
  weir::consume::GroupStats GroupStats() const { return runtime_->Stats(); }
  weir::consume::GroupRuntime& runtime() { return *runtime_; }
  // kIndexing: the vector index; null otherwise.
  VectorIndex* index() { return index_.get(); }

 private:
  StageWorker() = default;
  weir::consume::HandlerResult Handle(const weir::consume::Message& m);
  weir::consume::HandlerResult Validate(const nlohmann::json& event);
  weir::consume::HandlerResult ExtractFeatures(const nlohmann::json& event);
  weir::consume::HandlerResult Index(const nlohmann::json& event);
  // Reads and decodes the image of |event|; on failure publishes its
  // ImageFailedEvent (or asks for a retry) into |result|.
  std::optional<DecodedImage> LoadImage(const nlohmann::json& event,
                                        weir::consume::HandlerResult* result);
  // Publishes |outcome| (of |type|) and |usage|, in that order; Ok, or a
  // retry naming what could not be published.
  weir::consume::HandlerResult Emit(const char* type, const nlohmann::json& outcome,
                                    const std::vector<nlohmann::json>& usage, bool failed);
  weir::consume::HandlerResult Fail(const nlohmann::json& event, std::string_view reason_code,
                                    std::string_view message);

  Stage stage_ = Stage::kValidation;
  weir::publish::Publisher* publisher_ = nullptr;
  StageWorkerOptions options_;
  std::unique_ptr<VectorIndex> index_;
  std::unique_ptr<weir::consume::GroupRuntime> runtime_;
  mutable std::mutex mu_;
  StageWorkerStats stats_;  // guarded by mu_
};

}  // namespace deeplens
