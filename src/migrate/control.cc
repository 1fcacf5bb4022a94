#include "weir/migrate/control.h"

#include <fmt/format.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/wall_clock.h"
#include "weir/kafka/admin.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"

namespace weir::migrate {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

const std::string kState(kStateTopic);
const std::string kAcks(kAcksTopic);

bool MissingTopic(const Status& s) {
  return s.kafka_error().find("UNKNOWN_TOPIC") != std::string::npos ||
         s.kafka_error().find("UNKNOWN_PARTITION") != std::string::npos ||
         s.message().find("Unknown topic") != std::string::npos;
}

// Reads partition 0 of |topic| from |from| up to the high watermark sampled
// first, calling |fn| for each record. |*missing| is set when the topic does
// not exist (nothing is read then).
Status ReadToEnd(kafka::Consumer& consumer, const std::string& topic, Offset from,
                 milliseconds timeout, const std::function<void(const Record&)>& fn, bool* missing,
                 Offset* next = nullptr) {
  const auto deadline = SteadyClock::now() + timeout;
  const TopicPartition tp{topic, Partition(0)};
  auto marks = consumer.QueryWatermarks(tp, timeout);
  if (!marks.ok()) {
    if (MissingTopic(marks.status())) {
      *missing = true;
      return Status::Ok();
    }
    return marks.status().WithContext(fmt::format("reading {}", topic));
  }
  *missing = false;
  int64_t pos = from == kOffsetBeginning ? marks->low.value() : from.value();
  pos = std::max(pos, marks->low.value());
  const int64_t high = marks->high.value();
  if (pos < high) {
    WEIR_RETURN_IF_ERROR(
        consumer.Assign({TopicPartitionOffset{topic, Partition(0), Offset(pos), {}}}));
    while (pos < high) {
      if (SteadyClock::now() >= deadline) {
        return Status::Timeout(fmt::format("reading {}: at offset {} of {} after {} ms", topic, pos,
                                           high, timeout.count()));
      }
      auto polled = consumer.Poll(milliseconds(100));
      if (!polled.ok()) return polled.status().WithContext(fmt::format("reading {}", topic));
      for (const Record& r : *polled) {
        if (r.offset().value() < pos) continue;
        fn(r);
        pos = r.offset().value() + 1;
      }
    }
  }
  if (next != nullptr) *next = Offset(pos);
  return Status::Ok();
}

// Folds one state record into |states|: version 1 of an unknown name, or
// the next version of a known one; anything else lost a race and is ignored.
// Returns true when it applied.
bool Fold(States* states, const Record& r, std::map<std::string, int64_t>* applied_at) {
  if (!r.value()) return false;
  auto parsed = StateFromJson(*r.value());
  if (!parsed.ok()) {
    spdlog::warn("{} partition 0 offset {}: ignored: {}", kState, r.offset().value(),
                 parsed.status().ToString());
    return false;
  }
  auto it = states->find(parsed->name);
  const int64_t current = it == states->end() ? 0 : it->second.version;
  if (parsed->version != current + 1) return false;
  if (applied_at != nullptr) (*applied_at)[parsed->name] = r.offset().value();
  std::string name = parsed->name;
  (*states)[name] = std::move(*parsed);
  return true;
}

std::string AckToJson(const Ack& a) {
  return json{{"id", a.id},
              {"role", a.role},
              {"group", a.group},
              {"applied", a.applied},
              {"spool_records", a.spool_records},
              {"heartbeat_ms", a.heartbeat_ms},
              {"at_ms", a.at_ms},
              {"left", a.left},
              {"error", a.error}}
      .dump();
}

bool AckFromJson(std::string_view text, Ack* a) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  try {
    a->id = j.value("id", "");
    a->role = j.value("role", "");
    a->group = j.value("group", "");
    a->applied = j.value("applied", std::map<std::string, int64_t>{});
    a->spool_records = j.value("spool_records", int64_t{0});
    a->heartbeat_ms = j.value("heartbeat_ms", int64_t{0});
    a->at_ms = j.value("at_ms", int64_t{0});
    a->left = j.value("left", false);
    a->error = j.value("error", "");
  } catch (const json::exception&) {
    return false;
  }
  return !a->id.empty();
}

