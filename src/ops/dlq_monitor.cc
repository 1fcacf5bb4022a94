#include "weir/ops/dlq_monitor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "common/wall_clock.h"
#include "weir/consume/dead_letter.h"
#include "weir/consume/runtime.h"
#include "weir/observe/metrics.h"

namespace weir::ops {

struct DlqMonitor::Impl {
  std::unique_ptr<consume::GroupRuntime> runtime;
  observe::Registry* metrics = nullptr;
  int collector = 0;
  mutable std::mutex mu;
  DlqStats stats;
  int64_t unreadable = 0;

  int64_t Oldest() const {
    std::lock_guard<std::mutex> lock(mu);
    return stats.oldest_ms;
  }

  consume::HandlerResult Handle(const consume::Message& m) {
    const Record& r = m.record();
    auto dl = consume::ParseDeadLetter(r);
    if (!dl.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu);
        ++unreadable;
      }
      if (metrics != nullptr) {
        metrics
            ->GetCounter("dlq_unreadable_records_total",
                         "Records of a DLQ topic that are not dead letters")
            .Inc();
      }
      spdlog::warn("dlq monitor: {}", dl.status().message());
      return consume::HandlerResult::Ok();
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      stats.Add(*dl, r.timestamp().ms);
    }
    const std::string error_type(ErrorClassName(dl->error_type));
    if (metrics != nullptr) {
      metrics
          ->GetCounter("dlq_messages_total", "Dead letters read from the DLQ",
                       {{"error_type", error_type}, {"original_topic", dl->original_topic}})
          .Inc();
    }
    // One structured line per dead letter.
    nlohmann::json line = {
        {"event", "dead_letter"},
        {"dlq_topic", std::string(r.topic())},
        {"dlq_partition", r.partition().value()},
        {"dlq_offset", r.offset().value()},
        {"dlq_id", dl->dlq_id},
        {"error_type", error_type},
        {"original_topic", dl->original_topic},
        {"original_partition", dl->original_partition.value()},
        {"original_offset", dl->original_offset.value()},
        {"consumer_group", dl->consumer_group},
        {"retry_count", dl->retry_count},
        {"replay_count", dl->replay_count},
        {"error_message", dl->error_message},
    };
    if (dl->key) line["key"] = consume::TextOrBase64(*dl->key);
    spdlog::info("{}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return consume::HandlerResult::Ok();
  }
};

DlqMonitor::DlqMonitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DlqMonitor::~DlqMonitor() {
  Stop();
  if (impl_->metrics != nullptr) impl_->metrics->RemoveCollector(impl_->collector);
}

Result<std::unique_ptr<DlqMonitor>> DlqMonitor::Create(const Topology& topology,
                                                       std::string_view group,
                                                       kafka::ClientConfig config,
                                                       observe::Registry* metrics) {
  consume::RuntimeOptions options;
  options.metrics = metrics;
  options.decode = false;  // dead letters carry other topics' events
  auto rt = consume::GroupRuntime::Create(topology, group, std::move(config), options);
  if (!rt.ok()) return rt.status();
  auto impl = std::make_unique<Impl>();
  impl->runtime = std::move(*rt);
  impl->metrics = metrics;
  Impl* raw = impl.get();
  for (const std::string& topic : impl->runtime->spec().topics) {
    Status s =
        impl->runtime->OnTopic(topic, [raw](const consume::Message& m) { return raw->Handle(m); });
    if (!s.ok()) return s;
  }
  if (metrics != nullptr) {
    impl->collector = metrics->AddCollector([raw](observe::Scrape& scrape) {
      const int64_t oldest = raw->Oldest();
      const int64_t now = WallClockMs();
      scrape.Gauge("dlq_oldest_message_age_seconds",
                   "Age of the oldest dead letter read (0 when none)", {},
                   oldest < 0 ? 0.0 : std::max<int64_t>(0, now - oldest) / 1000.0);
    });
  }
  return std::unique_ptr<DlqMonitor>(new DlqMonitor(std::move(impl)));
}

Status DlqMonitor::Start() { return impl_->runtime->Start(); }

Status DlqMonitor::Stop(std::chrono::milliseconds deadline) {
  return impl_->runtime->Stop(deadline);
}

DlqStats DlqMonitor::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

int64_t DlqMonitor::unreadable() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->unreadable;
}

}  // namespace weir::ops
