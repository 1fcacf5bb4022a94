#include "anomaly_service.h"

#include <fmt/format.h>

#include <algorithm>

#include "fleetops_events.h"
#include "weir/publish/publisher.h"

namespace fleetops {

using weir::ErrorClass;
using weir::Status;
using weir::consume::HandlerResult;

weir::Result<std::unique_ptr<AnomalyService>> AnomalyService::Create(
    const weir::Topology& topology, weir::kafka::ClientConfig config,
    weir::publish::Publisher* publisher, AnomalyServiceOptions options) {
  const weir::ConsumerGroupSpec* group = topology.FindGroup(options.group);
  if (group == nullptr) {
    return Status::NotFound(fmt::format("{}: no consumer group {} (the anomaly service's)",
                                        topology.path, options.group));
  }
  if (publisher == nullptr || !publisher->HasEventType(kAnomalyEvent)) {
    return Status::InvalidArgument(
        fmt::format("{}: the anomaly service publishes {}, which is not declared", topology.path,
                    kAnomalyEvent));
  }
  std::unique_ptr<AnomalyService> s(new AnomalyService());
  s->publisher_ = publisher;
  s->options_ = std::move(options);
  WEIR_ASSIGN_OR_RETURN(
      s->runtime_, weir::consume::GroupRuntime::Create(topology, s->options_.group,
                                                       std::move(config), s->options_.runtime));
  AnomalyService* self = s.get();
  WEIR_RETURN_IF_ERROR(s->runtime_->OnEventType(
      kRawTelemetryEvent, [self](const weir::consume::Message& m) { return self->Handle(m); }));
  return s;
}

AnomalyService::~AnomalyService() {
  if (runtime_) (void)runtime_->Stop(std::chrono::seconds(5));
}

Status AnomalyService::Start() { return runtime_->Start(); }

Status AnomalyService::Stop(std::chrono::milliseconds deadline) { return runtime_->Stop(deadline); }

HandlerResult AnomalyService::Handle(const weir::consume::Message& m) {
  const nlohmann::json event = nlohmann::json::parse(m.json(), nullptr, false);
  auto frame = ParseTelemetryFrame(event);
  if (!frame.ok()) {
    return HandlerResult::Fail(ErrorClass::kSchemaValidation, frame.status().message());
  }
  const std::string vehicle_id = event.value("vehicle_id", "");
  VehicleHistory* history = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = histories_[vehicle_id];
    if (!slot) slot = std::make_unique<VehicleHistory>();
    history = slot.get();
  }
  // The frame is applied to a copy, kept only once its anomaly is out.
  VehicleHistory next = *history;
  bool stale = false;
  const std::optional<Detection> detection = next.Observe(*frame, options_.thresholds, &stale);
  if (detection) {
    const std::string json =
        AnomalyEventJson(vehicle_id, *detection, options_.thresholds, NowIso8601());
    const weir::publish::PublishResult r = publisher_->Publish(kAnomalyEvent, json);
    if (!r.accepted()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.publish_failures;
      return HandlerResult::Retry(fmt::format("publishing the anomaly of {} frame {}: {}",
                                              vehicle_id, frame->frame_index, r.status.ToString()));
    }
    nlohmann::json anomaly = nlohmann::json::parse(json);
    {
      std::lock_guard<std::mutex> lock(mu_);
      anomalies_.push_back(anomaly);
      ++stats_.anomalies;
    }
    if (options_.on_anomaly) options_.on_anomaly(anomaly);
  }
  *history = std::move(next);
  if (options_.on_frame) options_.on_frame(vehicle_id, frame->frame_index);
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.frames;
  if (stale) ++stats_.stale_frames;
  return HandlerResult::Ok();
}

AnomalyServiceStats AnomalyService::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  AnomalyServiceStats s = stats_;
  s.vehicles = histories_.size();
  return s;
}

weir::consume::GroupStats AnomalyService::GroupStats() const { return runtime_->Stats(); }

std::vector<nlohmann::json> AnomalyService::Anomalies() const {
  std::lock_guard<std::mutex> lock(mu_);
  return anomalies_;
}

}  // namespace fleetops
