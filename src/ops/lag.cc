// ops/lag.cc — Burrow's lag storage and evaluation rules, and a monitor that
// feeds them from __consumer_offsets and the partitions' end offsets.

#include "weir/ops/lag.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/wall_clock.h"
#include "weir/kafka/admin.h"
#include "weir/kafka/consumer.h"

namespace weir::ops {

std::string_view LagStatusName(LagStatus s) {
  switch (s) {
    case LagStatus::kNotFound:
      return "NOTFOUND";
    case LagStatus::kOk:
      return "OK";
    case LagStatus::kWarn:
      return "WARN";
    case LagStatus::kErr:
      return "ERR";
    case LagStatus::kStop:
      return "STOP";
    case LagStatus::kStall:
      return "STALL";
    case LagStatus::kRewind:
      return "REWIND";
  }
  return "?";
}

const PartitionLag* GroupLag::MaxLag() const {
  const PartitionLag* max = nullptr;
  for (const PartitionLag& p : partitions) {
    if (max == nullptr || p.lag > max->lag) max = &p;
  }
  return max;
}

// A fixed-size ring of the newest entries, like Go's container/ring as
// Burrow uses it: |next| is the slot the next entry goes to, which is also
// the oldest entry once the ring is full.
template <typename T>
struct RingOf {
  std::vector<std::optional<T>> slots;
  size_t next = 0;

