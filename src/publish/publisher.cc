// Publisher: validate → route → key → encode → produce, with a spool that
// takes over when the cluster stays unreachable. The design (modes, the
// ordering argument, what happens on kill -9) is in docs/publisher.md.
#include "weir/publish/publisher.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/wall_clock.h"
#include "publish/event_codec.h"
#include "weir/kafka/producer.h"
#include "weir/migrate/control.h"
#include "weir/observe/metrics.h"
#include "weir/registry/registry.h"
#include "weir/schema/avro.h"

namespace weir::publish {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kEventTypeHeader = "weir-event-type";
constexpr size_t kForwardBatch = 2000;

// Delivery errors after which a record may still be delivered later: the
// cluster was unreachable, slow or between leaders. Those records go to the
// spool. Any other error (unknown topic, record too large, authorization)
// would fail again, so it is reported.
bool Spoolable(const Status& st) {
  static const std::unordered_set<std::string_view> kCodes = {
      "_PURGE_QUEUE",         "_PURGE_INFLIGHT",
      "_MSG_TIMED_OUT",       "_TIMED_OUT",
      "_TIMED_OUT_QUEUE",     "_TRANSPORT",
      "_ALL_BROKERS_DOWN",    "_RESOLVE",
      "_WAIT_COORD",          "REQUEST_TIMED_OUT",
      "NOT_ENOUGH_REPLICAS",  "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
      "LEADER_NOT_AVAILABLE", "NOT_LEADER_OR_FOLLOWER",
      "NETWORK_EXCEPTION",    "BROKER_NOT_AVAILABLE",
      "KAFKA_STORAGE_ERROR",  "COORDINATOR_LOAD_IN_PROGRESS"};
  return kCodes.count(st.kafka_error()) != 0;
}

void RunCallback(const PublishCallback& done, PublishResult result) {
  if (!done) return;
  try {
    done(std::move(result));
  } catch (const std::exception& e) {
    spdlog::error("publish callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("publish callback threw a non-standard exception");
  }
}

// Guards a few pointer updates done once per record by the publishing and the
// delivery threads: spinning costs less than a futex sleep and wake-up.
class SpinLock {
 public:
  void lock() {
    for (int spins = 0; flag_.test_and_set(std::memory_order_acquire); ++spins) {
      if (spins > 64) std::this_thread::yield();
    }
  }
  void unlock() { flag_.clear(std::memory_order_release); }

 private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

// One accepted event, until every copy has an outcome.
struct EventState {
  PublishResult result;
  PublishCallback done;
  std::atomic<int> remaining{0};
  std::string dedup_key;  // non-empty when recorded for de-duplication
};

// One record: a copy of an event for one topic, or a spooled record being
// forwarded. Owned by whoever holds it: the producer (as a token) or the
// spool writer's queue.
struct Pending {
  SpoolRecord rec;
  std::shared_ptr<EventState> event;  // null for forwarded records
  size_t slot = 0;                    // index in event->result.deliveries
  bool forwarded = false;             // read back from the spool
  Clock::time_point sent{};
  // Sent directly, then taken back: maybe older than records spooled since.
  bool late = false;
  // Set by the delivery thread once it is done with the record; the record
  // is then freed by a thread holding send_mu (see Impl::sent).
  std::atomic<bool> reported{false};
};

// Event ids seen within the TTL.
class DedupWindow {
 public:
  void set_ttl(std::chrono::milliseconds ttl) { ttl_ = ttl; }
  bool enabled() const { return ttl_.count() > 0; }
  // True when |key| was recorded within the TTL; otherwise records it.
  bool SeenOrRecord(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    const Clock::time_point now = Clock::now();
    while (!order_.empty() && order_.front().first <= now) {
      auto it = seen_.find(order_.front().second);
      if (it != seen_.end() && it->second <= now) seen_.erase(it);
      order_.pop_front();
    }
    auto [it, inserted] = seen_.try_emplace(key, now + ttl_);
    if (!inserted) return true;
    order_.emplace_back(now + ttl_, key);
    return false;
  }
  // Forgets |key| (its event failed, so a retry must not count as duplicate).
  void Forget(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.erase(key);
  }

 private:
  std::chrono::milliseconds ttl_{0};
  std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> seen_;
  std::deque<std::pair<Clock::time_point, std::string>> order_;
};

}  // namespace

// The compiled route of one event type.
struct Publisher::Route {
  EventCodec codec;
  // The type's topics as weir.yaml declares them.
  std::vector<std::string> declared;
  // Where copies go now: the declared topics as a migration routes them
  // (migrate::PublishTargets), then the mirror topic. Changed only under a
  // unique lock of Impl::route_mu, read under a shared one.
  std::vector<std::string> topics;
  std::vector<std::string> marks;   // per topic: the migration marking a dual copy, or ""
  std::vector<int32_t> schema_ids;  // per topic, for Avro
};

std::string_view PublishOutcomeName(PublishOutcome o) {
  switch (o) {
    case PublishOutcome::kDelivered:
      return "delivered";
    case PublishOutcome::kSpooled:
      return "spooled";
    case PublishOutcome::kDuplicate:
      return "duplicate";
    case PublishOutcome::kRefused:
      return "refused";
    case PublishOutcome::kFailed:
      return "failed";
  }
  return "?";
}

struct Publisher::Impl : kafka::DeliveryListener {
  std::map<std::string, Route, std::less<>> routes;
  // Held shared from an event's route lookup until its copies are handed
  // on; held unique to change the routes (a migration step).
  std::shared_mutex route_mu;
  SchemaIdResolver schema_ids;
  std::unique_ptr<registry::Registry> reg;  // opened by the default resolver
  std::unique_ptr<migrate::Watcher> watcher;
  int64_t migration_version_sum = 0;  // GUARDED_BY(route_mu)
  // Schema ids by (event type, topic), resolved once. Used by
  // ApplyMigrations only, which never runs on two threads at once.
  std::map<std::pair<std::string, std::string>, int32_t> schema_id_cache;
  // Metrics (docs/metrics.md); null when PublisherOptions::metrics is.
  observe::Registry* metrics = nullptr;
  std::map<std::string, observe::Counter*, std::less<>> published_ctr;  // by topic
  std::map<std::string, observe::Counter*, std::less<>> spooled_ctr;    // by topic
  int collector = 0;

  void CountPublished(std::string_view topic) {
    if (auto it = published_ctr.find(topic); it != published_ctr.end()) it->second->Inc();
  }
  void CountSpooled(std::string_view topic) {
    if (auto it = spooled_ctr.find(topic); it != spooled_ctr.end()) it->second->Inc();
  }
  // Errors are rare: the series is looked up each time.
  void CountError(std::string_view topic, std::string_view error_type) {
    if (metrics == nullptr) return;
    metrics
        ->GetCounter("multi_topic_publish_errors_total",
                     "Events (or copies of an event) refused or not delivered",
                     {{"topic", std::string(topic)}, {"error_type", std::string(error_type)}})
        .Inc();
  }

  std::chrono::milliseconds delivery_timeout{30000};
  std::unique_ptr<kafka::Producer> producer;
  std::unique_ptr<Spool> spool;  // null when the spool is off
  DedupWindow dedup;

  // Serializes sequence numbers with sends, so that librdkafka sees records
  // in sequence order.
  std::mutex send_mu;

  mutable std::mutex mu;
  std::condition_variable cv;  // any change of the fields below
  int64_t next_seq = 1;        // GUARDED_BY(send_mu)
  // The three flags change under mu (|spooling| also under send_mu when the
  // watchdog switches) and are read without it on the per-record path.
  std::atomic<bool> spooling{false};  // new records go to the spool
  // The cluster took the last forwarded round, so the spool is draining; new
  // records wait for it (backpressure) before they join it.
  std::atomic<bool> recovering{false};
  std::atomic<bool> closing{false};
  bool stop_threads = false;  // GUARDED_BY(mu): watchdog and forwarder
  bool stop_writer = false;   // GUARDED_BY(mu): set once the producer is closed
  int64_t stored = 0;         // GUARDED_BY(mu): records in the spool
  int64_t late_unstored = 0;  // GUARDED_BY(mu): late records not stored yet
  // The records handed to librdkafka, in the order they were sent. The
  // delivery thread only marks a record reported; whoever holds send_mu
  // frees the reported records at the front, so the per-record path shares
  // no lock with the delivery thread, and records are freed by the threads
  // that allocated them. The watchdog reads the front's age.
  std::deque<Pending*> sent;  // GUARDED_BY(send_mu)
  // Records in librdkafka without a report; read anywhere, and who brings
  // one to zero takes mu to notify.
  std::atomic<int64_t> outstanding{0};
  std::atomic<int64_t> outstanding_direct{0};  // of which not forwarded
  std::vector<Pending*> to_spool;              // GUARDED_BY(mu): the spool writer's queue
  int64_t spool_writing = 0;          // GUARDED_BY(mu): taken by the writer, not stored yet
  std::vector<int64_t> forwarded_ok;  // GUARDED_BY(mu): forwarded and delivered
  int64_t forward_failed = 0;         // GUARDED_BY(mu): in the current round
  bool purge_logged = false;          // GUARDED_BY(mu)

  std::atomic<uint64_t> n_accepted{0}, n_delivered{0}, n_spooled{0}, n_duplicates{0}, n_refused{0},
      n_failed{0}, n_forwarded{0};

  std::thread writer_thread, forwarder_thread, watchdog_thread;
  bool closed = false;

  // --- bookkeeping -----------------------------------------------------------

  // Hands |p| to the sent queue (send_mu held).
  void Link(Pending* p) {
    ReapSent();
    sent.push_back(p);
    ++outstanding;
    if (!p->forwarded) ++outstanding_direct;
  }

  // Takes back |p|, the last record linked, whose send failed (send_mu held).
  void Unlink(Pending* p) {
    if (!sent.empty() && sent.back() == p) sent.pop_back();
    Reported(p);
  }

  // Counts |p| as reported (any thread).
  void Reported(Pending* p) {
    if (!p->forwarded) --outstanding_direct;
    --outstanding;
  }

  // Frees the reported records at the front of the sent queue (send_mu held).
  void ReapSent() {
    while (!sent.empty() && sent.front()->reported.load(std::memory_order_acquire)) {
      delete sent.front();
      sent.pop_front();
    }
  }

  bool Idle() const { return outstanding == 0 && to_spool.empty() && spool_writing == 0; }

  // --- migrations (weir/migrate) ---------------------------------------------

  // Routes every event type as |states| say. Returns once every record sent
  // under the previous routes has its report, so that the acknowledgement
  // the watcher then writes means "nothing of mine is still on its way to a
  // topic I no longer write" — a migration step samples end offsets after it.
  Status ApplyMigrations(const migrate::States& states) {
    struct Next {
      std::vector<std::string> topics, marks;
      std::vector<int32_t> ids;
    };
    std::map<std::string, Next, std::less<>> next;
    for (const auto& [name, route] : routes) {
      Next n;
      for (const migrate::PublishTarget& t : migrate::PublishTargets(states, route.declared)) {
        n.topics.push_back(t.topic);
        n.marks.push_back(t.dual_mark);
      }
      const std::string& mirror = route.codec.spec().mirror_topic;
      if (!mirror.empty() &&
          std::find(n.topics.begin(), n.topics.end(), mirror) == n.topics.end()) {
        n.topics.push_back(mirror);
        n.marks.emplace_back();
      }
      if (route.codec.format() == EventFormat::kAvro) {
        for (const std::string& topic : n.topics) {
          auto cached = schema_id_cache.find({name, topic});
          if (cached != schema_id_cache.end()) {
            n.ids.push_back(cached->second);
            continue;
          }
          const std::string subject = registry::TopicValueSubject(topic);
          auto id = schema_ids(subject, route.codec.schema_text());
          if (!id.ok()) {
            return id.status().WithContext(fmt::format(
                "event type {}: cannot register its schema under subject {}", name, subject));
          }
          schema_id_cache[{name, topic}] = *id;
          n.ids.push_back(*id);
        }
      }
      next.emplace(name, std::move(n));
    }
    int64_t version_sum = 0;
    for (const auto& [name, st] : states) version_sum += st.version;
    int64_t swap_seq = 0;
    {
      std::unique_lock<std::shared_mutex> lock(route_mu);
      bool changed = false;
      for (auto& [name, route] : routes) {
        Next& n = next[name];
        changed = changed || route.topics != n.topics || route.marks != n.marks;
        route.topics = std::move(n.topics);
        route.marks = std::move(n.marks);
        route.schema_ids = std::move(n.ids);
      }
      if (changed && version_sum != migration_version_sum) {
        spdlog::info("publisher: routes changed by a topic migration");
      }
      migration_version_sum = version_sum;
      std::lock_guard<std::mutex> send_lock(send_mu);
      swap_seq = next_seq - 1;
    }
    // Wait for the records sent before the swap (they are at the front of
    // |sent|, in sequence order; spooled ones are counted in the ack).
    const auto deadline = Clock::now() + 2 * delivery_timeout + std::chrono::seconds(5);
    for (;;) {
      {
        std::lock_guard<std::mutex> send_lock(send_mu);
        ReapSent();
        if (sent.empty() || sent.front()->rec.seq > swap_seq) return Status::Ok();
      }
      if (Clock::now() >= deadline) {
        return Status::Timeout(
            "records sent under the previous routes still have no delivery report");
      }
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(5));
    }
  }

  // The forwarder may start a round: nothing is in librdkafka, so every
  // record not stored yet is newer than every stored one; and there is
  // something stored, or nothing left to store (time to go direct).
  //
  // Records spooled by publishers are newer than everything stored; records
  // taken back from librdkafka (late) may be older, so a round waits until
  // they are stored too.
  bool ForwardReady() const {
    return spooling && outstanding == 0 && late_unstored == 0 &&
           (stored > 0 || (to_spool.empty() && spool_writing == 0));
  }

  // --- outcomes -------------------------------------------------------------

  // Records the outcome of one copy; the last one completes the event.
  void CompleteSlot(const std::shared_ptr<EventState>& ev, size_t slot, TopicDelivery d) {
    ev->result.deliveries[slot] = std::move(d);
    if (ev->remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    PublishResult& r = ev->result;
    bool any_failed = false;
    bool any_spooled = false;
    for (const TopicDelivery& td : r.deliveries) {
      if (!td.status.ok()) {
        any_failed = true;
        if (r.status.ok()) r.status = td.status;
        CountError(td.topic, StatusCodeName(td.status.code()));
      } else if (td.spooled) {
        CountSpooled(td.topic);
      } else {
        CountPublished(td.topic);
      }
      any_spooled = any_spooled || td.spooled;
    }
    if (any_failed) {
      r.outcome = PublishOutcome::kFailed;
      n_failed.fetch_add(1, std::memory_order_relaxed);
      if (!ev->dedup_key.empty()) dedup.Forget(ev->dedup_key);
    } else if (any_spooled) {
      r.outcome = PublishOutcome::kSpooled;
      n_spooled.fetch_add(1, std::memory_order_relaxed);
    } else {
      r.outcome = PublishOutcome::kDelivered;
      n_delivered.fetch_add(1, std::memory_order_relaxed);
    }
    PublishCallback done = std::move(ev->done);
    RunCallback(done, std::move(r));
  }

  void OnDelivery(uint64_t token, const Status& status, std::string_view topic, Partition partition,
                  Offset offset, std::chrono::microseconds) override {
    auto* p = reinterpret_cast<Pending*>(static_cast<uintptr_t>(token));
    const bool spoolable = spool != nullptr && Spoolable(status);
    // Whatever happens, |p| is marked reported last, after which this thread
    // must not touch it: a publisher may free it at once.
    if (!p->forwarded && (status.ok() || !spoolable)) {
      TopicDelivery d;
      d.topic = std::string(topic);
      d.partition = partition;
      d.offset = offset;
      d.status = status;
      CompleteSlot(p->event, p->slot, std::move(d));
      Reported(p);
      p->reported.store(true, std::memory_order_release);
      if (outstanding.load() == 0 || spooling.load() || closing.load()) {
        std::lock_guard<std::mutex> lock(mu);
        cv.notify_all();
      }
      return;
    }
    if (!p->forwarded) {
      // From now on new records are spooled too, behind this one, so that no
      // later record of the same key overtakes it. The writer completes the
      // copy handed to it.
      auto* copy = new Pending{p->rec, p->event, p->slot, false, p->sent, /*late=*/true};
      std::lock_guard<std::mutex> lock(mu);
      if (!spooling) {
        spdlog::warn(
            "publisher: delivery to {} failed ({}); spooling to {} until the cluster takes "
            "records again",
            topic, status.kafka_error(), spool->dir());
      }
      spooling = true;
      ++late_unstored;
      to_spool.push_back(copy);
      Reported(p);
      p->reported.store(true, std::memory_order_release);
      cv.notify_all();
      return;
    }
    // A forwarded spool record.
    if (status.ok()) {
      n_forwarded.fetch_add(1, std::memory_order_relaxed);
    } else if (!spoolable) {
      std::string reason =
          fmt::format("forwarding to {} failed for good: {}", topic, status.ToString());
      spdlog::error("publisher: spooled record {} ({}): {}; kept as a dead record in {}",
                    p->rec.seq, p->rec.event_type, reason, spool->dir());
      if (Status st = spool->MarkDead(p->rec.seq, reason); !st.ok()) {
        spdlog::error("publisher: {}", st.ToString());
      } else {
        std::lock_guard<std::mutex> lock(mu);
        --stored;
      }
    }
    if (status.ok()) CountPublished(topic);
    std::lock_guard<std::mutex> lock(mu);
    if (status.ok()) {
      forwarded_ok.push_back(p->rec.seq);
    } else if (spoolable) {
      ++forward_failed;
    }
    Reported(p);
    p->reported.store(true, std::memory_order_release);
    cv.notify_all();
  }

  // --- threads --------------------------------------------------------------

  // Stores queued records in the spool, many per transaction.
  void WriterLoop() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return !to_spool.empty() || stop_writer; });
      if (to_spool.empty()) return;
      std::vector<Pending*> batch;
      batch.swap(to_spool);
      spool_writing += static_cast<int64_t>(batch.size());
      lock.unlock();
      std::vector<SpoolRecord> recs;
      recs.reserve(batch.size());
      for (Pending* p : batch) {
        recs.push_back(p->rec);
        if (recs.back().headers.empty()) {
          recs.back().headers.push_back(Header{std::string(kEventTypeHeader), p->rec.event_type});
        }
      }
      Status st = spool->Append(recs);
      if (!st.ok()) spdlog::error("publisher: {}", st.ToString());
      int64_t late = 0;
      for (Pending* p : batch) late += p->late ? 1 : 0;
      for (Pending* p : batch) {
        std::unique_ptr<Pending> owned(p);
        TopicDelivery d;
        d.topic = p->rec.topic;
        d.spooled = st.ok();
        d.status = st;
        CompleteSlot(p->event, p->slot, std::move(d));
      }
      lock.lock();
      spool_writing -= static_cast<int64_t>(batch.size());
      if (st.ok()) stored += static_cast<int64_t>(batch.size());
      late_unstored -= late;
      cv.notify_all();
    }
  }

  // Forwards the spool, oldest first, when nothing else is in flight.
  void ForwarderLoop() {
    std::chrono::milliseconds backoff{250};
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop_threads || ForwardReady(); });
      if (stop_threads) return;
      if (stored == 0) {
        // Everything is forwarded and nothing waits to be stored: go direct.
        spooling = false;
        recovering = false;
        spdlog::info("publisher: spool {} forwarded; publishing directly again", spool->dir());
        cv.notify_all();
        continue;
      }
      lock.unlock();
      auto batch = spool->ReadOldest(kForwardBatch);
      lock.lock();
      if (!batch.ok() || batch->empty()) {
        spdlog::error(
            "publisher: cannot read the spool {}: {}", spool->dir(),
            batch.ok() ? "no records although some are counted" : batch.status().ToString());
        cv.wait_for(lock, std::chrono::seconds(5), [&] { return stop_threads; });
        continue;
      }
      forwarded_ok.clear();
      forward_failed = 0;
      size_t handed = 0;
      for (SpoolRecord& rec : *batch) {
        if (stop_threads) break;
        auto* p = new Pending{std::move(rec), nullptr, 0, true, Clock::now()};
        lock.unlock();  // send_mu is taken before mu, never after
        Status st;
        {
          std::lock_guard<std::mutex> sending(send_mu);
          Link(p);
          st = SendRecord(p);
          if (!st.ok()) {
            Unlink(p);
            delete p;
          }
        }
        lock.lock();
        if (!st.ok()) {
          ++forward_failed;
          spdlog::warn("publisher: forwarding the spool: {}", st.ToString());
          break;
        }
        ++handed;
      }
      cv.wait(lock, [&] { return outstanding == 0 || stop_threads; });
      if (outstanding != 0) return;  // closing: Close() removes what was delivered
      std::vector<int64_t> done;
      done.swap(forwarded_ok);
      const bool failed = forward_failed > 0;
      lock.unlock();
      Status removed = spool->Remove(done);
      if (!removed.ok()) spdlog::error("publisher: {}", removed.ToString());
      lock.lock();
      if (removed.ok()) stored -= static_cast<int64_t>(done.size());
      cv.notify_all();
      recovering = !failed;
      if (failed) {
        spdlog::warn(
            "publisher: forwarding the spool: {} of {} records not taken yet; "
            "retrying in {} ms",
            handed - done.size(), batch->size(), backoff.count());
        cv.wait_for(lock, backoff, [&] { return stop_threads; });
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(10));
      } else {
        backoff = std::chrono::milliseconds(250);
      }
    }
  }

  // Takes records back from librdkafka when the cluster has not taken them
  // within the delivery timeout.
  void WatchdogLoop() {
    const auto tick = std::clamp<std::chrono::milliseconds>(
        delivery_timeout / 10, std::chrono::milliseconds(10), std::chrono::milliseconds(250));
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_for(lock, tick, [&] { return stop_threads; });
        if (stop_threads) return;
      }
      // Holding send_mu, no publisher is between its check of |spooling|
      // and its send; holding mu, the forwarder cannot switch back to
      // direct. So every record sent before a switch is in librdkafka when
      // the purge runs, every later one goes to the spool, and no record
      // sent directly after the spool emptied is purged by a stale decision.
      std::lock_guard<std::mutex> sending(send_mu);
      ReapSent();
      const bool overdue = !sent.empty() && Clock::now() - sent.front()->sent > delivery_timeout;
      std::lock_guard<std::mutex> lock(mu);
      if (overdue) {
        recovering = false;
        if (!spooling) {
          spooling = true;
          spdlog::warn(
              "publisher: a record waited more than {} ms (publisher.delivery_timeout); "
              "spooling to {} until the cluster takes records again",
              delivery_timeout.count(), spool->dir());
          cv.notify_all();
        }
      }
      // Non-blocking: the purged records' reports come on the poll thread.
      if (overdue || (spooling && outstanding_direct.load() > 0)) producer->PurgeUndelivered();
    }
  }

  Status SendRecord(Pending* p) {
    HeaderView headers[16];
    size_t n = std::min<size_t>(p->rec.headers.size(), 16);
    for (size_t i = 0; i < n; ++i) {
      headers[i].key = p->rec.headers[i].key;
      if (p->rec.headers[i].value) headers[i].value = *p->rec.headers[i].value;
    }
    if (n == 0) {
      headers[0] = HeaderView{kEventTypeHeader, p->rec.event_type};
      n = 1;
    }
    kafka::ProduceRequest req;
    req.topic = p->rec.topic;
    if (p->rec.key) req.key = *p->rec.key;
    if (p->rec.value) req.value = *p->rec.value;
    req.headers = std::span<const HeaderView>(headers, n);
    req.timestamp_ms = p->rec.created_ms;
    // The Pending owns the value until its report: librdkafka need not copy.
    req.copy_value = false;
    return producer->SendWithToken(req, reinterpret_cast<uintptr_t>(p));
  }
};

