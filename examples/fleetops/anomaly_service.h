// examples/fleetops/anomaly_service.h — the FleetOps anomaly service:
// consumer group anomaly-service-group on raw_telemetry, the
// sudden-deceleration rule per vehicle, AnomalyEvents to anomalies.
//
// What weir.yaml gives the group, and this class therefore does not do
// itself: per-key ordering (one vehicle's frames one at a time, in order),
// consumer-side de-duplication by (vehicle_id, event_id) within 60 s, and
// the per-vehicle reorder buffer (window 10, tolerance 2, late frames
// dropped and counted). The handler keeps one VehicleHistory per vehicle
// and publishes an AnomalyEvent (validated against its schema, keyed by
// vehicle_id) before it reports the frame done, so a frame is committed
// only once its anomaly is delivered or spooled. A publish that fails is
// retried from the state the frame first saw; the anomaly_id is derived
// from the frame's event_id, so a frame handled twice yields the same
// anomaly.
//
// Lifetime: the Publisher must outlive the service. Threads: Start, Stop
// and the accessors may be called from any thread; on_anomaly runs on the
// runtime's worker threads.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "deceleration_rule.h"
#include "weir/consume/runtime.h"
#include "weir/kafka/client_config.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::publish {
class Publisher;
}

namespace fleetops {

inline constexpr const char* kAnomalyServiceGroup = "anomaly-service-group";

struct AnomalyServiceOptions {
  DecelerationThresholds thresholds;
  weir::consume::RuntimeOptions runtime;
  std::string group = kAnomalyServiceGroup;
  // Called with each anomaly once it is published. Must not block for long.
  std::function<void(const nlohmann::json& anomaly)> on_anomaly;
  // Called with each frame the rule has taken (vehicle, frame index), in
  // the order the rule took them. Must not block for long.
  std::function<void(const std::string& vehicle_id, int64_t frame_index)> on_frame;
};

struct AnomalyServiceStats {
  uint64_t frames = 0;        // frames the rule saw
  uint64_t stale_frames = 0;  // frames not past the vehicle's newest (ignored; should be 0)
  uint64_t anomalies = 0;     // published
  uint64_t publish_failures = 0;
  size_t vehicles = 0;
};

class AnomalyService {
 public:
  static weir::Result<std::unique_ptr<AnomalyService>> Create(const weir::Topology& topology,
                                                              weir::kafka::ClientConfig config,
                                                              weir::publish::Publisher* publisher,
                                                              AnomalyServiceOptions options = {});
  ~AnomalyService();

  weir::Status Start();
  // Stops the group (see GroupRuntime::Stop); idempotent.
  weir::Status Stop(std::chrono::milliseconds deadline = std::chrono::seconds(30));

  // The error that stopped the group (OK while it runs or after Stop()).
  weir::Status Error() const { return runtime_->error(); }

  AnomalyServiceStats Stats() const;
  weir::consume::GroupStats GroupStats() const;
  weir::consume::GroupRuntime& runtime() { return *runtime_; }
  // Every anomaly published by this service, in publishing order.
  std::vector<nlohmann::json> Anomalies() const;

 private:
  AnomalyService() = default;
  weir::consume::HandlerResult Handle(const weir::consume::Message& m);

  weir::publish::Publisher* publisher_ = nullptr;
  AnomalyServiceOptions options_;
  std::unique_ptr<weir::consume::GroupRuntime> runtime_;
  mutable std::mutex mu_;
  // One history per vehicle; an entry is only touched by the handler of its
  // vehicle, which the runtime never runs twice at once.
  std::unordered_map<std::string, std::unique_ptr<VehicleHistory>> histories_;  // guarded by mu_
  std::vector<nlohmann::json> anomalies_;                                       // guarded by mu_
  AnomalyServiceStats stats_;                                                   // guarded by mu_
};

}  // namespace fleetops