  explicit RingOf(size_t n = 1) : slots(std::max<size_t>(n, 1)) {}
  std::optional<T>& Last() { return slots[(next + slots.size() - 1) % slots.size()]; }
  const std::optional<T>& Last() const { return slots[(next + slots.size() - 1) % slots.size()]; }
  void Push(T v) {
    slots[next] = std::move(v);
    next = (next + 1) % slots.size();
  }
  // Every entry, oldest first (empty slots skipped).
  std::vector<T> Values() const {
    std::vector<T> out;
    for (size_t i = 0; i < slots.size(); ++i) {
      const auto& s = slots[(next + i) % slots.size()];
      if (s) out.push_back(*s);
    }
    return out;
  }
};

using Ring = RingOf<LagSample>;

struct LagEvaluator::State {
  struct Topic {
    std::vector<RingOf<int64_t>> partitions;  // end offsets per partition
  };
  struct Group {
    std::map<std::pair<std::string, int32_t>, Ring> partitions;
    int64_t last_commit_ms = 0;
  };
  LagRules rules;
  std::map<std::string, Topic> topics;
  std::map<std::string, Group> groups;
};

LagEvaluator::LagEvaluator(LagRules rules) : s_(std::make_unique<State>()) {
  s_->rules = rules;
  s_->rules.intervals = std::max(rules.intervals, 1);
}
LagEvaluator::~LagEvaluator() = default;
LagEvaluator::LagEvaluator(LagEvaluator&&) noexcept = default;
LagEvaluator& LagEvaluator::operator=(LagEvaluator&&) noexcept = default;

void LagEvaluator::AddEndOffset(const std::string& topic, int32_t partition,
                                int32_t partition_count, int64_t end_offset) {
  if (partition < 0 || partition >= partition_count) return;
  State::Topic& t = s_->topics[topic];
  while (t.partitions.size() < static_cast<size_t>(partition_count)) {
    t.partitions.emplace_back(static_cast<size_t>(s_->rules.intervals));
  }
  t.partitions[static_cast<size_t>(partition)].Push(end_offset);
}

bool LagEvaluator::AddCommit(const std::string& group, const std::string& topic, int32_t partition,
                             int64_t offset, int64_t timestamp_ms, int64_t now_ms) {
  if (timestamp_ms < now_ms - s_->rules.expire_group.count()) return false;
  auto tit = s_->topics.find(topic);
  if (tit == s_->topics.end() || partition < 0 ||
      static_cast<size_t>(partition) >= tit->second.partitions.size()) {
    return false;
  }
  const auto& end = tit->second.partitions[static_cast<size_t>(partition)].Last();
  if (!end) return false;
  State::Group& g = s_->groups[group];
  auto [it, inserted] =
      g.partitions.try_emplace({topic, partition}, static_cast<size_t>(s_->rules.intervals));
  Ring& ring = it->second;
  LagSample sample{offset, timestamp_ms, std::max<int64_t>(*end - offset, 0)};
  if (auto& last = ring.Last();
      last && timestamp_ms - last->timestamp_ms < s_->rules.min_distance.count()) {
    // Too close to the previous commit: it takes that sample's place and
    // keeps its timestamp (Burrow's min-distance).
    sample.timestamp_ms = last->timestamp_ms;
    last = sample;
  } else {
    ring.Push(sample);
  }
  g.last_commit_ms = sample.timestamp_ms;
  return true;
}

std::vector<std::string> LagEvaluator::Groups() const {
  std::vector<std::string> out;
  for (const auto& [name, g] : s_->groups) out.push_back(name);
  return out;
}

namespace {

LagStatus PartitionStatus(const std::vector<LagSample>& w, const std::vector<int64_t>& ends,
                          int64_t current_lag, int64_t now_ms) {
  if (current_lag <= 0 || w.empty()) return LagStatus::kOk;
  // Burrow compares with the time in whole seconds.
  const int64_t now = now_ms / 1000 * 1000;
  const LagSample& first = w.front();
  const LagSample& last = w.back();
  const bool stopped = now - last.timestamp_ms > last.timestamp_ms - first.timestamp_ms;
  const bool recent_lag_zero =
      std::any_of(ends.begin(), ends.end(), [&](int64_t e) { return e <= last.offset; });
  if (stopped && !recent_lag_zero) return LagStatus::kStop;
  if (std::any_of(w.begin(), w.end(), [](const LagSample& s) { return s.lag == 0; })) {
    return LagStatus::kOk;
  }
  bool rewind = false, stalled = true, not_decreasing = true;
  for (size_t i = 1; i < w.size(); ++i) {
    rewind |= w[i].offset < w[i - 1].offset;
    stalled &= w[i].offset == w[i - 1].offset;
    not_decreasing &= w[i].lag >= w[i - 1].lag;
  }
  if (rewind) return LagStatus::kRewind;
  if (stalled) return LagStatus::kStall;
  if (not_decreasing) return LagStatus::kWarn;
  return LagStatus::kOk;
}

}  // namespace

std::optional<GroupLag> LagEvaluator::Evaluate(const std::string& group, int64_t now_ms) const {
  auto git = s_->groups.find(group);
  if (git == s_->groups.end()) return std::nullopt;
  const State::Group& g = git->second;
  if (now_ms - s_->rules.expire_group.count() > g.last_commit_ms) return std::nullopt;
  GroupLag out;
  out.group = group;
  int complete_partitions = 0;
  // As in Burrow, a group has every partition of each topic it committed
  // to: those it never committed show with an empty window.
  std::map<std::pair<std::string, int32_t>, const Ring*> partitions;
  for (const auto& [key, ring] : g.partitions) {
    partitions[key] = &ring;
    if (auto tit = s_->topics.find(key.first); tit != s_->topics.end()) {
      for (size_t i = 0; i < tit->second.partitions.size(); ++i) {
        partitions.try_emplace({key.first, static_cast<int32_t>(i)}, nullptr);
      }
    }
  }
  const Ring empty(static_cast<size_t>(s_->rules.intervals));
  for (const auto& [key, ring_ptr] : partitions) {
    const Ring& ring = ring_ptr != nullptr ? *ring_ptr : empty;
    PartitionLag p;
    p.topic = key.first;
    p.partition = key.second;
    p.window = ring.Values();
    p.complete = static_cast<double>(p.window.size()) / static_cast<double>(ring.slots.size());
    std::vector<int64_t> ends;
    if (auto tit = s_->topics.find(key.first);
        tit != s_->topics.end() &&
        static_cast<size_t>(key.second) < tit->second.partitions.size()) {
      ends = tit->second.partitions[static_cast<size_t>(key.second)].Values();
    }
    if (!p.window.empty()) {
      p.committed = p.window.back().offset;
      if (!ends.empty()) {
        p.end_offset = ends.back();
        p.lag = std::max<int64_t>(p.end_offset - p.committed, 0);
      }
      p.status = PartitionStatus(p.window, ends, p.lag, now_ms);
      const LagSample& first = p.window.front();
      const LagSample& last = p.window.back();
      const double span_s = static_cast<double>(last.timestamp_ms - first.timestamp_ms) / 1000.0;
      const double moved = static_cast<double>(last.offset - first.offset);
      if (p.lag == 0) {
        p.lag_seconds = 0.0;
      } else if (span_s > 0 && moved > 0) {
        p.lag_seconds = static_cast<double>(p.lag) / (moved / span_s);
      }
    }
    if (p.complete >= 1.0) ++complete_partitions;
    out.total_lag += p.lag;
    if (p.status > out.status) {
      out.status = p.status > LagStatus::kErr ? LagStatus::kErr : p.status;
    }
    out.partitions.push_back(std::move(p));
  }
  out.complete = out.partitions.empty() ? 0.0
                                        : static_cast<double>(complete_partitions) /
                                              static_cast<double>(out.partitions.size());
  return out;
}

// --- __consumer_offsets records ----------------------------------------------

namespace {

// Big-endian reads over a byte string; any read past the end fails.
class BeReader {
 public:
  explicit BeReader(std::string_view b) : b_(b) {}
  template <typename T>
  bool Int(T* out) {
    if (b_.size() < sizeof(T)) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v = (v << 8) | static_cast<uint8_t>(b_[i]);
    *out = static_cast<T>(v);
    b_.remove_prefix(sizeof(T));
    return true;
  }
  bool String(std::string* out) {
    int16_t n = 0;
    if (!Int(&n) || n < 0 || b_.size() < static_cast<size_t>(n)) return false;
    if (out != nullptr) out->assign(b_.substr(0, static_cast<size_t>(n)));
    b_.remove_prefix(static_cast<size_t>(n));
    return true;
  }