// The watcher's clients are made from the participant's configuration (a
// Publisher's producer settings, a group's consumer settings), without the
// other role's properties, which librdkafka would warn about.
Result<std::unique_ptr<kafka::Consumer>> ReaderConsumer(kafka::ClientConfig config) {
  config = config.ForConsumer();
  config.Set("enable.auto.commit", "false");
  config.Set("enable.partition.eof", "false");
  return kafka::Consumer::Create(std::move(config), kafka::ConsumerOptions{});
}

Status Produce(kafka::Producer& producer, const std::string& topic, const std::string& key,
               const std::string& value, milliseconds timeout, Offset* offset) {
  kafka::ProduceRequest req;
  req.topic = topic;
  req.partition = Partition(0);
  req.key = key;
  req.value = value;
  std::future<kafka::DeliveryReport> f = producer.Send(req);
  if (f.wait_for(timeout) != std::future_status::ready) {
    return Status::Timeout(
        fmt::format("writing to {}: no acknowledgement after {} ms", topic, timeout.count()));
  }
  kafka::DeliveryReport report = f.get();
  if (!report.status.ok()) return report.status.WithContext(fmt::format("writing to {}", topic));
  if (offset != nullptr) *offset = report.offset;
  return Status::Ok();
}

}  // namespace

std::string ProcessIdentity() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "?");
  std::string user = "?";
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_name != nullptr) {
    user = pw->pw_name;
  } else if (const char* env = std::getenv("USER"); env != nullptr) {
    user = env;
  }
  return fmt::format("{}@{} pid {}", user, host, getpid());
}

// --- ControlLog ----------------------------------------------------------------

struct ControlLog::Impl {
  kafka::ClientConfig config;
  std::unique_ptr<kafka::Consumer> consumer;
  std::unique_ptr<kafka::Producer> producer;
};

ControlLog::ControlLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlLog::~ControlLog() {
  if (impl_ && impl_->producer) (void)impl_->producer->Close(std::chrono::seconds(5));
}

Result<std::unique_ptr<ControlLog>> ControlLog::Open(kafka::ClientConfig config, bool create_topics,
                                                     milliseconds timeout) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  if (create_topics) {
    WEIR_ASSIGN_OR_RETURN(auto admin, kafka::Admin::Create(config));
    WEIR_ASSIGN_OR_RETURN(auto meta, admin->Metadata(timeout, /*include_internal=*/true));
    std::vector<kafka::NewTopic> missing;
    if (meta.FindTopic(kState) == nullptr) {
      missing.push_back({kState, 1, -1, {{"retention.ms", "-1"}, {"cleanup.policy", "delete"}}});
    }
    if (meta.FindTopic(kAcks) == nullptr) {
      missing.push_back({kAcks, 1, -1, {{"retention.ms", "86400000"}}});
    }
    if (!missing.empty()) {
      WEIR_ASSIGN_OR_RETURN(auto results, admin->CreateTopics(missing, timeout));
      for (const kafka::ItemResult& r : results) {
        if (!r.status.ok() && r.status.kafka_error() != "TOPIC_ALREADY_EXISTS") {
          return r.status.WithContext(fmt::format("creating {}", r.name));
        }
      }
    }
  }
  // Short-lived reads of small topics: do not let the broker hold a fetch.
  kafka::ClientConfig reader = config;
  reader.Set("fetch.wait.max.ms", "10");
  WEIR_ASSIGN_OR_RETURN(impl->consumer, ReaderConsumer(std::move(reader)));
  kafka::ProducerOptions po;
  config = config.ForProducer();
  config.SetDefault("linger.ms", "0");
  WEIR_ASSIGN_OR_RETURN(impl->producer, kafka::Producer::Create(std::move(config), po));
  return std::unique_ptr<ControlLog>(new ControlLog(std::move(impl)));
}

Result<States> ControlLog::Read(milliseconds timeout) {
  States states;
  bool missing = false;
  WEIR_RETURN_IF_ERROR(ReadToEnd(
      *impl_->consumer, kState, kOffsetBeginning, timeout,
      [&](const Record& r) { Fold(&states, r, nullptr); }, &missing));
  return states;
}

