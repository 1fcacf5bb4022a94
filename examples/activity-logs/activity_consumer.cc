#include "activity_consumer.h"

#include <fmt/format.h>

#include <charconv>

#include "common/wall_clock.h"
#include "weir/publish/publisher.h"

namespace activity_logs {

using weir::ErrorClass;
using weir::Status;
using weir::consume::HandlerResult;

weir::Result<FailureRule> ParseFailureRule(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(
        fmt::format("--inject-failure \"{}\": {} (expected ACTIVITY:transient[:TIMES] or "
                    "ACTIVITY:permanent)",
                    text, why));
  };
  const size_t c1 = text.find(':');
  if (c1 == std::string::npos || c1 == 0) return bad("no activity type before ':'");
  FailureRule rule;
  rule.activity_type = text.substr(0, c1);
  const size_t c2 = text.find(':', c1 + 1);
  const std::string kind = text.substr(c1 + 1, c2 == std::string::npos ? c2 : c2 - c1 - 1);
  if (kind == "transient") {
    rule.transient = true;
  } else if (kind == "permanent") {
    rule.transient = false;
  } else {
    return bad(fmt::format("unknown kind \"{}\"", kind));
  }
  if (c2 != std::string::npos) {
    if (!rule.transient) return bad("a permanent failure takes no TIMES");
    const std::string times = text.substr(c2 + 1);
    int n = 0;
    auto [end, ec] = std::from_chars(times.data(), times.data() + times.size(), n);
    if (ec != std::errc() || end != times.data() + times.size() || n < 1) {
      return bad(fmt::format("TIMES \"{}\" is not a positive number", times));
    }
    rule.times = n;
  }
  return rule;
}

std::string FailureRuleText(const FailureRule& rule) {
  if (!rule.transient) return rule.activity_type + ":permanent";
  if (rule.times < 0) return rule.activity_type + ":transient";
  return fmt::format("{}:transient:{}", rule.activity_type, rule.times);
}

weir::Result<std::unique_ptr<ActivityConsumer>> ActivityConsumer::Create(
    const weir::Topology& topology, weir::kafka::ClientConfig config, ActivityStore* store,
    weir::publish::Publisher* publisher, ActivityConsumerOptions options) {
  if (store == nullptr) return Status::InvalidArgument("the activity consumer needs a store");
  if (options.analytics && (publisher == nullptr || !publisher->HasEventType(kAnalyticsEvent))) {
    return Status::InvalidArgument(
        fmt::format("{}: analytics publishes {}, which is not declared (or there is no publisher)",
                    topology.path, kAnalyticsEvent));
  }
  std::unique_ptr<ActivityConsumer> c(new ActivityConsumer());
  c->store_ = store;
  c->publisher_ = publisher;
  c->options_ = std::move(options);
  WEIR_ASSIGN_OR_RETURN(
      c->runtime_, weir::consume::GroupRuntime::Create(topology, c->options_.group,
                                                       std::move(config), c->options_.runtime));
  ActivityConsumer* self = c.get();
  WEIR_RETURN_IF_ERROR(c->runtime_->OnEventType(
      kActivityEvent, [self](const weir::consume::Message& m) { return self->Handle(m); }));
  return c;
}

ActivityConsumer::~ActivityConsumer() {
  if (runtime_) (void)runtime_->Stop(std::chrono::seconds(5));
}

Status ActivityConsumer::Start() { return runtime_->Start(); }

Status ActivityConsumer::Stop(std::chrono::milliseconds deadline) {
  return runtime_->Stop(deadline);
}

HandlerResult ActivityConsumer::Handle(const weir::consume::Message& m) {
  const weir::Record& rec = m.record();
  const std::string where =
      fmt::format("{} [{}] offset {}", rec.topic(), rec.partition().value(), rec.offset().value());
  // The runtime has validated the event against its schema already.
  const nlohmann::json event = nlohmann::json::parse(m.json(), nullptr, false);
  if (!event.is_object()) {
    return HandlerResult::Fail(ErrorClass::kSchemaValidation, where + ": not a JSON object");
  }
  StoredActivity a;
  a.event_id = event.value("eventId", "");
  a.user_id = event.value("userId", "");
  a.activity_type = event.value("activityType", "");
  a.document = std::string(m.json());
  a.source_topic = std::string(rec.topic());
  a.source_partition = rec.partition().value();
  a.source_offset = rec.offset().value();

  for (const FailureRule& rule : options_.failures) {
    if (rule.activity_type != a.activity_type) continue;
    if (rule.times >= 0 && m.attempt() > rule.times) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.injected_failures;
    }
    const std::string context =
        fmt::format("injected by --inject-failure {} at {}", FailureRuleText(rule), where);
    if (rule.transient) {
      return HandlerResult::Retry(
          fmt::format("storing event {}: the store is unavailable (injected, attempt {})",
                      a.event_id, m.attempt()),
          context);
    }
    return HandlerResult::Reject(
        fmt::format("storing event {}: the store refused the document (injected)", a.event_id),
        context);
  }

  auto inserted = store_->Insert(a);
  if (!inserted.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.store_errors;
    }
    return HandlerResult::Fail(StoreErrorClass(inserted.status()), inserted.status().message(),
                               fmt::format("{} via {}", where, store_->Describe()));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (*inserted == InsertOutcome::kInserted) {
      ++stats_.stored;
    } else {
      ++stats_.already_stored;
    }
  }
  if (options_.analytics) {
    const std::string analytics =
        AnalyticsEvent(event, store_->Kind(),
                       weir::consume::FormatDlqTimestamp(weir::WallClockMs()))
            .dump();
    const weir::publish::PublishResult r = publisher_->Publish(kAnalyticsEvent, analytics);
    std::lock_guard<std::mutex> lock(mu_);
    if (!r.accepted()) {
      ++stats_.analytics_failures;
      // The event is stored; the retry stores nothing and publishes again.
      return HandlerResult::Retry(
          fmt::format("publishing the analytics event of {}: {}", a.event_id, r.status.ToString()),
          where);
    }
    ++stats_.analytics_published;
  }
  if (options_.on_stored) options_.on_stored(a, *inserted);
  return HandlerResult::Ok();
}

ActivityConsumerStats ActivityConsumer::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace activity_logs