Publisher::Publisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Publisher::~Publisher() {
  Status st = Close();
  if (!st.ok()) spdlog::error("publisher: {}", st.ToString());
  if (impl_->metrics != nullptr) impl_->metrics->RemoveCollector(impl_->collector);
}

Result<std::unique_ptr<Publisher>> Publisher::Create(const Topology& topology,
                                                     kafka::ClientConfig config,
                                                     PublisherOptions options) {
  auto impl = std::make_unique<Impl>();
  Impl& d = *impl;
  d.delivery_timeout = options.delivery_timeout.value_or(topology.publisher.delivery_timeout);
  const bool use_spool = options.spool.value_or(topology.publisher.spool);
  d.dedup.set_ttl(topology.publisher.dedup_ttl);

  // Avro events are framed with registry ids: by default, the schemas are
  // registered (idempotently) in the topology's registry.
  d.schema_ids = std::move(options.schema_ids);
  if (!d.schema_ids) {
    // Runs at Create() and on the migration watcher's thread, never both at once.
    d.schema_ids = [raw = &d, spec = topology.registry, folder = topology.folder](
                       const std::string& subject, const std::string& text) -> Result<int32_t> {
      if (!raw->reg) {
        auto opened = registry::OpenRegistry(spec, folder);
        if (!opened.ok()) return opened.status();
        raw->reg = std::move(*opened);
      }
      auto registered =
          raw->reg->Register(subject, registry::Schema{registry::SchemaType::kAvro, text});
      if (!registered.ok()) return registered.status();
      return registered->id;
    };
  }
  for (const EventTypeSpec& spec : topology.event_types) {
    auto codec = EventCodec::Compile(topology, spec);
    if (!codec.ok()) return codec.status();
    if (spec.format == EventFormat::kAvro && codec->avro() == nullptr) {
      return Status::InvalidArgument(
          fmt::format("{}: event type {} has format avro but no schema file", spec.where.ToString(),
                      spec.name));
    }
    Route route{std::move(*codec), spec.topics, {}, {}, {}};
    d.routes.emplace(spec.name, std::move(route));
  }
  // The routes as weir.yaml declares them, then as the cluster's migrations
  // change them (weir/migrate/control.h).
  WEIR_RETURN_IF_ERROR(d.ApplyMigrations({}));
  if (options.watch_migrations) {
    migrate::WatcherOptions wo;
    wo.role = "publisher";
    wo.heartbeat = options.migration_heartbeat;
    Impl* raw = &d;
    wo.spool_records = [raw] {
      std::lock_guard<std::mutex> lock(raw->mu);
      return raw->stored + static_cast<int64_t>(raw->to_spool.size()) + raw->spool_writing;
    };
    auto watcher = migrate::Watcher::Start(
        config, std::move(wo),
        [raw](const migrate::States& states) { return raw->ApplyMigrations(states); },
        std::min(d.delivery_timeout, std::chrono::milliseconds(5000)));
    if (!watcher.ok()) return watcher.status();
    d.watcher = std::move(*watcher);
    // Its first apply ran already; repeated here for the error, if any.
    WEIR_RETURN_IF_ERROR(d.ApplyMigrations(d.watcher->states()));
  }

  if (use_spool) {
    std::string dir = options.spool_dir.value_or(
        (std::filesystem::path(topology.folder) / topology.publisher.spool_dir).string());
    auto spool = Spool::Open(dir, topology.publisher.spool_max_bytes);
    if (!spool.ok()) return spool.status();
    d.spool = std::move(*spool);
    d.next_seq = d.spool->MaxSeq() + 1;
    d.stored = d.spool->Count();
    d.spooling = d.stored > 0;
    // The Publisher enforces the delivery timeout itself (it takes records
    // back into the spool), so librdkafka never times a record out.
    config.Set("message.timeout.ms", "0");
  } else {
    config.SetDefault("message.timeout.ms", std::to_string(d.delivery_timeout.count()));
  }
  kafka::ProducerOptions popts;
  popts.listener = &d;
  // With a spool, a full local queue means "spool soon": wait briefly, then
  // let PublishAsync retry (see there). Without one, wait as long as the
  // delivery timeout.
  popts.queue_full_wait = d.spool != nullptr ? std::chrono::milliseconds(50) : d.delivery_timeout;
  auto producer = kafka::Producer::Create(std::move(config), popts);
  if (!producer.ok()) return producer.status();
  d.producer = std::move(*producer);
  if (d.spool) {
    d.writer_thread = std::thread([&d] { d.WriterLoop(); });
    d.forwarder_thread = std::thread([&d] { d.ForwarderLoop(); });
    d.watchdog_thread = std::thread([&d] { d.WatchdogLoop(); });
  }
  if (options.metrics != nullptr) {
    d.metrics = options.metrics;
    // Every declared topic: a migration may route any event type to it later.
    for (const TopicSpec& t : topology.topics) {
      const std::string& topic = t.name;
      d.published_ctr[topic] =
          &d.metrics->GetCounter("multi_topic_events_published_total",
                                 "Copies of events delivered to their topic", {{"topic", topic}});
      d.spooled_ctr[topic] = &d.metrics->GetCounter(
          "publisher_events_spooled_total",
          "Copies of events written to the local spool while the cluster was unreachable",
          {{"topic", topic}});
    }
    Impl* raw = &d;
    d.collector = d.metrics->AddCollector([raw](observe::Scrape& scrape) {
      const int64_t in_flight = raw->outstanding.load();
      scrape.Gauge("publisher_in_flight_records", "Records handed to librdkafka, not yet reported",
                   {}, static_cast<double>(in_flight));
      scrape.Gauge("publisher_spool_records", "Records waiting in the spool", {},
                   raw->spool != nullptr ? static_cast<double>(raw->spool->Count()) : 0.0);
      scrape.Gauge("publisher_spooling", "1 while new events go to the spool", {},
                   raw->spooling.load() ? 1.0 : 0.0);
    });
  }
  return std::unique_ptr<Publisher>(new Publisher(std::move(impl)));
}