Status ControlLog::Write(const State& next, milliseconds timeout) {
  Offset mine = kOffsetInvalid;
  WEIR_RETURN_IF_ERROR(
      Produce(*impl_->producer, kState, next.name, StateToJson(next), timeout, &mine));
  // Read back up to and past the record: the first of its version wins.
  States states;
  std::map<std::string, int64_t> applied_at;
  bool missing = false;
  WEIR_RETURN_IF_ERROR(ReadToEnd(
      *impl_->consumer, kState, kOffsetBeginning, timeout,
      [&](const Record& r) {
        if (r.offset().value() <= mine.value()) Fold(&states, r, &applied_at);
      },
      &missing));
  auto it = states.find(next.name);
  if (it != states.end() && it->second.version == next.version &&
      applied_at[next.name] == mine.value()) {
    return Status::Ok();
  }
  if (it == states.end()) {
    return Status::Internal(
        fmt::format("migration {}: the record written at {} offset {} was not read back", next.name,
                    kState, mine.value()));
  }
  return Status::Cancelled(fmt::format(
      "migration {} was changed by {} (version {}, stage {}) before this command could record "
      "version {}; run `weir migrate status {}`",
      next.name, it->second.updated_by, it->second.version, StageName(it->second.stage),
      next.version, next.name));
}

Result<std::vector<Ack>> ControlLog::ReadAcks(int64_t since_ms, milliseconds timeout) {
  Offset from = kOffsetBeginning;
  auto start = impl_->consumer->OffsetsForTimes(
      {TopicPartitionOffset{kAcks, Partition(0), Offset(since_ms), {}}}, timeout);
  if (start.ok() && !start->empty() && start->front().offset.value() >= 0) {
    from = start->front().offset;
  }
  std::map<std::string, Ack> latest;
  bool missing = false;
  WEIR_RETURN_IF_ERROR(ReadToEnd(
      *impl_->consumer, kAcks, from, timeout,
      [&](const Record& r) {
        Ack a;
        if (!r.value() || !AckFromJson(*r.value(), &a) || a.at_ms < since_ms) return;
        latest[a.id] = std::move(a);
      },
      &missing));
  std::vector<Ack> out;
  for (auto& [id, a] : latest) out.push_back(std::move(a));
  return out;
}

// --- Watcher ---------------------------------------------------------------------

struct Watcher::Impl {
  kafka::ClientConfig config;
  WatcherOptions options;
  Apply apply;
  std::string id;
  std::unique_ptr<kafka::Consumer> consumer;
  std::mutex ack_mu;                          // producer creation and acks
  std::unique_ptr<kafka::Producer> producer;  // acks; created once the topic exists

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  States states;                       // GUARDED_BY(mu)
  std::string last_error;              // of the last apply
  std::atomic<bool> following{false};  // the state topic exists and is assigned
  Offset next = Offset(0);
  std::thread thread;
  // Heartbeats come from their own thread, so that a participant whose
  // apply takes long (a Publisher waiting for records sent under the old
  // routes) stays visible, reporting the version it has fully applied.
  std::thread heartbeat_thread;

  // Reads what is new; applies it when something changed. Returns whether
  // the topic exists.
  bool CatchUp(milliseconds timeout, bool force_apply) {
    States copy;
    {
      std::lock_guard<std::mutex> lock(mu);
      copy = states;
    }
    bool changed = false;
    bool missing = false;
    Status s = ReadToEnd(
        *consumer, kState, next, timeout,
        [&](const Record& r) { changed = Fold(&copy, r, nullptr) || changed; }, &missing, &next);
    if (!s.ok()) {
      spdlog::warn("migration watcher {}: {}", id, s.ToString());
      if (force_apply) ApplyStates(copy);
      return following;
    }
    if (missing) {
      if (force_apply) ApplyStates(copy);
      return false;
    }
    if (!following) {
      // Tail from here on (ReadToEnd assigns only when there was something to read).
      Status a = consumer->Assign({TopicPartitionOffset{kState, Partition(0), next, {}}});
      if (!a.ok()) {
        spdlog::warn("migration watcher {}: {}", id, a.ToString());
        if (force_apply) ApplyStates(copy);
        return false;
      }
      following = true;
    }
    if (changed || force_apply) {
      ApplyStates(copy);
      SendAck(false);
    }
    return true;
  }

