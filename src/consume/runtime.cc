// The consumer runtime. The design and the reasons behind it are in
// docs/consumer.md; this comment maps the code.
//
// Every record read becomes a Task (shared_ptr: held by whichever queues
// and threads still need it) and an Entry in its partition's pending list.
// Where a task waits:
//   lane      — the serial queue of its key (`key`) or partition (`partition`);
//               only a lane's first task is ever ready, running or waiting.
//   ready     — tasks a worker may take now.
//   running   — one Slot per handler call in progress, with its deadline.
//   delay     — tasks waiting for a retry, by due time.
//   outbox    — dead letters to send; dlq_retry — dead letters to re-send.
//   reorder   — per partition, records held to be put back in sequence.
// Everything above is guarded by Impl::mu. Slow work — decoding, handlers,
// the dedup store, producing, logging — runs with it released.
//
// A task is finished when its entry is marked done: handled, duplicate,
// late and dropped, or dead-lettered with the DLQ write confirmed. Commits
// take, per partition, the run of done entries at the front.
#include "weir/consume/runtime.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <filesystem>
#include <map>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/wall_clock.h"
#include "consume/backoff.h"
#include "consume/decoder.h"
#include "consume/dedup_store.h"
#include "consume/reorder_buffer.h"
#include "weir/consume/dead_letter.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"
#include "weir/migrate/control.h"
#include "weir/observe/metrics.h"