 private:
  std::string_view b_;
};

}  // namespace

std::optional<OffsetCommitRecord> DecodeOffsetCommitRecord(std::string_view key,
                                                           std::string_view value) {
  if (value.empty()) return std::nullopt;  // tombstone
  BeReader k(key);
  int16_t key_version = 0;
  if (!k.Int(&key_version) || (key_version != 0 && key_version != 1)) return std::nullopt;
  OffsetCommitRecord r;
  if (!k.String(&r.group) || !k.String(&r.topic) || !k.Int(&r.partition)) return std::nullopt;
  BeReader v(value);
  int16_t value_version = 0;
  if (!v.Int(&value_version) || !v.Int(&r.offset)) return std::nullopt;
  int32_t leader_epoch = 0;
  switch (value_version) {
    case 0:
    case 1:
    case 2:  // offset, metadata, commit timestamp [, expire timestamp (v1)]
      if (!v.String(nullptr) || !v.Int(&r.commit_timestamp_ms)) return std::nullopt;
      break;
    case 3:  // offset, leader epoch, metadata, commit timestamp
      if (!v.Int(&leader_epoch) || !v.String(nullptr) || !v.Int(&r.commit_timestamp_ms)) {
        return std::nullopt;
      }
      break;
    default:
      return std::nullopt;
  }
  return r;
}

// --- LagMonitor ----------------------------------------------------------------

namespace {
constexpr const char* kOffsetsTopic = "__consumer_offsets";
}

struct LagMonitor::Impl {
  kafka::ClientConfig config;
  LagEvaluator evaluator;
  std::unique_ptr<kafka::Admin> admin;
  std::unique_ptr<kafka::Consumer> consumer;
  std::map<int32_t, int64_t> next;  // per __consumer_offsets partition
};

LagMonitor::LagMonitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LagMonitor::~LagMonitor() = default;

Result<std::unique_ptr<LagMonitor>> LagMonitor::Create(kafka::ClientConfig config, LagRules rules) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->evaluator = LagEvaluator(rules);
  WEIR_ASSIGN_OR_RETURN(impl->admin, kafka::Admin::Create(config));
  return std::unique_ptr<LagMonitor>(new LagMonitor(std::move(impl)));
}

