#include "operator_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/uuid.h"
#include "fleetops_events.h"
#include "weir/publish/publisher.h"

namespace fleetops {

using weir::ErrorClass;
using weir::Status;
using weir::consume::HandlerResult;

std::string OperatorActionJson(const OperatorActionRequest& r) {
  std::string action_id = r.action_id;
  if (action_id.empty()) action_id = weir::NewUuidV4();
  nlohmann::ordered_json j = {
      {"action_id", action_id},
      {"alert_id", r.alert_id},
      {"vehicle_id", r.vehicle_id},
      {"operator_id", r.operator_id},
      {"action_type", std::string(ActionTypeName(r.type))},
      {"processing_time", NowIso8601()},
  };
  if (!r.comment.empty()) j["metadata"] = {{"comment", r.comment}};
  return j.dump();
}

weir::Result<std::unique_ptr<OperatorService>> OperatorService::Create(
    const weir::Topology& topology, weir::kafka::ClientConfig config,
    weir::publish::Publisher* publisher, OperatorServiceOptions options) {
  for (const std::string& g : {options.alerts_group, options.actions_group}) {
    if (topology.FindGroup(g) == nullptr) {
      return Status::NotFound(
          fmt::format("{}: no consumer group {} (the operator service's)", topology.path, g));
    }
  }
  if (publisher == nullptr || !publisher->HasEventType(kOperatorAlert)) {
    return Status::InvalidArgument(
        fmt::format("{}: the operator service publishes {}, which is not declared", topology.path,
                    kOperatorAlert));
  }
  if (options.db_path.empty()) {
    return Status::InvalidArgument("the operator service needs the path of its alert store");
  }
  std::unique_ptr<OperatorService> s(new OperatorService());
  s->publisher_ = publisher;
  s->options_ = std::move(options);
  WEIR_ASSIGN_OR_RETURN(s->store_, AlertStore::Open(s->options_.db_path));
  WEIR_ASSIGN_OR_RETURN(
      s->alerts_, weir::consume::GroupRuntime::Create(topology, s->options_.alerts_group, config,
                                                      s->options_.runtime));
  WEIR_ASSIGN_OR_RETURN(
      s->actions_, weir::consume::GroupRuntime::Create(topology, s->options_.actions_group, config,
                                                       s->options_.runtime));
  OperatorService* self = s.get();
  WEIR_RETURN_IF_ERROR(s->alerts_->OnEventType(
      kAnomalyEvent, [self](const weir::consume::Message& m) { return self->HandleAnomaly(m); }));
  WEIR_RETURN_IF_ERROR(s->actions_->OnEventType(
      kOperatorAction, [self](const weir::consume::Message& m) { return self->HandleAction(m); }));
  return s;
}

OperatorService::~OperatorService() {
  if (actions_) (void)actions_->Stop(std::chrono::seconds(5));
  if (alerts_) (void)alerts_->Stop(std::chrono::seconds(5));
}

Status OperatorService::Start() {
  WEIR_RETURN_IF_ERROR(PublishPending());
  WEIR_RETURN_IF_ERROR(alerts_->Start());
  return actions_->Start();
}

Status OperatorService::Stop(std::chrono::milliseconds deadline) {
  Status a = actions_->Stop(deadline);
  Status b = alerts_->Stop(deadline);
  return a.ok() ? b : a;
}

Status OperatorService::Error() const {
  Status a = alerts_->error();
  return a.ok() ? actions_->error() : a;
}

OperatorServiceStats OperatorService::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

Status OperatorService::PublishPending() {
  std::lock_guard<std::mutex> publishing(publish_mu_);
  WEIR_ASSIGN_OR_RETURN(std::vector<PendingAlertEvent> pending, store_->Pending());
  for (const PendingAlertEvent& e : pending) {
    const weir::publish::PublishResult r = publisher_->Publish(kOperatorAlert, e.json);
    if (!r.accepted()) {
      return r.status.WithContext(
          fmt::format("publishing event {} of alert {} to operator_alerts", e.seq, e.alert_id));
    }
    WEIR_RETURN_IF_ERROR(store_->MarkPublished(e.seq));
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.events_published;
    }
    if (options_.on_alert_event) options_.on_alert_event(nlohmann::json::parse(e.json));
  }
  return Status::Ok();
}

HandlerResult OperatorService::HandleAnomaly(const weir::consume::Message& m) {
  const nlohmann::json anomaly = nlohmann::json::parse(m.json(), nullptr, false);
  auto opened = store_->OpenAlert(anomaly);
  if (!opened.ok()) {
    if (opened.status().code() == weir::StatusCode::kInvalidArgument) {
      return HandlerResult::Fail(ErrorClass::kSchemaValidation, opened.status().message());
    }
    return HandlerResult::Retry(opened.status().ToString());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (*opened) {
      ++stats_.alerts_opened;
    } else {
      ++stats_.anomalies_seen_again;
    }
  }
  // Also when the alert existed: an earlier attempt may have stopped
  // between its transaction and the publishing.
  if (Status s = PublishPending(); !s.ok()) return HandlerResult::Retry(s.ToString());
  return HandlerResult::Ok();
}

HandlerResult OperatorService::HandleAction(const weir::consume::Message& m) {
  const nlohmann::json action = nlohmann::json::parse(m.json(), nullptr, false);
  auto outcome = store_->ApplyAction(action);
  if (!outcome.ok()) {
    if (outcome.status().code() == weir::StatusCode::kInvalidArgument) {
      return HandlerResult::Fail(ErrorClass::kSchemaValidation, outcome.status().message());
    }
    return HandlerResult::Retry(outcome.status().ToString());
  }
  const ActionRecord& r = outcome->record;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (outcome->repeated) {
      ++stats_.actions_repeated;
    } else if (r.applied) {
      ++stats_.actions_applied;
    } else {
      ++stats_.actions_refused;
    }
  }
  if (!r.applied && !outcome->repeated) {
    spdlog::warn("operator action {} ({} of alert {} by {}) refused: {}", r.action_id,
                 r.action_type, r.alert_id, r.operator_id, r.reason);
    if (options_.on_refused) options_.on_refused(r);
  }
  if (Status s = PublishPending(); !s.ok()) return HandlerResult::Retry(s.ToString());
  return HandlerResult::Ok();
}

}  // namespace fleetops
