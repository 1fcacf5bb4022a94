// examples/deeplens/pipeline_observer.h — the consumers at the end of the
// DeepLens pipeline, as the seed lists them, collecting what became of
// each image:
//
//   search-service         images.indexed: images ready for search, with
//                          their duplicate decision
//   error-handler-service  images.failed: ImageFailedEvents (bad images)
//                          and dead letters (records a stage gave up on,
//                          with weir.dlq.* provenance; docs/dlq.md)
//   billing-service        tenant.usage: totals per tenant, each usage_id
//                          counted once
//
// `weir-deeplens run` and the tests use it to wait until every upload has
// its outcome and to check the outcomes; `serve --role observer` prints
// them. Offsets are committed like any group's, so a restarted observer
// continues where it stopped.
//
// Threads: every method may be called from any thread; the callbacks run on
// the runtimes' worker threads and must not block for long or throw.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "weir/consume/runtime.h"
#include "weir/kafka/client_config.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace deeplens {

struct FailedImage {
  std::string image_id;
  std::string tenant_id;
  std::string stage;        // "validation", ...; "dead-letter" for a dead letter
  std::string reason_code;  // ImageFailedEvent's; the error type for a dead letter
  std::string reason;
  bool dead_letter = false;
};

struct TenantUsage {
  int64_t uploads = 0;
  int64_t storage_bytes = 0;
  int64_t processed = 0;
  int64_t indexed = 0;
  int64_t failed = 0;
};

struct PipelineObserverOptions {
  weir::consume::RuntimeOptions runtime;
  std::function<void(const nlohmann::json& indexed)> on_indexed;
  std::function<void(const FailedImage& failed)> on_failed;
};

class PipelineObserver {
 public:
  static weir::Result<std::unique_ptr<PipelineObserver>> Create(
      const weir::Topology& topology, const weir::kafka::ClientConfig& config,
      PipelineObserverOptions options = {});
  ~PipelineObserver();

  weir::Status Start();
  // Stops the three groups; returns the first error.
  weir::Status Stop(std::chrono::milliseconds deadline = std::chrono::seconds(30));

  // Waits until every image of |image_ids| is indexed or failed, |timeout|
  // passes or |stop| turns true; returns true when all are.
  bool WaitForOutcomes(const std::set<std::string>& image_ids, std::chrono::milliseconds timeout,
                       const std::atomic<bool>* stop = nullptr);
  // Waits until |pred| holds (asked again after each new outcome or usage,
  // and at least every 100 ms), |timeout| passes or |stop| turns true.
  // |pred| may call the accessors below.
  bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                 const std::atomic<bool>* stop = nullptr);

  // ImageIndexedEvents by image_id (the first seen of each).
  std::map<std::string, nlohmann::json> Indexed() const;
  // Failures by image_id (the first seen of each).
  std::map<std::string, FailedImage> Failed() const;
  // Usage by tenant.
  std::map<std::string, TenantUsage> Usage() const;
  // Records of images.failed that were neither an ImageFailedEvent nor a
  // readable dead letter (each described).
  std::vector<std::string> Unreadable() const;

 private:
  PipelineObserver() = default;
  weir::consume::HandlerResult OnIndexed(const weir::consume::Message& m);
  weir::consume::HandlerResult OnFailed(const weir::consume::Message& m);
  weir::consume::HandlerResult OnUsage(const weir::consume::Message& m);

  PipelineObserverOptions options_;
  std::unique_ptr<weir::consume::GroupRuntime> search_;
  std::unique_ptr<weir::consume::GroupRuntime> errors_;
  std::unique_ptr<weir::consume::GroupRuntime> billing_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  uint64_t changes_ = 0;  // guarded by mu_; counts notifications of changed_
  std::map<std::string, nlohmann::json> indexed_;  // guarded by mu_
  std::map<std::string, FailedImage> failed_;      // guarded by mu_
  std::map<std::string, TenantUsage> usage_;       // guarded by mu_
  std::set<std::string> usage_ids_;                // guarded by mu_
  std::vector<std::string> unreadable_;            // guarded by mu_
};

}  // namespace deeplens