bool Publisher::HasEventType(std::string_view event_type) const {
  return impl_->routes.find(event_type) != impl_->routes.end();
}

namespace {

PublishResult Refused(Status status, std::vector<FieldError> fields = {}) {
  PublishResult r;
  r.outcome = PublishOutcome::kRefused;
  r.status = std::move(status);
  r.field_errors = std::move(fields);
  return r;
}

}  // namespace

PublishResult Publisher::Check(std::string_view event_type, std::string_view json) const {
  auto it = impl_->routes.find(event_type);
  if (it == impl_->routes.end()) {
    std::string known;
    for (const auto& [name, route] : impl_->routes) known += (known.empty() ? "" : ", ") + name;
    return Refused(Status::NotFound(fmt::format("unknown event type \"{}\" (declared: {})",
                                                event_type, known.empty() ? "none" : known)));
  }
  EncodedEvent enc;
  EventRefusal refusal;
  if (!it->second.codec.Encode(json, &enc, &refusal)) {
    return Refused(std::move(refusal.status), std::move(refusal.fields));
  }
  PublishResult r;
  r.outcome = PublishOutcome::kDelivered;  // would be published
  return r;
}

void Publisher::PublishAsync(std::string_view event_type, std::string_view json,
                             PublishCallback done) {
  Impl& d = *impl_;
  std::shared_lock<std::shared_mutex> route_lock(d.route_mu);
  auto it = d.routes.find(event_type);
  if (it == d.routes.end()) {
    d.n_refused.fetch_add(1, std::memory_order_relaxed);
    d.CountError("", "UNKNOWN_EVENT_TYPE");
    RunCallback(done, Check(event_type, json));
    return;
  }
  EncodedEvent enc;
  EventRefusal refusal;
  if (!it->second.codec.Encode(json, &enc, &refusal)) {
    d.n_refused.fetch_add(1, std::memory_order_relaxed);
    d.CountError(it->second.topics.front(), "SCHEMA_VALIDATION");
    RunCallback(done, Refused(std::move(refusal.status), std::move(refusal.fields)));
    return;
  }
  Enqueue(it->first, it->second, std::move(enc), json, std::move(done));
}