namespace weir::consume {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

std::string Coordinates(const Record& r) {
  return fmt::format("{}/{}@{}", r.topic(), r.partition().value(), r.offset().value());
}

struct Task;

// A FIFO of tasks that allocates little: most key lanes hold one task at a
// time, and std::deque would allocate a 512-byte block for each.
class TaskQueue {
 public:
  void push_back(std::shared_ptr<Task> t) { items_.push_back(std::move(t)); }
  std::shared_ptr<Task>& front() { return items_[head_]; }
  void pop_front() {
    items_[head_++].reset();
    if (head_ == items_.size()) {
      clear();
    } else if (head_ >= 1024 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  void clear() {
    items_.clear();
    head_ = 0;
  }
  auto begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() { return items_.end(); }

 private:
  std::vector<std::shared_ptr<Task>> items_;
  size_t head_ = 0;
};

// The serial queue of one key or partition. q.front() is the task that is
// ready, running, waiting for a retry or being decided; the rest wait.
struct Lane {
  TaskQueue q;
};

struct Entry {
  Offset offset;
  bool done = false;
};

struct PartState {
  TopicPartition tp;
  std::deque<Entry> pending;  // in offset order; front() is the commit point
  size_t unfinished = 0;      // entries of |pending| not done: the backpressure measure
  // For the lag gauge: the partition's high watermark as last fetched, and
  // the offset last committed (or, before the first commit, the first read).
  int64_t high_watermark = -1;
  int64_t committed = -1;
  bool revoked = false;
  bool paused = false;  // as last applied to the consumer
  // Handler calls running and dead letters not yet confirmed, for the tasks
  // of this partition; revocation waits for it to reach zero.
  int outstanding = 0;
  Lane partition_lane;                          // `partition` ordering
  std::unordered_map<std::string, Lane> lanes;  // `key` ordering
  Lane null_key_lane;                           // `key` ordering, null keys
  std::unique_ptr<ReorderBuffer<std::shared_ptr<Task>>> reorder;
};

struct Task {
  Record record;
  std::shared_ptr<PartState> part;
  Entry* entry = nullptr;  // stable: a deque keeps references on push/pop at the ends
  Lane* lane = nullptr;
  std::string lane_key;
  bool null_key_lane = false;
  // Decoded once, before the first attempt (or at dispatch when reordering).
  bool decoded = false;
  bool decode_ok = false;
  const publish::EventCodec* type = nullptr;
  std::string_view json;     // into |record|'s value, or into json_storage
  std::string json_storage;  // decoded Avro
  DecodeError decode_error;
  std::string dedup_key;
  bool dedup_claimed = false;
  int64_t sequence = 0;
  int attempts = 0;
  ErrorClass last_class = ErrorClass::kUnknown;
  std::string last_error;
  std::string last_context;
  // Set when the task goes to the DLQ; kept for re-sends.
  std::unique_ptr<DeadLetter> dead_letter;
  milliseconds dlq_backoff{0};
};

// One handler call in progress.
struct Slot {
  std::shared_ptr<Task> task;
  Clock::TimePoint deadline = Clock::TimePoint::max();
  int attempt = 0;
  bool timed_out = false;
  std::atomic<bool> cancelled{false};
};

class MessageImpl : public Message {
 public:
  MessageImpl(const Task& t, const Slot& s) : t_(t), s_(s) {}
  const Record& record() const override { return t_.record; }
  std::string_view event_type() const override {
    return t_.type != nullptr ? std::string_view(t_.type->spec().name) : std::string_view();
  }
  std::string_view json() const override { return t_.json; }
  int attempt() const override { return s_.attempt; }
  std::string_view dedup_key() const override { return t_.dedup_key; }
  bool cancelled() const override { return s_.cancelled.load(std::memory_order_relaxed); }

 private:
  const Task& t_;
  const Slot& s_;
};

enum class Verdict : uint8_t { kOk, kDuplicate, kFailed };

struct AttemptResult {
  Verdict verdict = Verdict::kOk;
  ErrorClass error_class = ErrorClass::kUnknown;
  std::string message;
  std::string context;
};

struct WorkerThread {
  std::thread thread;
  std::shared_ptr<std::atomic<bool>> finished = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

struct GroupRuntime::Impl : public kafka::RebalanceListener,
                            public std::enable_shared_from_this<Impl> {
  // Set up by Create(), read-only afterwards.
  ConsumerGroupSpec spec;
  RuntimeOptions options;
  kafka::ClientConfig config;
  const Clock* clock = nullptr;
  int concurrency = 1;
  std::unique_ptr<RecordDecoder> decoder;
  std::unique_ptr<DedupStore> dedup;
  // The fields read from each decoded event, in one parse: the dedup key's
  // (the first dedup_fields of them), then the reorder sequence's.
  std::vector<std::vector<std::string>> field_paths;
  size_t dedup_fields = 0;
  std::unique_ptr<kafka::Producer> dlq_producer;
  // Metrics (null when RuntimeOptions::metrics is).
  struct Meters {
    observe::Counter* dlq_sent[5] = {};  // by ErrorClass
    observe::Counter* retries = nullptr;
    observe::Counter* timeouts = nullptr;
    observe::Counter* duplicates = nullptr;
    observe::Counter* late = nullptr;
    std::map<std::string, observe::Counter*, std::less<>> processed;  // by topic
    observe::Histogram* processing = nullptr;
    observe::Histogram* end_to_end = nullptr;
    int collector = 0;
  };
  std::unique_ptr<Meters> meters;
  std::map<std::string, Handler, std::less<>> type_handlers;
  std::map<std::string, Handler, std::less<>> topic_handlers;

  // Owned by the poll thread.
  std::unique_ptr<kafka::Consumer> consumer;

  // Topic migrations (weir/migrate): the states, the topics they make the
  // group read, and whether the poll thread must subscribe to them anew.
  std::unique_ptr<migrate::Watcher> watcher;
  migrate::States mig_states;       // GUARDED_BY(mu)
  std::vector<std::string> topics;  // GUARDED_BY(mu): what the group reads now
  bool resubscribe = false;         // GUARDED_BY(mu)
  std::vector<std::unique_ptr<kafka::Consumer>> retired;  // GUARDED_BY(mu): see Resubscribe
  mutable std::mutex alias_mu;                            // for FindHandler, which runs without mu
  migrate::States alias_states;                           // GUARDED_BY(alias_mu)

  Status ApplyMigrations(const migrate::States& states) {
    std::vector<std::string> want = migrate::GroupTopics(states, spec.name, spec.topics);
    {
      std::lock_guard<std::mutex> lock(alias_mu);
      alias_states = states;
    }
    std::lock_guard<std::mutex> lock(mu);
    mig_states = states;
    if (want != topics) {
      spdlog::info("group {}: a topic migration moves it from [{}] to [{}]", spec.name,
                   fmt::join(topics, ", "), fmt::join(want, ", "));
      topics = std::move(want);
      resubscribe = true;
      if (consumer) consumer->Wakeup();
    }
    return Status::Ok();
  }

  mutable std::mutex mu;
  std::condition_variable work_cv;   // workers: ready_ or exit
  std::condition_variable timer_cv;  // timer: earlier deadline or exit
  std::condition_variable state_cv;  // revocation, drain and stop waiters
  std::condition_variable room_cv;   // poll thread: a full partition has room again
  bool poll_waiting = false;         // the poll thread waits on room_cv
  bool backlog_stuck = false;        // the last wait for room timed out
  bool started = false;
  bool stop_requested = false;
  bool stopping = false;  // draining: no new records, no new retries
  bool stopped = false;   // the poll thread has finished
  bool workers_exit = false;
  bool timer_exit = false;
  SteadyTime stop_deadline{};
  Status error;
  std::map<TopicPartition, std::shared_ptr<PartState>> parts;
  std::deque<std::shared_ptr<Task>> ready;
  std::unordered_set<Slot*> running;
  std::multimap<Clock::TimePoint, std::shared_ptr<Task>> delay;
  std::vector<std::shared_ptr<Task>> outbox;
  std::multimap<Clock::TimePoint, std::shared_ptr<Task>> dlq_retry;
  int dlq_resending = 0;  // re-sends in flight
  std::vector<RetryScheduled> retry_reports;
  Clock::TimePoint timer_next = Clock::TimePoint::max();
  std::mt19937_64 rng;
  std::vector<WorkerThread> workers;
  std::thread poll_thread;
  std::thread timer_thread;
  GroupStats stats;

  // --- rebalance listener (poll thread) -------------------------------------
  void OnAssigned(const std::vector<TopicPartition>& tps) override {
    std::lock_guard<std::mutex> lock(mu);
    for (const TopicPartition& tp : tps) {
      auto ps = std::make_shared<PartState>();
      ps->tp = tp;
      if (spec.reorder) {
        ps->reorder = std::make_unique<ReorderBuffer<std::shared_ptr<Task>>>(
            spec.reorder->window, spec.reorder->tolerance);
      }
      parts[tp] = std::move(ps);
    }
    spdlog::info("group {}: assigned {}", spec.name, DescribeTps(tps));
  }

  void OnRevoked(const std::vector<TopicPartition>& tps, bool lost) override {
    std::vector<TopicPartitionOffset> offsets;
    {
      std::unique_lock<std::mutex> lock(mu);
      std::vector<std::shared_ptr<PartState>> revoked;
      for (const TopicPartition& tp : tps) {
        auto it = parts.find(tp);
        if (it == parts.end()) continue;
        it->second->revoked = true;
        revoked.push_back(it->second);
      }
      DropRevokedWorkLocked(revoked);
      // Let running handlers and DLQ writes of these partitions finish, so
      // that their work is committed rather than repeated by the next owner.
      SteadyTime deadline = std::chrono::steady_clock::now() + options.revoke_timeout;
      if (stopping) deadline = std::min(deadline, stop_deadline);
      auto idle = [&] {
        return std::all_of(revoked.begin(), revoked.end(),
                           [](const auto& p) { return p->outstanding == 0; });
      };
      if (!state_cv.wait_until(lock, deadline, idle)) {
        spdlog::warn(
            "group {}: revoking {}: handlers or DLQ writes still running after {} ms; "
            "their records are left uncommitted for the next owner",
            spec.name, DescribeTps(tps), options.revoke_timeout.count());
        AbandonDlqRetriesLocked([](const Task& t) { return t.part->revoked; });
      }
      for (const auto& p : revoked) {
        if (auto o = PopFinishedLocked(*p)) offsets.push_back(*o);
        CountAbandonedLocked(*p);
        parts.erase(p->tp);
      }
      state_cv.notify_all();
    }
    spdlog::info("group {}: revoked {}{}", spec.name, DescribeTps(tps), lost ? " (lost)" : "");
    if (!lost && !offsets.empty()) CommitOffsets(offsets, /*sync=*/true);
  }

  static std::string DescribeTps(const std::vector<TopicPartition>& tps) {
    std::string out;
    for (const TopicPartition& tp : tps) {
      if (!out.empty()) out += ", ";
      out += fmt::format("{}/{}", tp.topic, tp.partition.value());
    }
    return out;
  }

  // --- queues (mu held) -------------------------------------------------------

  // Puts a task that may run into its lane, and into ready_ when it leads it.
  void EnqueueLocked(const std::shared_ptr<Task>& t) {
    PartState& p = *t->part;
    if (spec.ordering == Ordering::kUnordered) {
      ready.push_back(t);
      return;
    }
    Lane* lane = &p.partition_lane;
    if (spec.ordering == Ordering::kKey) {
      const std::optional<std::string_view> key = t->record.key();
      if (!key) {
        lane = &p.null_key_lane;
        t->null_key_lane = true;
      } else {
        t->lane_key.assign(*key);
        lane = &p.lanes[t->lane_key];
      }
    }
    t->lane = lane;
    lane->q.push_back(t);
    if (lane->q.size() == 1) ready.push_back(t);
  }

  // The lane's first task is decided: let the next one go.
  void AdvanceLaneLocked(Task& t) {
    Lane* lane = t.lane;
    if (lane == nullptr) return;
    t.lane = nullptr;
    if (!lane->q.empty() && lane->q.front().get() == &t) lane->q.pop_front();
    if (t.part->revoked) return;
    if (!lane->q.empty()) {
      ready.push_back(lane->q.front());
      work_cv.notify_one();
    } else if (spec.ordering == Ordering::kKey && !t.null_key_lane) {
      t.part->lanes.erase(t.lane_key);
    }
  }

  void MarkDoneLocked(Task& t) {
    t.entry->done = true;
    --t.part->unfinished;
    if (poll_waiting && t.part->unfinished < options.max_pending_per_partition / 2) {
      room_cv.notify_one();
    }
  }

  void FinishLocked(Task& t) {
    MarkDoneLocked(t);
    AdvanceLaneLocked(t);
  }

  // Gives a task up without finishing it: its offset stays uncommitted and
  // it is read again after a restart or by the partition's next owner. The
  // records queued behind it in its lane are given up too, so that none
  // overtakes it.
  void AbandonLocked(Task& t) {
    if (t.dedup_claimed) {
      dedup->Release(t.dedup_key);
      t.dedup_claimed = false;
    }
    Lane* lane = t.lane;
    if (lane == nullptr) return;
    for (auto& other : lane->q) other->lane = nullptr;
    lane->q.clear();
    if (spec.ordering == Ordering::kKey && !t.null_key_lane && !t.part->revoked) {
      t.part->lanes.erase(t.lane_key);
    }
  }

  // Drops the queued work of revoked partitions: ready, waiting for a retry,
  // waiting in a lane, held for reordering. Running tasks finish on their
  // own (their lanes are cut, so nothing follows them).
  void DropRevokedWorkLocked(const std::vector<std::shared_ptr<PartState>>& revoked) {
    std::erase_if(ready, [](const std::shared_ptr<Task>& t) { return t->part->revoked; });
    for (auto it = delay.begin(); it != delay.end();) {
      if (it->second->part->revoked) {
        --stats.waiting_retry;
        AbandonLocked(*it->second);
        it = delay.erase(it);
      } else {
        ++it;
      }
    }
    auto cut = [](Lane& lane) {
      for (auto& t : lane.q) t->lane = nullptr;
      lane.q.clear();
    };
    for (const auto& p : revoked) {
      cut(p->partition_lane);
      cut(p->null_key_lane);
      for (auto& [key, lane] : p->lanes) cut(lane);
      p->lanes.clear();
      p->reorder.reset();
    }
  }

  // Counts the unfinished records of |p| as abandoned (they are read again).
  void CountAbandonedLocked(const PartState& p) { stats.abandoned += p.unfinished; }

  template <typename Pred>
  void AbandonDlqRetriesLocked(Pred pred) {
    for (auto it = dlq_retry.begin(); it != dlq_retry.end();) {
      if (pred(*it->second)) {
        --it->second->part->outstanding;
        it = dlq_retry.erase(it);
      } else {
        ++it;
      }
    }
  }

  // True while some dead letter failed to reach the DLQ and waits to be sent
  // again: the group pauses and commits nothing past it.
  bool DlqBlockedLocked() const { return !dlq_retry.empty() || dlq_resending > 0; }

  // The offset to commit for |p| after dropping its finished prefix.
  std::optional<TopicPartitionOffset> PopFinishedLocked(PartState& p) {
    std::optional<Offset> last;
    while (!p.pending.empty() && p.pending.front().done) {
      last = p.pending.front().offset;
      p.pending.pop_front();
    }
    if (!last) return std::nullopt;
    return TopicPartitionOffset{p.tp.topic, p.tp.partition, Offset(last->value() + 1), ""};
  }

  void NotifyTimerIfEarlierLocked(Clock::TimePoint t) {
    if (t < timer_next) {
      timer_next = t;
      timer_cv.notify_one();
    }
  }

  // --- decisions (mu held) ----------------------------------------------------

  void OnFailureLocked(const std::shared_ptr<Task>& t, ErrorClass c, std::string message,
                       std::string context) {
    t->last_class = c;
    t->last_error = std::move(message);
    t->last_context = std::move(context);
    if (t->part->revoked) {
      AbandonLocked(*t);
      return;
    }
    const bool retry = Retries(spec.retry, c) && t->attempts < spec.retry.max_attempts;
    if (retry && stopping) {
      AbandonLocked(*t);  // retried after the restart
      return;
    }
    if (retry) {
      const milliseconds d = RetryDelay(spec.retry, t->attempts, rng);
      const Clock::TimePoint due = clock->Now() + d;
      ++stats.retries;
      ++stats.waiting_retry;
      if (meters) meters->retries->Inc();
      delay.emplace(due, t);
      retry_reports.push_back(
          RetryScheduled{t->part->tp, t->record.offset(), t->attempts + 1, d, due, c});
      NotifyTimerIfEarlierLocked(due);
      return;
    }
    DeadLetterLocked(t);
  }

  void DeadLetterLocked(const std::shared_ptr<Task>& t) {
    if (t->dedup_claimed) {
      dedup->Release(t->dedup_key);  // a replay of it must be handled
      t->dedup_claimed = false;
    }
    if (spec.dlq_topic.empty()) {
      if (error.ok()) {
        error = Status::Unavailable(fmt::format(
            "group {}: {} failed after {} attempt(s) ({}: {}) and the group has no dlq: topic; "
            "stopping without committing it",
            spec.name, Coordinates(t->record), t->attempts, ErrorClassName(t->last_class),
            t->last_error));
        spdlog::error("{}", error.message());
      }
      RequestStopLocked();
      AbandonLocked(*t);
      return;
    }
    t->dead_letter = std::make_unique<DeadLetter>(
        MakeDeadLetter(t->record, spec.name, t->last_class, t->last_error, t->last_context,
                       std::max(0, t->attempts - 1)));
    ++t->part->outstanding;
    AdvanceLaneLocked(*t);
    outbox.push_back(t);
  }

  void RequestStopLocked() {
    if (stop_requested) return;
    stop_requested = true;
    stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    room_cv.notify_all();
    if (consumer) consumer->Wakeup();
  }

  // --- side effects (mu not held) ---------------------------------------------

  // Sends the dead letters of outbox_ and reports the retries scheduled.
  void Flush(std::unique_lock<std::mutex>& lock) {
    while (!outbox.empty() || !retry_reports.empty()) {
      std::vector<std::shared_ptr<Task>> send;
      send.swap(outbox);
      std::vector<RetryScheduled> reports;
      reports.swap(retry_reports);
      lock.unlock();
      for (const auto& t : send) SendDeadLetter(t);
      if (options.on_retry) {
        for (const RetryScheduled& r : reports) {
          try {
            options.on_retry(r);
          } catch (...) {
            spdlog::error("group {}: on_retry threw; ignored", spec.name);
          }
        }
      }
      lock.lock();
    }
  }

  void SendDeadLetter(const std::shared_ptr<Task>& t) {
    const DeadLetter& dl = *t->dead_letter;
    std::vector<Header> headers = DeadLetterHeaders(dl);
    std::vector<HeaderView> views;
    views.reserve(headers.size());
    for (const Header& h : headers) {
      views.push_back(
          HeaderView{h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
    }
    kafka::ProduceRequest req;
    req.topic = spec.dlq_topic;
    if (dl.key) req.key = *dl.key;
    if (dl.value) req.value = *dl.value;
    req.headers = views;
    std::weak_ptr<Impl> weak = weak_from_this();
    Status s = dlq_producer->Send(req, [weak, t](const kafka::DeliveryReport& rep) {
      if (auto self = weak.lock()) self->OnDlqReport(t, rep.status);
    });
    if (!s.ok()) OnDlqReport(t, s);
  }

  // Runs on the producer's thread (or the sender's when Send failed).
  void OnDlqReport(const std::shared_ptr<Task>& t, const Status& status) {
    std::unique_lock<std::mutex> lock(mu);
    const bool was_resend = t->dlq_backoff.count() > 0;
    if (status.ok()) {
      if (was_resend) --dlq_resending;
      --t->part->outstanding;
      ++stats.dead_lettered;
      ++stats.dead_by_class[static_cast<int>(t->last_class)];
      MarkDoneLocked(*t);
      if (meters) meters->dlq_sent[static_cast<int>(t->last_class)]->Inc();
      const bool recovered = was_resend && !DlqBlockedLocked();
      state_cv.notify_all();
      lock.unlock();  // logging is slow; never under the runtime's lock
      spdlog::warn("group {}: {} dead-lettered to {} ({}: {})", spec.name, Coordinates(t->record),
                   spec.dlq_topic, ErrorClassName(t->last_class), t->last_error);
      if (recovered) {
        spdlog::info("group {}: the DLQ {} takes writes again; resuming", spec.name,
                     spec.dlq_topic);
      }
      return;
    }
    ++stats.dlq_errors;
    if (was_resend) --dlq_resending;
    if (t->part->revoked) {
      --t->part->outstanding;
      state_cv.notify_all();
      return;
    }
    if (!DlqBlockedLocked()) {
      spdlog::error(
          "group {}: cannot write the DLQ {} ({}); pausing and committing nothing past "
          "{} until it can",
          spec.name, spec.dlq_topic, status.ToString(), Coordinates(t->record));
    }
    t->dlq_backoff = std::min<milliseconds>(
        std::max<milliseconds>(t->dlq_backoff * 2, milliseconds(200)), milliseconds(30000));
    const Clock::TimePoint due = clock->Now() + t->dlq_backoff;
    dlq_retry.emplace(due, t);
    NotifyTimerIfEarlierLocked(due);
  }

  // --- workers ----------------------------------------------------------------

  void SpawnWorkerLocked() {
    WorkerThread w;
    std::shared_ptr<std::atomic<bool>> finished = w.finished;
    w.thread = std::thread([self = shared_from_this(), finished] {
      self->WorkerLoop();
      finished->store(true);
    });
    workers.push_back(std::move(w));
  }

  void WorkerLoop() {
    std::unique_lock<std::mutex> lock(mu);
    Slot slot;
    for (;;) {
      work_cv.wait(lock, [&] { return !ready.empty() || workers_exit; });
      // At exit the drain has already decided: what is still ready stays
      // uncommitted and is read again.
      if (workers_exit) return;
      std::shared_ptr<Task> t = std::move(ready.front());
      ready.pop_front();
      ++t->attempts;
      ++stats.attempts;
      ++stats.running;
      ++t->part->outstanding;
      slot.task = t;
      slot.attempt = t->attempts;
      slot.timed_out = false;
      slot.cancelled.store(false);
      slot.deadline = Clock::TimePoint::max();
      if (spec.timeout) {
        slot.deadline = clock->Now() + *spec.timeout;
        NotifyTimerIfEarlierLocked(slot.deadline);
      }
      running.insert(&slot);
      lock.unlock();
      AttemptResult r = Attempt(*t, slot);
      lock.lock();
      if (slot.timed_out) {
        // The timer gave this call up and started a replacement worker.
        --stats.hung;
        slot.task.reset();
        state_cv.notify_all();
        return;
      }
      running.erase(&slot);
      --stats.running;
      --t->part->outstanding;
      slot.task.reset();
      switch (r.verdict) {
        case Verdict::kOk:
          ++stats.handled;
          if (meters) ObserveHandled(*t);
          FinishLocked(*t);
          break;
        case Verdict::kDuplicate:
          ++stats.duplicates;
          if (meters) meters->duplicates->Inc();
          FinishLocked(*t);
          break;
        case Verdict::kFailed:
          OnFailureLocked(t, r.error_class, std::move(r.message), std::move(r.context));
          break;
      }
      state_cv.notify_all();
      Flush(lock);
    }
  }

  void DecodeTask(Task& t) {
    if (t.decoded) return;
    t.decoded = true;
    if (!options.decode) {
      t.decode_ok = true;
      return;
    }
    t.type = decoder->TypeOf(t.record);
    t.decode_ok = decoder->Decode(t.record, t.type, &t.json_storage, &t.json, &t.decode_error);
    if (!t.decode_ok) return;
    if (field_paths.empty()) return;
    std::string why;
    std::vector<std::string> values;
    if (!ExtractFields(t.json, field_paths, &values, &why)) {
      // |values| holds the fields read before the one that failed.
      t.decode_ok = false;
      t.decode_error = {ErrorClass::kSchemaValidation,
                        fmt::format("{}: {}: {}", Coordinates(t.record),
                                    values.size() < dedup_fields ? "dedup" : "reorder", why)};
      return;
    }
    if (dedup_fields > 0) {
      t.dedup_key =
          fmt::format("{}", fmt::join(values.begin(), values.begin() + dedup_fields, "\x1f"));
    }
    if (spec.reorder) {
      const std::string& seq = values.back();
      char* end = nullptr;
      t.sequence = std::strtoll(seq.c_str(), &end, 10);
      if (end == seq.c_str() || *end != '\0') {
        t.decode_ok = false;
        t.decode_error = {ErrorClass::kSchemaValidation,
                          fmt::format("{}: reorder: {} is not an integer: {}",
                                      Coordinates(t.record), spec.reorder->sequence_field, seq)};
      }
    }
  }

  // Per assigned partition whose watermark and position are known: the high
  // watermark minus the committed offset (records not yet committed).
  std::vector<std::pair<TopicPartition, int64_t>> Lags() const {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::pair<TopicPartition, int64_t>> out;
    for (const auto& [tp, p] : parts) {
      if (p->high_watermark < 0 || p->committed < 0) continue;
      out.emplace_back(tp, std::max<int64_t>(0, p->high_watermark - p->committed));
    }
    return out;
  }

  GroupStats Snapshot() const {
    std::lock_guard<std::mutex> lock(mu);
    GroupStats s = stats;
    s.in_flight = 0;
    for (const auto& [tp, p] : parts) {
      s.in_flight += static_cast<int64_t>(p->unfinished);
      s.paused_partitions += p->paused ? 1 : 0;
    }
    s.assigned_partitions = parts.size();
    s.dlq_blocked = DlqBlockedLocked();
    return s;
  }

  // A record handled: counted per topic, and its end-to-end latency (record
  // timestamp → handled) observed.
  void ObserveHandled(const Task& t) {
    if (auto it = meters->processed.find(t.record.topic()); it != meters->processed.end()) {
      it->second->Inc();
    }
    const int64_t ts = t.record.timestamp().ms;
    if (ts > 0) meters->end_to_end->Observe(std::max<int64_t>(0, WallClockMs() - ts) / 1000.0);
  }

  void SetUpMetrics(observe::Registry& reg) {
    meters = std::make_unique<Meters>();
    const observe::Labels group = {{"consumer_group", spec.name}};
    for (int c = 0; c < 5; ++c) {
      meters->dlq_sent[c] = &reg.GetCounter(
          "consumer_dlq_messages_sent_total", "Dead letters written and acknowledged by the DLQ",
          {{"consumer_group", spec.name},
           {"error_type", std::string(ErrorClassName(static_cast<ErrorClass>(c)))}});
    }
    meters->retries = &reg.GetCounter("consumer_retry_attempts_total", "Retries scheduled", group);
    meters->timeouts = &reg.GetCounter("consumer_processing_timeout_total",
                                       "Handler attempts that ran past the timeout", group);
    meters->duplicates = &reg.GetCounter("consumer_duplicates_dropped_total",
                                         "Records dropped by de-duplication", group);
    meters->late = &reg.GetCounter("consumer_late_records_dropped_total",
                                   "Records later than the reorder tolerance, dropped", group);
    for (const std::string& topic : spec.topics) {
      meters->processed[topic] =
          &reg.GetCounter("consumer_messages_processed_total", "Records handled successfully",
                          {{"consumer_group", spec.name}, {"topic", topic}});
    }
    meters->processing = &reg.GetHistogram("consumer_processing_duration_seconds",
                                           "Time a handler attempt took", group);
    meters->end_to_end = &reg.GetHistogram(
        "consumer_end_to_end_latency_seconds",
        "From the record's timestamp to the end of its successful handling", group);
    std::weak_ptr<Impl> weak = weak_from_this();
    meters->collector = reg.AddCollector([weak, group](observe::Scrape& scrape) {
      auto self = weak.lock();
      if (!self) return;
      const GroupStats s = self->Snapshot();
      scrape.Gauge("consumer_in_flight_records", "Records read and not yet finished", group,
                   static_cast<double>(s.in_flight));
      scrape.Gauge("consumer_waiting_retry_records", "Records waiting for a retry", group,
                   static_cast<double>(s.waiting_retry));
      scrape.Gauge("consumer_running_handlers", "Handler calls in progress", group,
                   static_cast<double>(s.running));
      scrape.Gauge("consumer_hung_handlers", "Timed-out handler calls that have not returned",
                   group, static_cast<double>(s.hung));
      scrape.Gauge("consumer_dlq_blocked", "1 while the DLQ cannot be written (group paused)",
                   group, s.dlq_blocked ? 1 : 0);
      scrape.Gauge("consumer_assigned_partitions", "Partitions assigned to this member", group,
                   static_cast<double>(s.assigned_partitions));
      scrape.Gauge("consumer_paused_partitions", "Partitions paused (backpressure, DLQ, stop)",
                   group, static_cast<double>(s.paused_partitions));
      for (const auto& [tp, lag] : self->Lags()) {
        scrape.Gauge("consumer_lag_records",
                     "High watermark minus the group's committed offset, per assigned partition",
                     {{"consumer_group", self->spec.name},
                      {"topic", tp.topic},
                      {"partition", std::to_string(tp.partition.value())}},
                     static_cast<double>(lag));
      }
    });
  }

  const Handler* FindHandler(const Task& t) const {
    if (t.type != nullptr) {
      auto it = type_handlers.find(t.type->spec().name);
      if (it != type_handlers.end()) return &it->second;
    }
    auto it = topic_handlers.find(t.record.topic());
    if (it == topic_handlers.end()) {
      // A record of a migration's new topic goes to the old topic's handler.
      std::lock_guard<std::mutex> lock(alias_mu);
      it = topic_handlers.find(migrate::HandlerTopic(alias_states, t.record.topic()));
    }
    return it == topic_handlers.end() ? nullptr : &it->second;
  }

  // One attempt, with mu released.
  AttemptResult Attempt(Task& t, Slot& slot) {
    AttemptResult r;
    auto fail = [&](ErrorClass c, std::string message, std::string context = {}) {
      r.verdict = Verdict::kFailed;
      r.error_class = c;
      r.message = std::move(message);
      r.context = std::move(context);
      return r;
    };
    DecodeTask(t);
    if (!t.decode_ok) return fail(t.decode_error.error_class, t.decode_error.message);
    if (dedup && !t.dedup_claimed) {
      switch (dedup->Claim(t.dedup_key, WallClockMs())) {
        case DedupStore::ClaimResult::kClaimed:
          t.dedup_claimed = true;
          break;
        case DedupStore::ClaimResult::kInProgress:
        case DedupStore::ClaimResult::kDone:
          r.verdict = Verdict::kDuplicate;
          return r;
      }
    }
    const Handler* handler = FindHandler(t);
    if (handler == nullptr) {
      return fail(ErrorClass::kSchemaValidation,
                  fmt::format("{}: no handler in group {} for event type {}", Coordinates(t.record),
                              spec.name, t.type != nullptr ? t.type->spec().name : "(unknown)"));
    }
    MessageImpl message(t, slot);
    struct ObserveDuration {
      observe::Histogram* h;
      SteadyTime since;
      ~ObserveDuration() {
        if (h != nullptr) {
          h->Observe(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count());
        }
      }
    } observe_duration{meters ? meters->processing : nullptr, std::chrono::steady_clock::now()};
    try {
      HandlerResult h = (*handler)(message);
      if (!h.ok()) return fail(h.error_class(), h.message(), h.context());
    } catch (const std::exception& e) {
      return fail(ErrorClass::kUnknown, fmt::format("handler threw: {}", e.what()),
                  "exception escaped the handler");
    } catch (...) {
      return fail(ErrorClass::kUnknown, "handler threw a non-standard exception",
                  "exception escaped the handler");
    }
    if (dedup && !slot.cancelled.load()) {
      Status s = dedup->Done(t.dedup_key, WallClockMs());
      if (!s.ok()) spdlog::error("group {}: {}", spec.name, s.ToString());
      t.dedup_claimed = false;
    }
    return r;
  }

  // --- timer ------------------------------------------------------------------

  void TimerLoop() {
    std::unique_lock<std::mutex> lock(mu);
    while (!timer_exit) {
      const Clock::TimePoint now = clock->Now();
      bool woke_workers = false;
      while (!delay.empty() && delay.begin()->first <= now) {
        ready.push_back(std::move(delay.begin()->second));
        delay.erase(delay.begin());
        --stats.waiting_retry;
        woke_workers = true;
      }
      if (spec.timeout) {
        std::vector<Slot*> expired;
        for (Slot* s : running) {
          if (s->deadline <= now) expired.push_back(s);
        }
        for (Slot* s : expired) {
          s->timed_out = true;
          s->cancelled.store(true);
          running.erase(s);
          --stats.running;
          ++stats.hung;
          ++stats.timeouts;
          if (meters) meters->timeouts->Inc();
          --s->task->part->outstanding;
          spdlog::warn("group {}: {} timed out after {} ms (attempt {}); its worker is replaced",
                       spec.name, Coordinates(s->task->record), spec.timeout->count(), s->attempt);
          OnFailureLocked(s->task, ErrorClass::kTimeout,
                          fmt::format("processing timed out after {} ms", spec.timeout->count()),
                          fmt::format("attempt {}", s->attempt));
          SpawnWorkerLocked();
          woke_workers = true;
        }
        if (!expired.empty()) state_cv.notify_all();
      }
      if (spec.reorder) {
        const Clock::TimePoint cutoff = now - options.reorder_max_wait;
        for (auto& [tp, p] : parts) {
          if (p->revoked || !p->reorder || p->reorder->held() == 0) continue;
          if (p->reorder->OldestHeld() > cutoff) continue;
          std::vector<std::shared_ptr<Task>> release;
          p->reorder->Expire(cutoff + milliseconds(1), &release);
          for (auto& t : release) EnqueueLocked(t);
          woke_workers = woke_workers || !release.empty();
        }
      }
      while (!dlq_retry.empty() && dlq_retry.begin()->first <= now) {
        outbox.push_back(std::move(dlq_retry.begin()->second));
        dlq_retry.erase(dlq_retry.begin());
        ++dlq_resending;
      }
      if (woke_workers) work_cv.notify_all();
      Flush(lock);
      // Sleep until the earliest deadline.
      Clock::TimePoint next = Clock::TimePoint::max();
      if (!delay.empty()) next = std::min(next, delay.begin()->first);
      if (!dlq_retry.empty()) next = std::min(next, dlq_retry.begin()->first);
      for (Slot* s : running) next = std::min(next, s->deadline);
      if (spec.reorder) {
        for (auto& [tp, p] : parts) {
          if (p->reorder && p->reorder->held() > 0) {
            next = std::min(next, p->reorder->OldestHeld() + options.reorder_max_wait);
          }
        }
      }
      if (timer_exit) break;
      timer_next = next;
      if (next == Clock::TimePoint::max()) {
        timer_cv.wait(lock);
      } else {
        clock->WaitUntil(timer_cv, lock, next);
      }
      timer_next = Clock::TimePoint::max();
    }
  }

  // --- poll thread --------------------------------------------------------------

  void CommitOffsets(const std::vector<TopicPartitionOffset>& offsets, bool sync) {
    Status s = sync ? consumer->Commit(offsets) : consumer->CommitAsync(offsets);
    if (!s.ok()) {
      spdlog::warn("group {}: commit failed: {}", spec.name, s.ToString());
      return;
    }
    std::lock_guard<std::mutex> lock(mu);
    ++stats.commits;
  }

  void CommitFinished(bool sync) {
    std::vector<TopicPartitionOffset> offsets;
    std::vector<std::pair<TopicPartition, int64_t>> highs;
    for (const auto& tp : AssignedPartitions()) {
      highs.emplace_back(tp, consumer->CachedWatermarks(tp).high.value());
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [tp, high] : highs) {
        if (auto it = parts.find(tp); it != parts.end() && high >= 0) {
          it->second->high_watermark = high;
        }
      }
      for (auto& [tp, p] : parts) {
        if (auto o = PopFinishedLocked(*p)) {
          offsets.push_back(*o);
          p->committed = o->offset.value();
        }
      }
    }
    if (!offsets.empty()) CommitOffsets(offsets, sync);
  }

  // The assigned partitions (a copy, taken under mu).
  std::vector<TopicPartition> AssignedPartitions() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<TopicPartition> out;
    for (const auto& [tp, p] : parts) out.push_back(tp);
    return out;
  }

  // True when a partition that is not paused holds max_pending_per_partition
  // unfinished records or more.
  bool OverLimitLocked(size_t limit) const {
    return std::any_of(parts.begin(), parts.end(), [&](const auto& kv) {
      return !kv.second->paused && kv.second->unfinished >= limit;
    });
  }

  // Backpressure, first step: while a partition is full, the poll thread
  // waits (up to 100 ms) for the workers to bring it below half before it
  // polls again. librdkafka keeps fetching into its own bounded queue
  // meanwhile, so nothing read ahead is lost — pausing a partition would
  // drop its prefetched records and cost a re-fetch on resume. Only a wait
  // that times out (slow or stuck handlers) leads to pausing.
  void WaitForRoom() {
    std::unique_lock<std::mutex> lock(mu);
    const size_t limit = options.max_pending_per_partition;
    backlog_stuck = false;
    if (stop_requested || !OverLimitLocked(limit)) return;
    poll_waiting = true;
    room_cv.wait_for(lock, milliseconds(100), [&] {
      return stop_requested || !OverLimitLocked(std::max<size_t>(limit / 2, 1));
    });
    poll_waiting = false;
    backlog_stuck = OverLimitLocked(limit);
  }

  // Pauses partitions that stayed full through WaitForRoom(), all of them
  // while the DLQ is blocked or the group is stopping; resumes the others.
  void ApplyFlowControl() {
    std::vector<TopicPartition> pause, resume;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& [tp, p] : parts) {
        const bool want = stopping || DlqBlockedLocked() ||
                          (backlog_stuck && p->unfinished >= options.max_pending_per_partition) ||
                          (p->paused && p->unfinished > options.max_pending_per_partition / 4);
        if (want != p->paused) {
          p->paused = want;
          (want ? pause : resume).push_back(tp);
        }
      }
    }
    if (!pause.empty()) {
      if (Status s = consumer->Pause(pause); !s.ok()) spdlog::warn("pause: {}", s.ToString());
    }
    if (!resume.empty()) {
      if (Status s = consumer->Resume(resume); !s.ok()) spdlog::warn("resume: {}", s.ToString());
    }
  }

  void Dispatch(std::vector<Record>& records) {
    std::vector<std::shared_ptr<Task>> tasks;
    tasks.reserve(records.size());
    for (Record& r : records) {
      auto t = std::make_shared<Task>();
      t->record = std::move(r);
      tasks.push_back(std::move(t));
    }
    // Reordering needs the sequence number now; decode here, unlocked.
    if (spec.reorder) {
      for (auto& t : tasks) DecodeTask(*t);
    }
    std::unique_lock<std::mutex> lock(mu);
    PartState* last = nullptr;
    std::shared_ptr<PartState> part;
    std::vector<std::shared_ptr<Task>> release, late;
    for (auto& t : tasks) {
      TopicPartition tp{std::string(t->record.topic()), t->record.partition()};
      if (last == nullptr || last->tp != tp) {
        auto it = parts.find(tp);
        part = it == parts.end() ? nullptr : it->second;
        last = part.get();
      }
      // Not ours (any more), or stopping: not entered, so never committed.
      if (part == nullptr || part->revoked || stopping) continue;
      ++stats.received;
      part->pending.push_back(Entry{t->record.offset()});
      ++part->unfinished;
      if (part->committed < 0) part->committed = t->record.offset().value();
      t->entry = &part->pending.back();
      t->part = part;
      if (!mig_states.empty() && migrate::SkipRecord(mig_states, spec.name, t->record)) {
        // A migration's copy whose twin this group handles (state.h).
        ++stats.migration_skipped;
        MarkDoneLocked(*t);
        continue;
      }
      if (part->reorder && t->decode_ok && t->record.key()) {
        release.clear();
        late.clear();
        if (part->reorder->Offer(std::string(*t->record.key()), t->sequence, t, clock->Now(),
                                 &release, &late)) {
          ++stats.reordered;
        }
        for (auto& r : release) EnqueueLocked(r);
        for (auto& l : late) LateLocked(l);
        if (part->reorder->held() > 0) {
          NotifyTimerIfEarlierLocked(part->reorder->OldestHeld() + options.reorder_max_wait);
        }
        continue;
      }
      EnqueueLocked(t);
    }
    work_cv.notify_all();
    Flush(lock);
  }

  void LateLocked(const std::shared_ptr<Task>& t) {
    if (spec.reorder->late == LatePolicy::kDrop) {
      ++stats.late_dropped;
      if (meters) meters->late->Inc();
      MarkDoneLocked(*t);
      return;
    }
    t->last_class = ErrorClass::kBusinessLogic;
    t->last_error = fmt::format("{}: {} {} arrived later than the reorder tolerance of {}",
                                Coordinates(t->record), spec.reorder->sequence_field, t->sequence,
                                spec.reorder->tolerance);
    DeadLetterLocked(t);
  }

  void PollLoop() {
    SteadyTime last_commit = std::chrono::steady_clock::now();
    for (;;) {
      std::vector<std::string> subscribe;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stop_requested) break;
        if (resubscribe) {
          subscribe = topics;
          resubscribe = false;
        }
      }
      if (!subscribe.empty()) {
        if (Status s = Resubscribe(subscribe); !s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (error.ok()) error = s;
          spdlog::error("group {}: {}", spec.name, s.ToString());
          RequestStopLocked();
          break;
        }
      }
      WaitForRoom();
      // Short enough that a commit_interval below 100 ms is kept while the
      // partitions are paused and no records come.
      auto polled =
          consumer->Poll(std::min<milliseconds>(milliseconds(100), options.commit_interval));
      if (!polled.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (error.ok()) error = polled.status();
        spdlog::error("group {}: {}", spec.name, polled.status().ToString());
        RequestStopLocked();
        break;
      }
      if (!polled->empty()) Dispatch(*polled);
      ApplyFlowControl();
      const SteadyTime now = std::chrono::steady_clock::now();
      if (now - last_commit >= options.commit_interval) {
        CommitFinished(/*sync=*/false);
        last_commit = now;
      }
    }
    Drain();
  }

