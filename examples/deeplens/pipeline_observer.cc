#include "pipeline_observer.h"

#include <fmt/format.h>

#include "deeplens_events.h"
#include "weir/consume/dead_letter.h"

namespace deeplens {

using nlohmann::json;
using weir::ErrorClass;
using weir::Status;
using weir::consume::HandlerResult;

namespace {

constexpr const char* kSearchGroup = "search-service";
constexpr const char* kErrorGroup = "error-handler-service";
constexpr const char* kBillingGroup = "billing-service";

}  // namespace

weir::Result<std::unique_ptr<PipelineObserver>> PipelineObserver::Create(
    const weir::Topology& topology, const weir::kafka::ClientConfig& config,
    PipelineObserverOptions options) {
  std::unique_ptr<PipelineObserver> o(new PipelineObserver());
  o->options_ = std::move(options);
  PipelineObserver* self = o.get();
  WEIR_ASSIGN_OR_RETURN(o->search_, weir::consume::GroupRuntime::Create(
                                        topology, kSearchGroup, config, o->options_.runtime));
  WEIR_RETURN_IF_ERROR(o->search_->OnEventType(
      kImageIndexedEvent, [self](const weir::consume::Message& m) { return self->OnIndexed(m); }));
  // images.failed holds ImageFailedEvents and dead letters (other topics'
  // events with provenance headers): read raw, told apart by the headers.
  weir::consume::RuntimeOptions raw = o->options_.runtime;
  raw.decode = false;
  WEIR_ASSIGN_OR_RETURN(o->errors_,
                        weir::consume::GroupRuntime::Create(topology, kErrorGroup, config, raw));
  WEIR_RETURN_IF_ERROR(o->errors_->OnTopic(
      kImagesFailed, [self](const weir::consume::Message& m) { return self->OnFailed(m); }));
  WEIR_ASSIGN_OR_RETURN(o->billing_, weir::consume::GroupRuntime::Create(
                                         topology, kBillingGroup, config, o->options_.runtime));
  WEIR_RETURN_IF_ERROR(o->billing_->OnEventType(
      kTenantUsageEvent, [self](const weir::consume::Message& m) { return self->OnUsage(m); }));
  return o;
}

PipelineObserver::~PipelineObserver() { (void)Stop(std::chrono::seconds(5)); }

Status PipelineObserver::Start() {
  WEIR_RETURN_IF_ERROR(search_->Start());
  WEIR_RETURN_IF_ERROR(errors_->Start());
  return billing_->Start();
}

Status PipelineObserver::Stop(std::chrono::milliseconds deadline) {
  Status first;
  for (auto* rt : {&search_, &errors_, &billing_}) {
    if (!*rt) continue;
    Status s = (*rt)->Stop(deadline);
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

HandlerResult PipelineObserver::OnIndexed(const weir::consume::Message& m) {
  json event = json::parse(m.json(), nullptr, false);
  if (!event.is_object()) return HandlerResult::Fail(ErrorClass::kSchemaValidation, "not JSON");
  const std::string id = event.value("image_id", "");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!indexed_.emplace(id, event).second) return HandlerResult::Ok();  // a redelivery
    ++changes_;
  }
  changed_.notify_all();
  if (options_.on_indexed) options_.on_indexed(event);
  return HandlerResult::Ok();
}

HandlerResult PipelineObserver::OnFailed(const weir::consume::Message& m) {
  const weir::Record& r = m.record();
  FailedImage f;
  std::string problem;
  if (r.FindHeader(weir::consume::kDlqIdHeader) != nullptr) {
    auto dl = weir::consume::ParseDeadLetter(r);
    if (dl.ok()) {
      f.dead_letter = true;
      f.image_id = std::string(dl->key.value_or(""));
      const json original = json::parse(dl->value.value_or(""), nullptr, false);
      if (original.is_object()) f.tenant_id = original.value("tenant_id", "");
      f.stage = "dead-letter";
      f.reason_code = std::string(weir::ErrorClassName(dl->error_type));
      f.reason = fmt::format("{} gave up on {} [{}] offset {}: {}", dl->consumer_group,
                             dl->original_topic, dl->original_partition.value(),
                             dl->original_offset.value(), dl->error_message);
    } else {
      problem = dl.status().message();
    }
  } else {
    const json event = json::parse(r.value().value_or(""), nullptr, false);
    if (event.is_object() && event.contains("image_id") && event.contains("reason")) {
      f.image_id = event.value("image_id", "");
      f.tenant_id = event.value("image_event", json::object()).value("tenant_id", "");
      f.stage = event.value("stage", "");
      f.reason_code = event.value("reason_code", "");
      f.reason = event.value("reason", "");
    } else {
      problem = fmt::format("{} [{}] offset {}: neither an ImageFailedEvent nor a dead letter",
                            r.topic(), r.partition().value(), r.offset().value());
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!problem.empty()) {
      unreadable_.push_back(problem);
      return HandlerResult::Ok();  // counted, and visible in Unreadable()
    }
    if (!failed_.emplace(f.image_id, f).second) return HandlerResult::Ok();
    ++changes_;
  }
  changed_.notify_all();
  if (options_.on_failed) options_.on_failed(f);
  return HandlerResult::Ok();
}

HandlerResult PipelineObserver::OnUsage(const weir::consume::Message& m) {
  const json u = json::parse(m.json(), nullptr, false);
  if (!u.is_object()) return HandlerResult::Fail(ErrorClass::kSchemaValidation, "not JSON");
  const std::string type = u.value("usage_type", "");
  const int64_t quantity = u.value("quantity", int64_t{0});
  std::unique_lock<std::mutex> lock(mu_);
  // Usage without an id (another producer) is counted as it comes.
  const std::string usage_id = u.value("usage_id", "");
  if (!usage_id.empty() && !usage_ids_.insert(usage_id).second) return HandlerResult::Ok();
  ++changes_;
  TenantUsage& t = usage_[u.value("tenant_id", "")];
  if (type == kUsageUploaded) {
    t.uploads += quantity;
  } else if (type == kUsageStorageBytes) {
    t.storage_bytes += quantity;
  } else if (type == kUsageProcessed) {
    t.processed += quantity;
  } else if (type == kUsageIndexed) {
    t.indexed += quantity;
  } else if (type == kUsageFailed) {
    t.failed += quantity;
  }
  lock.unlock();
  changed_.notify_all();
  return HandlerResult::Ok();
}

bool PipelineObserver::WaitForOutcomes(const std::set<std::string>& ids,
                                       std::chrono::milliseconds timeout,
                                       const std::atomic<bool>* stop) {
  return WaitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu_);
        for (const std::string& id : ids) {
          if (indexed_.count(id) == 0 && failed_.count(id) == 0) return false;
        }
        return true;
      },
      timeout, stop);
}

bool PipelineObserver::WaitUntil(const std::function<bool()>& pred,
                                 std::chrono::milliseconds timeout, const std::atomic<bool>* stop) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen = changes_;
    }
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline || (stop != nullptr && stop->load())) {
      return false;
    }
    // Woken by the next change after |seen|; the bound notices |stop|.
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait_for(lock, std::chrono::milliseconds(100), [&] { return changes_ != seen; });
  }
}

std::map<std::string, json> PipelineObserver::Indexed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return indexed_;
}

std::map<std::string, FailedImage> PipelineObserver::Failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

std::map<std::string, TenantUsage> PipelineObserver::Usage() const {
  std::lock_guard<std::mutex> lock(mu_);
  return usage_;
}

std::vector<std::string> PipelineObserver::Unreadable() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unreadable_;
}

}  // namespace deeplens