void Publisher::Enqueue(const std::string& event_type, const Route& route, EncodedEvent&& enc,
                        std::string_view json, PublishCallback done) {
  Impl& d = *impl_;
  auto ev = std::make_shared<EventState>();
  if (enc.id && d.dedup.enabled()) {
    std::string key = fmt::format("{}\n{}", event_type, *enc.id);
    if (d.dedup.SeenOrRecord(key)) {
      d.n_duplicates.fetch_add(1, std::memory_order_relaxed);
      PublishResult r;
      r.outcome = PublishOutcome::kDuplicate;
      RunCallback(done, std::move(r));
      return;
    }
    ev->dedup_key = std::move(key);
  }
  d.n_accepted.fetch_add(1, std::memory_order_relaxed);
  const size_t copies = route.topics.size();
  ev->done = std::move(done);
  ev->remaining.store(static_cast<int>(copies), std::memory_order_relaxed);
  ev->result.deliveries.resize(copies);
  const int64_t now_ms = WallClockMs();
  std::vector<Pending*> records;
  records.reserve(copies);
  for (size_t i = 0; i < copies; ++i) {
    auto* p = new Pending;
    p->rec.topic = route.topics[i];
    p->rec.key = enc.key;
    if (route.codec.format() == EventFormat::kAvro) {
      // The last copy takes the encoded bytes; the header room gets its id.
      p->rec.value = i + 1 == copies ? std::move(enc.avro_body) : enc.avro_body;
      std::string& v = *p->rec.value;
      const auto id = static_cast<uint32_t>(route.schema_ids[i]);
      v[0] = 0;  // the Confluent magic byte
      for (int b = 0; b < 4; ++b)
        v[static_cast<size_t>(1 + b)] = static_cast<char>(id >> (24 - 8 * b));
    } else {
      p->rec.value.emplace(json);
    }
    // Headers stay empty until the record is spooled: SendRecord adds the
    // event type header to a record without headers. A dual copy of a
    // migration carries its mark as well.
    p->rec.event_type = std::string(event_type);
    if (!route.marks[i].empty()) {
      p->rec.headers.push_back(Header{std::string(kEventTypeHeader), p->rec.event_type});
      p->rec.headers.push_back(Header{std::string(migrate::kDualHeader), route.marks[i]});
    }
    p->rec.created_ms = now_ms;
    p->event = ev;
    p->slot = i;
    records.push_back(p);
  }

  if (d.spooling.load() && d.recovering.load()) {
    // While the spool drains, new records wait for it rather than grow it
    // faster than it drains; after the delivery timeout they join it. The
    // wait holds no send_mu: the forwarder needs it.
    std::unique_lock<std::mutex> lock(d.mu);
    d.cv.wait_for(lock, d.delivery_timeout,
                  [&] { return !d.spooling || !d.recovering || d.closing; });
  }
  std::unique_lock<std::mutex> send_lock(d.send_mu);
  for (size_t i = 0; i < records.size(); ++i) {
    Pending* p = records[i];
    bool closing = d.closing.load();
    bool to_spool = false;
    if (!closing && !d.spooling.load()) {
      p->rec.seq = d.next_seq++;
      p->sent = Clock::now();
      d.Link(p);
    } else if (!closing) {
      std::unique_lock<std::mutex> lock(d.mu);
      closing = d.closing;
      if (!closing) {
        p->rec.seq = d.next_seq++;
        to_spool = d.spooling;
        if (to_spool) {
          d.to_spool.push_back(p);
          d.cv.notify_all();
        } else {
          p->sent = Clock::now();
          d.Link(p);
        }
      }
    }
    if (to_spool) continue;
    Status st = closing ? Status::Cancelled("the publisher is closed") : d.SendRecord(p);
    if (!st.ok() && !closing && d.spool != nullptr && st.kafka_error() == "_QUEUE_FULL") {
      // librdkafka's queue is full: the cluster is slow or gone. Give the
      // watchdog (which needs send_mu) the chance to switch to spooling,
      // then hand this record on again.
      d.Unlink(p);
      std::unique_lock<std::mutex> lock(d.mu);
      send_lock.unlock();
      d.cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return d.spooling || d.closing; });
      lock.unlock();
      send_lock.lock();
      --i;
      continue;
    }
    if (!st.ok()) {
      if (!closing) {
        d.Unlink(p);
        std::lock_guard<std::mutex> lock(d.mu);
        d.cv.notify_all();
      }
      std::unique_ptr<Pending> owned(p);
      TopicDelivery td;
      td.topic = p->rec.topic;
      td.status = st;
      d.CompleteSlot(ev, p->slot, std::move(td));
    }
  }
}