  Result<std::unique_ptr<kafka::Consumer>> MakeConsumer() {
    kafka::ClientConfig cc = config;
    cc.Set("group.id", spec.name);
    kafka::ConsumerOptions co;
    co.group_id = spec.name;
    co.listener = this;
    return kafka::Consumer::Create(std::move(cc), co);
  }

  // Reads |want| from now on (a migration step changed the group's topics),
  // through a new Kafka consumer: the old one leaves the group — revoking
  // through OnRevoked, which commits what is finished — and is destroyed
  // at once. Re-subscribing the same consumer would keep the old topic's
  // partitions known to it, and librdkafka 2.0.2 then hangs destroying it
  // once that topic is deleted (migrate cleanup; librdkafka issue #3470).
  Status Resubscribe(const std::vector<std::string>& want) {
    WEIR_ASSIGN_OR_RETURN(auto fresh, MakeConsumer());
    CommitFinished(/*sync=*/true);
    if (Status s = consumer->Close(); !s.ok()) {
      spdlog::warn("group {}: leaving to re-subscribe: {}", spec.name, s.ToString());
    }
    std::unique_ptr<kafka::Consumer> old;
    {
      std::lock_guard<std::mutex> lock(mu);
      old = std::move(consumer);
      consumer = std::move(fresh);
      // A hung handler still holds a record of the old consumer, which
      // pins its handle: destroy it at Stop().
      if (stats.hung > 0) retired.push_back(std::move(old));
    }
    old.reset();
    spdlog::info("group {}: subscribed to {}", spec.name, fmt::join(want, ", "));
    return consumer->Subscribe(want);
  }