Status LagMonitor::RefreshEndOffsets(std::chrono::milliseconds timeout) {
  WEIR_ASSIGN_OR_RETURN(kafka::ClusterMetadata md, impl_->admin->Metadata(timeout));
  for (const kafka::TopicInfo& t : md.topics) {
    if (!t.error.ok()) continue;
    const auto count = static_cast<int32_t>(t.partitions.size());
    for (const kafka::PartitionInfo& p : t.partitions) {
      auto offsets = impl_->admin->ListOffsets({t.name, p.id}, timeout);
      if (!offsets.ok()) {
        return Status(offsets.status().code(),
                      fmt::format("end offset of {}-{}: {}", t.name, p.id.value(),
                                  offsets.status().message()));
      }
      impl_->evaluator.AddEndOffset(t.name, p.id.value(), count, offsets->second.value());
    }
  }
  return Status::Ok();
}

Result<int64_t> LagMonitor::ReadCommits(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  WEIR_ASSIGN_OR_RETURN(kafka::ClusterMetadata md, impl_->admin->Metadata(timeout, true));
  const kafka::TopicInfo* topic = md.FindTopic(kOffsetsTopic);
  if (topic == nullptr) {
    return Status::NotFound(
        fmt::format("the cluster has no {} topic: no consumer group has committed "
                    "offsets yet",
                    kOffsetsTopic));
  }
  if (!impl_->consumer) {
    kafka::ClientConfig c = impl_->config;
    WEIR_ASSIGN_OR_RETURN(impl_->consumer, kafka::Consumer::Create(c, {}));
  }
  // Where each partition ends now: this call reads up to there.
  std::map<int32_t, int64_t> target;
  std::vector<TopicPartitionOffset> assign;
  for (const kafka::PartitionInfo& p : topic->partitions) {
    auto w = impl_->admin->ListOffsets({kOffsetsTopic, p.id}, timeout);
    if (!w.ok()) {
      return Status(w.status().code(), fmt::format("end offset of {}-{}: {}", kOffsetsTopic,
                                                   p.id.value(), w.status().message()));
    }
    auto it = impl_->next.try_emplace(p.id.value(), w->first.value()).first;
    it->second = std::max(it->second, w->first.value());  // retention may have moved the start
    if (it->second < w->second.value()) {
      target[p.id.value()] = w->second.value();
      assign.push_back({kOffsetsTopic, p.id, Offset(it->second), {}});
    }
  }
  int64_t commits = 0;
  if (assign.empty()) return commits;
  WEIR_RETURN_IF_ERROR(impl_->consumer->Assign(assign));
  while (!target.empty()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Timeout(
          fmt::format("reading {}: {} partition(s) not read to their end within {} ms",
                      kOffsetsTopic, target.size(), timeout.count()));
    }
    WEIR_ASSIGN_OR_RETURN(std::vector<Record> records,
                          impl_->consumer->Poll(std::chrono::milliseconds(200)));
    const int64_t now = WallClockMs();
    for (const Record& r : records) {
      const int32_t part = r.partition().value();
      impl_->next[part] = r.offset().value() + 1;
      auto c = DecodeOffsetCommitRecord(r.key().value_or(""), r.value().value_or(""));
      if (c) {
        impl_->evaluator.AddCommit(c->group, c->topic, c->partition, c->offset,
                                   c->commit_timestamp_ms, now);
        ++commits;
      }
      if (auto t = target.find(part); t != target.end() && impl_->next[part] >= t->second) {
        target.erase(t);
      }
    }
  }
  WEIR_RETURN_IF_ERROR(impl_->consumer->Assign({}));
  return commits;
}

std::vector<std::string> LagMonitor::Groups() const { return impl_->evaluator.Groups(); }

std::optional<GroupLag> LagMonitor::Evaluate(const std::string& group) const {
  return impl_->evaluator.Evaluate(group, WallClockMs());
}

}  // namespace weir::ops