namespace {

// Calls submit(i, done) for every slot of |results| and waits until every
// done() has stored its result.
void CollectAll(std::vector<PublishResult>* results,
                const std::function<void(size_t, PublishCallback)>& submit) {
  std::mutex mu;
  std::condition_variable cv;
  size_t left = results->size();
  for (size_t i = 0; i < results->size(); ++i) {
    submit(i, [&, i](PublishResult r) {
      (*results)[i] = std::move(r);
      std::lock_guard<std::mutex> lock(mu);
      if (--left == 0) cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return left == 0; });
}

}  // namespace

PublishResult Publisher::Publish(std::string_view event_type, std::string_view json) {
  std::promise<PublishResult> promise;
  std::future<PublishResult> future = promise.get_future();
  PublishAsync(event_type, json, [&promise](PublishResult r) { promise.set_value(std::move(r)); });
  return future.get();
}

std::vector<PublishResult> Publisher::PublishBatch(std::string_view event_type,
                                                   std::span<const std::string_view> events,
                                                   BatchMode mode) {
  std::vector<PublishResult> results(events.size());
  Impl& d = *impl_;
  auto it = d.routes.find(event_type);
  if (mode == BatchMode::kAllOrNothing && it != d.routes.end()) {
    // Check every event before publishing any.
    std::vector<EncodedEvent> encoded(events.size());
    size_t refused = 0;
    for (size_t i = 0; i < events.size(); ++i) {
      EventRefusal refusal;
      if (!it->second.codec.Encode(events[i], &encoded[i], &refusal)) {
        results[i] = Refused(std::move(refusal.status), std::move(refusal.fields));
        ++refused;
      }
    }
    if (refused > 0) {
      d.n_refused.fetch_add(events.size(), std::memory_order_relaxed);
      for (size_t i = 0; i < refused; ++i)
        d.CountError(it->second.declared.front(), "SCHEMA_VALIDATION");
      for (PublishResult& r : results) {
        if (r.outcome != PublishOutcome::kRefused) {
          r = Refused(Status::Cancelled(
              fmt::format("not published: {} other event(s) of the batch are invalid", refused)));
        }
      }
      return results;
    }
    CollectAll(&results, [&](size_t i, PublishCallback done) {
      std::shared_lock<std::shared_mutex> route_lock(d.route_mu);
      Enqueue(it->first, it->second, std::move(encoded[i]), events[i], std::move(done));
    });
    return results;
  }
  CollectAll(&results, [&](size_t i, PublishCallback done) {
    PublishAsync(event_type, events[i], std::move(done));
  });
  return results;
}

Status Publisher::Flush(std::chrono::milliseconds timeout, bool drain_spool) {
  Impl& d = *impl_;
  std::unique_lock<std::mutex> lock(d.mu);
  const bool ok = d.cv.wait_for(lock, timeout, [&] {
    if (!d.Idle()) return false;
    return !drain_spool || d.spool == nullptr || (!d.spooling && d.spool->Count() == 0);
  });
  if (ok) return Status::Ok();
  return Status::Timeout(
      fmt::format("after {} ms: {} records in flight, {} waiting to be spooled, {} in the spool",
                  timeout.count(), d.outstanding.load(), d.to_spool.size() + d.spool_writing,
                  d.spool != nullptr ? d.spool->Count() : 0));
}

PublisherStats Publisher::Stats() const {
  const Impl& d = *impl_;
  PublisherStats s;
  s.accepted = d.n_accepted.load();
  s.delivered = d.n_delivered.load();
  s.spooled = d.n_spooled.load();
  s.duplicates = d.n_duplicates.load();
  s.refused = d.n_refused.load();
  s.failed = d.n_failed.load();
  s.forwarded = d.n_forwarded.load();
  s.spool_records = d.spool != nullptr ? d.spool->Count() : 0;
  std::lock_guard<std::mutex> lock(d.mu);
  s.spooling = d.spooling;
  s.in_flight = d.outstanding.load();
  return s;
}

Status Publisher::Close(std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  if (d.closed) return Status::Ok();
  d.closed = true;
  if (d.watcher) d.watcher->Stop();
  {
    std::unique_lock<std::mutex> lock(d.mu);
    d.closing = true;
    d.cv.wait_for(lock, timeout, [&] { return d.outstanding_direct == 0; });
    if (d.outstanding_direct > 0 && d.spool != nullptr) {
      spdlog::warn("publisher: closing with {} records undelivered after {} ms; spooling them",
                   d.outstanding_direct.load(), timeout.count());
      d.spooling = true;
    }
    d.stop_threads = true;
    d.cv.notify_all();
  }
  // The forwarder and the watchdog stop before the producer does, so that
  // nothing sends to or purges a closed producer.
  if (d.forwarder_thread.joinable()) d.forwarder_thread.join();
  if (d.watchdog_thread.joinable()) d.watchdog_thread.join();
  if (d.spool != nullptr) d.producer->PurgeUndelivered();
  // Every record still in librdkafka gets its report now: delivered, or
  // purged (then spooled, or failed when there is no spool).
  Status result = d.producer->Close(std::chrono::seconds(5));
  if (d.spool != nullptr) result = Status::Ok();  // nothing was lost: it is spooled
  if (d.writer_thread.joinable()) {
    {
      std::lock_guard<std::mutex> lock(d.mu);
      d.stop_writer = true;
      d.cv.notify_all();
    }
    d.writer_thread.join();  // it stores its whole queue first
  }
  {
    std::lock_guard<std::mutex> sending(d.send_mu);
    d.ReapSent();
    if (!d.sent.empty()) {
      // librdkafka reports every record before its handle is destroyed; a
      // record left here would be a bug. It is leaked rather than freed
      // under a report that might still come.
      spdlog::error("publisher: {} records got no delivery report", d.sent.size());
    }
  }
  if (d.spool != nullptr) {
    // Forwarded records delivered in a round that closing interrupted.
    std::vector<int64_t> done;
    {
      std::lock_guard<std::mutex> lock(d.mu);
      done.swap(d.forwarded_ok);
    }
    if (Status st = d.spool->Remove(done); !st.ok()) result = st;
    d.spool.reset();
  }
  return result;
}

}  // namespace weir::publish