  // Stops taking records, lets queued and running work finish until the stop
  // deadline, commits what is finished and closes the consumer.
  void Drain() {
    SteadyTime deadline;
    {
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
      deadline = stop_deadline;
      // Records waiting for a retry are not waited for: they are read again
      // after the restart. Records held for reordering are released now.
      for (auto it = delay.begin(); it != delay.end();) {
        AbandonLocked(*it->second);
        --stats.waiting_retry;
        it = delay.erase(it);
      }
      for (auto& [tp, p] : parts) {
        if (!p->reorder) continue;
        std::vector<std::shared_ptr<Task>> release;
        p->reorder->Flush(&release);
        for (auto& t : release) EnqueueLocked(t);
      }
      work_cv.notify_all();
    }
    ApplyFlowControl();
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        const bool idle = ready.empty() && running.empty() && outbox.empty() &&
                          std::all_of(parts.begin(), parts.end(),
                                      [](const auto& kv) { return kv.second->outstanding == 0; });
        if (idle || std::chrono::steady_clock::now() >= deadline) {
          if (!idle) {
            spdlog::warn(
                "group {}: stop deadline reached with work unfinished; it stays "
                "uncommitted and is read again on restart",
                spec.name);
          }
          break;
        }
      }
      // Keep serving the group (heartbeats, rebalances) while waiting.
      auto polled = consumer->Poll(milliseconds(50));
      (void)polled;  // paused: records that still arrive are not entered
    }
    CommitFinished(/*sync=*/true);
    // Close() revokes what is left through OnRevoked, which commits again
    // and counts what stays unfinished.
    Status s = consumer->Close();
    if (!s.ok()) spdlog::warn("group {}: close: {}", spec.name, s.ToString());
    std::lock_guard<std::mutex> lock(mu);
    stopped = true;
    state_cv.notify_all();
  }
};