  void ApplyStates(const States& s) {
    Status st;
    try {
      st = apply(s);
    } catch (const std::exception& e) {
      st = Status::Internal(fmt::format("applying the migration state threw: {}", e.what()));
    }
    std::lock_guard<std::mutex> lock(mu);
    states = s;
    last_error = st.ok() ? "" : st.ToString();
    if (!st.ok()) spdlog::error("migration watcher {}: {}", id, last_error);
  }

  void SendAck(bool left) {
    if (!following) return;
    std::lock_guard<std::mutex> ack_lock(ack_mu);
    if (!producer) {
      kafka::ClientConfig pc = config.ForProducer();
      pc.SetDefault("linger.ms", "0");
      auto p = kafka::Producer::Create(std::move(pc), kafka::ProducerOptions{});
      if (!p.ok()) {
        spdlog::warn("migration watcher {}: {}", id, p.status().ToString());
        return;
      }
      producer = std::move(*p);
    }
    Ack a;
    a.id = id;
    a.role = options.role;
    a.group = options.group;
    a.heartbeat_ms = options.heartbeat.count();
    a.at_ms = WallClockMs();
    a.left = left;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [name, s] : states) a.applied[name] = s.version;
      a.error = last_error;
    }
    if (options.spool_records) a.spool_records = options.spool_records();
    const std::string value = AckToJson(a);
    kafka::ProduceRequest req;
    req.topic = kAcks;
    req.partition = Partition(0);
    req.key = id;
    req.value = value;
    if (left) {
      // Waited for, so that a step does not wait for a participant gone.
      Status s = Produce(*producer, kAcks, id, value, milliseconds(2000), nullptr);
      if (!s.ok()) spdlog::warn("migration watcher {}: {}", id, s.ToString());
      return;
    }
    Status s = producer->Send(req, [](const kafka::DeliveryReport&) {});
    if (!s.ok()) spdlog::debug("migration watcher {}: ack: {}", id, s.ToString());
  }

  void HeartbeatLoop() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_for(lock, options.heartbeat, [&] { return stop; });
        if (stop) break;
      }
      SendAck(false);
    }
  }

  void Loop() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        if (stop) break;
        if (!following) {
          cv.wait_for(lock, options.heartbeat, [&] { return stop; });
          if (stop) break;
        }
      }
      if (!following) {
        CatchUp(options.heartbeat, /*force_apply=*/false);
        continue;
      }
      auto polled = consumer->Poll(std::min(milliseconds(200), options.heartbeat));
      bool changed = false;
      if (polled.ok()) {
        States copy;
        {
          std::lock_guard<std::mutex> lock(mu);
          copy = states;
        }
        for (const Record& r : *polled) {
          if (r.offset().value() < next.value()) continue;
          changed = Fold(&copy, r, nullptr) || changed;
          next = Offset(r.offset().value() + 1);
        }
        if (changed) ApplyStates(copy);
      }
      if (changed) SendAck(false);
    }
  }
};

Watcher::Watcher(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Watcher::~Watcher() { Stop(); }

Result<std::unique_ptr<Watcher>> Watcher::Start(kafka::ClientConfig config, WatcherOptions options,
                                                Apply apply, milliseconds timeout) {
  auto impl = std::make_shared<Impl>();
  impl->config = config;
  impl->options = std::move(options);
  impl->apply = std::move(apply);
  std::random_device rd;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "?");
  impl->id = fmt::format("{}/{}/{}{}{:08x}", host, getpid(), impl->options.role,
                         impl->options.group.empty() ? "" : ":" + impl->options.group, rd());
  WEIR_ASSIGN_OR_RETURN(impl->consumer, ReaderConsumer(std::move(config)));
  impl->CatchUp(timeout, /*force_apply=*/true);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Loop(); });
  impl->heartbeat_thread = std::thread([raw] { raw->HeartbeatLoop(); });
  return std::unique_ptr<Watcher>(new Watcher(std::move(impl)));
}

void Watcher::Stop() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stop) return;
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  if (impl_->heartbeat_thread.joinable()) impl_->heartbeat_thread.join();
  impl_->SendAck(/*left=*/true);
  if (impl_->producer) (void)impl_->producer->Close(std::chrono::seconds(5));
  impl_->producer.reset();
  impl_->consumer.reset();
}

States Watcher::states() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->states;
}

const std::string& Watcher::id() const { return impl_->id; }

}  // namespace weir::migrate