GroupRuntime::GroupRuntime(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

GroupRuntime::~GroupRuntime() {
  Stop(std::chrono::seconds(5));
  if (impl_->meters) impl_->options.metrics->RemoveCollector(impl_->meters->collector);
}

Result<std::unique_ptr<GroupRuntime>> GroupRuntime::Create(const Topology& topology,
                                                           std::string_view group,
                                                           kafka::ClientConfig config,
                                                           RuntimeOptions options) {
  const ConsumerGroupSpec* spec = topology.FindGroup(group);
  if (spec == nullptr) {
    std::vector<std::string> names;
    for (const ConsumerGroupSpec& g : topology.consumer_groups) names.push_back(g.name);
    return Status::NotFound(
        fmt::format("{}: no consumer group \"{}\" (declared: {})", topology.path, group,
                    names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  }
  auto impl = std::make_shared<Impl>();
  impl->spec = *spec;
  impl->clock = options.clock != nullptr ? options.clock : &Clock::Steady();
  impl->concurrency = options.concurrency.value_or(spec->concurrency);
  if (impl->concurrency < 1) {
    return Status::InvalidArgument(
        fmt::format("group {}: concurrency must be at least 1", spec->name));
  }
  impl->rng.seed(options.jitter_seed != 0 ? options.jitter_seed : std::random_device{}());
  if (!options.decode && (spec->dedup || spec->reorder)) {
    return Status::InvalidArgument(
        fmt::format("{}: group {} has {} and so needs its records decoded", spec->where.ToString(),
                    spec->name, spec->dedup ? "dedup:" : "reorder:"));
  }
  auto decoder = RecordDecoder::Create(topology, *spec, options.registry);
  if (!decoder.ok()) return decoder.status();
  impl->decoder = std::move(*decoder);
  if (spec->dedup) {
    for (const std::string& f : spec->dedup->fields) {
      impl->field_paths.push_back(publish::SplitFieldPath(f));
    }
    if (spec->dedup->persistent) {
      std::string path = options.dedup_path;
      if (path.empty()) {
        path =
            (std::filesystem::path(topology.folder) / ".weir" / "dedup" / (spec->name + ".sqlite"))
                .string();
      }
      auto store = DedupStore::OpenPersistent(path, spec->dedup->ttl, WallClockMs());
      if (!store.ok()) return store.status();
      impl->dedup = std::move(*store);
    } else {
      impl->dedup = std::make_unique<DedupStore>(spec->dedup->ttl);
    }
  }
  impl->dedup_fields = impl->field_paths.size();
  if (spec->reorder) {
    impl->field_paths.push_back(publish::SplitFieldPath(spec->reorder->sequence_field));
  }
  for (const auto& [name, value] : spec->properties) config.Set(name, value.value);
  impl->config = config;
  if (!spec->dlq_topic.empty()) {
    // The DLQ producer shares the cluster settings, not the consumer's: the
    // group's properties and consumer-only librdkafka properties are left out
    // (librdkafka would warn about each).
    kafka::ClientConfig pc = config.ForProducer();
    for (const auto& [name, value] : spec->properties) pc.Erase(name);
    pc.SetDefault("message.timeout.ms", "30000");
    auto producer = kafka::Producer::Create(pc);
    if (!producer.ok()) return producer.status();
    impl->dlq_producer = std::move(*producer);
  }
  impl->options = std::move(options);
  if (impl->options.metrics != nullptr) impl->SetUpMetrics(*impl->options.metrics);
  return std::unique_ptr<GroupRuntime>(new GroupRuntime(std::move(impl)));
}

Status GroupRuntime::OnTopic(std::string_view topic, Handler handler) {
  Impl& d = *impl_;
  if (std::find(d.spec.topics.begin(), d.spec.topics.end(), topic) == d.spec.topics.end()) {
    return Status::InvalidArgument(fmt::format("group {} does not read topic {} (it reads: {})",
                                               d.spec.name, topic, fmt::join(d.spec.topics, ", ")));
  }
  std::lock_guard<std::mutex> lock(d.mu);
  if (d.started) return Status::InvalidArgument("handlers must be registered before Start()");
  d.topic_handlers[std::string(topic)] = std::move(handler);
  return Status::Ok();
}

Status GroupRuntime::OnEventType(std::string_view event_type, Handler handler) {
  Impl& d = *impl_;
  bool known = false;
  for (const std::string& topic : d.spec.topics) {
    for (const std::string& t : d.decoder->TypesOf(topic)) known = known || t == event_type;
  }
  if (!known) {
    return Status::InvalidArgument(
        fmt::format("group {}: event type {} is not routed to any of its topics ({})", d.spec.name,
                    event_type, fmt::join(d.spec.topics, ", ")));
  }
  std::lock_guard<std::mutex> lock(d.mu);
  if (d.started) return Status::InvalidArgument("handlers must be registered before Start()");
  d.type_handlers[std::string(event_type)] = std::move(handler);
  return Status::Ok();
}

Status GroupRuntime::Start() {
  Impl& d = *impl_;
  for (const std::string& topic : d.spec.topics) {
    if (d.topic_handlers.count(topic) != 0) continue;
    std::vector<std::string> types = d.decoder->TypesOf(topic);
    const bool covered =
        !types.empty() && std::all_of(types.begin(), types.end(), [&](const std::string& t) {
          return d.type_handlers.count(t) != 0;
        });
    if (!covered) {
      return Status::InvalidArgument(fmt::format(
          "group {}: topic {} has no handler (register one with OnTopic, or one per event type "
          "routed to it: {})",
          d.spec.name, topic,
          types.empty() ? "none declared" : fmt::format("{}", fmt::join(types, ", "))));
    }
  }
  if (d.options.watch_migrations && !d.watcher) {
    migrate::WatcherOptions wo;
    wo.role = "group";
    wo.group = d.spec.name;
    wo.heartbeat = d.options.migration_heartbeat;
    Impl* raw = &d;
    auto watcher = migrate::Watcher::Start(
        d.config, std::move(wo),
        [raw](const migrate::States& states) { return raw->ApplyMigrations(states); },
        std::chrono::milliseconds(5000));
    if (!watcher.ok()) return watcher.status();
    d.watcher = std::move(*watcher);
  } else if (!d.options.watch_migrations) {
    WEIR_RETURN_IF_ERROR(d.ApplyMigrations({}));
  }
  std::vector<std::string> topics;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    topics = d.topics;
    d.resubscribe = false;
  }
  auto consumer = d.MakeConsumer();
  if (!consumer.ok()) return consumer.status();
  if (Status s = (*consumer)->Subscribe(topics); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(d.mu);
  if (d.started) return Status::InvalidArgument("already started");
  d.started = true;
  d.consumer = std::move(*consumer);
  for (int i = 0; i < d.concurrency; ++i) d.SpawnWorkerLocked();
  d.timer_thread = std::thread([self = impl_] { self->TimerLoop(); });
  d.poll_thread = std::thread([self = impl_] { self->PollLoop(); });
  return Status::Ok();
}

Status GroupRuntime::Stop(std::chrono::milliseconds deadline) {
  Impl& d = *impl_;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    if (!d.started) return d.error;
    if (!d.stop_requested) {
      d.stop_requested = true;
      d.stop_deadline = std::chrono::steady_clock::now() + deadline;
    }
    if (d.consumer) d.consumer->Wakeup();
  }
  const SteadyTime hard_deadline = std::chrono::steady_clock::now() + deadline;
  if (d.poll_thread.joinable()) d.poll_thread.join();
  if (d.watcher) d.watcher->Stop();
  std::vector<WorkerThread> workers;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    d.workers_exit = true;
    d.timer_exit = true;
    d.work_cv.notify_all();
    d.timer_cv.notify_all();
    workers.swap(d.workers);
  }
  if (d.timer_thread.joinable()) d.timer_thread.join();
  // Workers still inside a timed-out handler cannot be interrupted: wait for
  // them until the deadline, then let them go (they hold the Impl alive).
  size_t detached = 0;
  for (WorkerThread& w : workers) {
    while (!w.finished->load() && std::chrono::steady_clock::now() < hard_deadline) {
      std::unique_lock<std::mutex> lock(d.mu);
      d.state_cv.wait_for(lock, milliseconds(20));
    }
    if (w.finished->load()) {
      w.thread.join();
    } else {
      w.thread.detach();
      ++detached;
    }
  }
  if (detached > 0) {
    spdlog::warn("group {}: {} handler thread(s) still hung at stop were detached", d.spec.name,
                 detached);
    // A hung handler still holds its record, which pins the consumer's
    // librdkafka handle: leak it rather than wait for the handler forever.
    (void)d.consumer.release();
    for (auto& c : d.retired) (void)c.release();
  } else {
    d.consumer.reset();
  }
  d.retired.clear();
  if (d.dlq_producer) {
    Status s = d.dlq_producer->Close(std::chrono::seconds(5));
    if (!s.ok()) spdlog::warn("group {}: DLQ producer: {}", d.spec.name, s.ToString());
  }
  std::lock_guard<std::mutex> lock(d.mu);
  d.started = false;
  return d.error;
}

bool GroupRuntime::WaitStopped(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->state_cv.wait_for(lock, timeout, [&] { return impl_->stopped; });
}

Status GroupRuntime::error() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->error;
}

GroupStats GroupRuntime::Stats() const { return impl_->Snapshot(); }

const ConsumerGroupSpec& GroupRuntime::spec() const { return impl_->spec; }

}  // namespace weir::consume
