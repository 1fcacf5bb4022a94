#include "weir/ops/dlq.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <future>
#include <utility>

#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"

namespace weir::ops {

using consume::DeadLetter;
using std::chrono::milliseconds;

bool DlqFilter::Matches(const DeadLetter& dl) const {
  if (!error_types.empty() && error_types.count(dl.error_type) == 0) return false;
  if (!original_topics.empty() && original_topics.count(dl.original_topic) == 0) return false;
  if (!groups.empty() && groups.count(dl.consumer_group) == 0) return false;
  if (!keys.empty() && (!dl.key || keys.count(*dl.key) == 0)) return false;
  if (since_ms && dl.timestamp_ms < *since_ms) return false;
  if (until_ms && dl.timestamp_ms > *until_ms) return false;
  return true;
}

std::string DlqScan::Covered() const {
  std::string out;
  for (const DlqPartitionRange& p : partitions) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} [{}] ", p.topic, p.partition.value());
    out += p.first_read < 0 ? std::string("none") : fmt::format("{}-{}", p.first_read, p.last_read);
  }
  return out;
}

void DlqStats::Add(const DeadLetter& dl, int64_t dlq_timestamp_ms) {
  ++total;
  ++by_error_type[dl.error_type];
  ++by_original_topic[dl.original_topic];
  ++by_group[dl.consumer_group];
  const int64_t at = dl.timestamp_ms >= 0 ? dl.timestamp_ms : dlq_timestamp_ms;
  if (at >= 0 && (oldest_ms < 0 || at < oldest_ms)) oldest_ms = at;
}

DlqStats Summarize(const std::vector<DlqEntry>& entries) {
  DlqStats stats;
  for (const DlqEntry& e : entries) stats.Add(e.dead_letter, e.dlq_timestamp_ms);
  return stats;
}

std::vector<Header> ReplayHeaders(const std::vector<Header>& original, int count) {
  std::vector<Header> out;
  bool placed = false;
  for (const Header& h : original) {
    if (h.key != consume::kReplayCountHeader) {
      out.push_back(h);
    } else if (!placed) {
      out.push_back(Header{h.key, std::to_string(count)});
      placed = true;
    }
  }
  if (!placed) {
    out.push_back(Header{std::string(consume::kReplayCountHeader), std::to_string(count)});
  }
  return out;
}

int64_t PurgeStep::PlannedLow() const { return before == kOffsetEnd ? high : before.value(); }

namespace {

// One partition being read: where reading starts, the high watermark it
// stops at, and how far it got.
struct PartitionRead {
  DlqPartitionRange range;
  Offset start = kOffsetBeginning;
  bool done = false;

  // The offset the next record should have.
  int64_t NextOffset() const {
    if (range.last_read >= 0) return range.last_read + 1;
    return start == kOffsetBeginning ? range.low : start.value();
  }
};

Result<PartitionRead> NotePartition(kafka::Consumer& consumer, const TopicPartition& tp,
                                    Offset start, milliseconds timeout) {
  WEIR_ASSIGN_OR_RETURN(kafka::Watermarks wm, consumer.QueryWatermarks(tp, timeout));
  PartitionRead p;
  p.range.topic = tp.topic;
  p.range.partition = tp.partition;
  p.range.low = wm.low.value();
  p.range.high = wm.high.value();
  p.start = start;
  p.done = p.NextOffset() >= p.range.high;
  return p;
}

// Calls |visit| for each record of |parts| below their high watermarks, in
// offset order per partition, until every partition is read, |visit|
// returns false, or no record came for |idle_limit| (the partitions left
// then get their gave_up status). Records are valid during the call only.
Status ReadPartitions(kafka::Consumer& consumer, std::vector<PartitionRead>& parts,
                      milliseconds idle_limit, const std::function<bool(const Record&)>& visit) {
  std::vector<TopicPartitionOffset> assignment;
  for (const PartitionRead& p : parts) {
    if (!p.done) assignment.push_back({p.range.topic, p.range.partition, p.start, {}});
  }
  if (assignment.empty()) return Status::Ok();
  WEIR_RETURN_IF_ERROR(consumer.Assign(assignment));
  auto remaining = [&parts] {
    return std::any_of(parts.begin(), parts.end(), [](const PartitionRead& p) { return !p.done; });
  };
  auto find = [&parts](std::string_view topic, Partition partition) -> PartitionRead* {
    for (PartitionRead& p : parts) {
      if (p.range.partition == partition && p.range.topic == topic) return &p;
    }
    return nullptr;
  };
  auto last_record = std::chrono::steady_clock::now();
  while (remaining()) {
    WEIR_ASSIGN_OR_RETURN(std::vector<Record> batch, consumer.Poll(milliseconds(200)));
    if (batch.empty()) {
      if (std::chrono::steady_clock::now() - last_record > idle_limit) {
        for (PartitionRead& p : parts) {
          if (p.done) continue;
          p.range.gave_up = Status::Timeout(fmt::format(
              "gave up on {} [{}] at offset {}: no record for {} s before its end offset {}",
              p.range.topic, p.range.partition.value(), p.NextOffset(), idle_limit.count() / 1000,
              p.range.high));
        }
        return Status::Ok();
      }
      continue;
    }
    last_record = std::chrono::steady_clock::now();
    for (const Record& r : batch) {
      PartitionRead* p = find(r.topic(), r.partition());
      if (p == nullptr || p->done) continue;
      const int64_t off = r.offset().value();
      if (off >= p->range.high) {  // written after the start: not ours to read
        p->done = true;
        continue;
      }
      if (p->range.first_read < 0) p->range.first_read = off;
      p->range.last_read = off;
      if (off + 1 >= p->range.high) p->done = true;
      if (!visit(r)) return Status::Ok();
    }
  }
  return Status::Ok();
}

DlqEntry EntryOf(const Record& r, DeadLetter dl) {
  return DlqEntry{std::string(r.topic()), r.partition(), r.offset(), r.timestamp().ms,
                  std::move(dl)};
}

Status MissingDlqTopic(const std::string& topic) {
  return Status::NotFound(fmt::format("DLQ topic {} does not exist on the cluster", topic));
}

}  // namespace

// --- DlqClient ----------------------------------------------------------------

DlqClient::DlqClient(std::unique_ptr<kafka::Admin> admin, kafka::ClientConfig config,
                     const DlqClientOptions& options)
    : admin_(std::move(admin)), config_(std::move(config)), options_(options) {}

DlqClient::~DlqClient() {
  if (consumer_) (void)consumer_->Close();
}

Result<std::unique_ptr<DlqClient>> DlqClient::Open(const kafka::ClientConfig& config,
                                                   const DlqClientOptions& options) {
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Admin> admin, kafka::Admin::Create(config));
  return std::unique_ptr<DlqClient>(new DlqClient(std::move(admin), config, options));
}

// Made when first needed: metadata answers and purges need no consumer, and
// one connecting to a cluster that cannot be reached only adds to the noise.
Result<kafka::Consumer*> DlqClient::GetConsumer() {
  if (!consumer_) {
    WEIR_ASSIGN_OR_RETURN(consumer_, kafka::Consumer::Create(config_, kafka::ConsumerOptions{}));
  }
  return consumer_.get();
}

Result<const kafka::TopicInfo*> DlqClient::FindTopic(const std::string& topic) {
  if (!metadata_) {
    WEIR_ASSIGN_OR_RETURN(kafka::ClusterMetadata md, admin_->Metadata(options_.request_timeout));
    metadata_ = std::move(md);
  }
  return metadata_->FindTopic(topic);
}

Result<int32_t> DlqClient::PartitionCount(const std::string& topic) {
  WEIR_ASSIGN_OR_RETURN(const kafka::TopicInfo* info, FindTopic(topic));
  if (info == nullptr) return -1;
  return static_cast<int32_t>(info->partitions.size());
}

Status DlqClient::AddTopic(const std::string& topic) {
  WEIR_ASSIGN_OR_RETURN(const kafka::TopicInfo* info, FindTopic(topic));
  if (info == nullptr || info->partitions.empty()) return MissingDlqTopic(topic);
  WEIR_ASSIGN_OR_RETURN(kafka::Consumer * consumer, GetConsumer());
  for (const kafka::PartitionInfo& p : info->partitions) {
    WEIR_ASSIGN_OR_RETURN(PartitionRead read,
                          NotePartition(*consumer, TopicPartition{topic, p.id}, kOffsetBeginning,
                                        options_.request_timeout));
    added_.push_back(std::move(read.range));
  }
  return Status::Ok();
}

Result<DlqScan> DlqClient::Scan(const DlqFilter& filter) {
  std::vector<PartitionRead> parts;
  for (DlqPartitionRange& range : added_) {
    PartitionRead& p = parts.emplace_back();
    p.range = std::move(range);
    p.done = p.NextOffset() >= p.range.high;
  }
  added_.clear();
  DlqScan out;
  if (parts.empty()) return out;
  WEIR_ASSIGN_OR_RETURN(kafka::Consumer * consumer, GetConsumer());
  WEIR_RETURN_IF_ERROR(ReadPartitions(*consumer, parts, options_.idle_limit, [&](const Record& r) {
    ++out.read;
    Result<DeadLetter> dl = consume::ParseDeadLetter(r);
    if (!dl.ok()) {
      out.unreadable.push_back(
          DlqUnreadable{std::string(r.topic()), r.partition(), r.offset(), dl.status()});
      return true;
    }
    if (!filter.Matches(*dl)) return true;
    out.entries.push_back(EntryOf(r, std::move(dl).value()));
    return !filter.limit || static_cast<int64_t>(out.entries.size()) < *filter.limit;
  }));
  for (PartitionRead& p : parts) out.partitions.push_back(std::move(p.range));
  return out;
}

Result<DlqLookup> DlqClient::ReadAt(const std::string& topic, Partition partition, Offset offset) {
  const std::string where = fmt::format("{}:{}", partition.value(), offset.value());
  DlqLookup out;
  WEIR_ASSIGN_OR_RETURN(const kafka::TopicInfo* info, FindTopic(topic));
  if (info == nullptr || info->partitions.empty()) {
    out.status = MissingDlqTopic(topic);
    return out;
  }
  if (partition.value() < 0 || static_cast<size_t>(partition.value()) >= info->partitions.size()) {
    out.status = Status::InvalidArgument(
        fmt::format("{}: {} has {} partition(s)", where, topic, info->partitions.size()));
    return out;
  }
  WEIR_ASSIGN_OR_RETURN(kafka::Consumer * consumer, GetConsumer());
  WEIR_ASSIGN_OR_RETURN(
      PartitionRead part,
      NotePartition(*consumer, TopicPartition{topic, partition}, offset, options_.request_timeout));
  const int64_t low = part.range.low;
  const int64_t high = part.range.high;
  if (offset.value() < low || offset.value() >= high) {
    out.status = Status::InvalidArgument(
        low >= high ? fmt::format("{}: {} [{}] is empty", where, topic, partition.value())
                    : fmt::format("{}: {} [{}] holds offsets {}-{}", where, topic,
                                  partition.value(), low, high - 1));
    return out;
  }
  std::vector<PartitionRead> parts = {std::move(part)};
  std::optional<Result<DeadLetter>> found;
  int64_t found_at = -1;
  WEIR_RETURN_IF_ERROR(ReadPartitions(*consumer, parts, options_.idle_limit, [&](const Record& r) {
    found_at = r.offset().value();
    if (found_at == offset.value()) {
      found.emplace(consume::ParseDeadLetter(r));
      if (found->ok()) out.entry = EntryOf(r, found->value());
    }
    return false;
  }));
  out.gave_up = parts.front().range.gave_up;
  if (!found) {
    out.status = Status::NotFound(
        found_at < 0 ? fmt::format("{}: no record read from {}", where, topic)
                     : fmt::format("{}: no record at this offset of {} (deleted or compacted); "
                                   "the next is {}:{}",
                                   where, topic, partition.value(), found_at));
    return out;
  }
  if (!found->ok()) out.status = Status::Corruption(found->status().message());
  return out;
}

Result<ReplaySummary> DlqClient::Replay(const std::vector<DlqEntry>& entries,
                                        const ReplayOptions& options) {
  if (!options.to.empty()) {
    WEIR_ASSIGN_OR_RETURN(int32_t to_partitions, PartitionCount(options.to));
    if (to_partitions < 0) {
      return Status::NotFound(
          fmt::format("replay target topic {} does not exist on the cluster", options.to));
    }
  }
  std::unique_ptr<kafka::Producer> producer;
  if (!options.dry_run) {
    WEIR_ASSIGN_OR_RETURN(producer, kafka::Producer::Create(config_));
  }
  ReplaySummary out;
  out.outcomes.reserve(entries.size());
  std::vector<std::pair<size_t, std::future<kafka::DeliveryReport>>> pending;
  for (size_t i = 0; i < entries.size(); ++i) {
    const DeadLetter& dl = entries[i].dead_letter;
    ReplayOutcome& outcome = out.outcomes.emplace_back();
    outcome.entry = i;
    if (dl.replay_count >= options.max_replays) {
      ++out.skipped;
      outcome.action = ReplayAction::kSkipped;
      continue;
    }
    outcome.topic = options.to.empty() ? dl.original_topic : options.to;
    WEIR_ASSIGN_OR_RETURN(int32_t partitions, PartitionCount(outcome.topic));
    if (partitions < 0) {
      ++out.failed;
      outcome.action = ReplayAction::kNoTarget;
      outcome.error =
          Status::NotFound(fmt::format("topic {} does not exist on the cluster", outcome.topic));
      continue;
    }
    // Back to the partition it came from (so a key stays where its producer
    // put it, whatever that producer's partitioner); --to lets the
    // partitioner hash the key.
    if (options.to.empty() && dl.original_partition.value() >= 0 &&
        dl.original_partition.value() < partitions) {
      outcome.partition = dl.original_partition;
    }
    const std::vector<Header> headers = ReplayHeaders(dl.original_headers, dl.replay_count + 1);
    outcome.replay_count = dl.replay_count + 1;
    outcome.header_count = headers.size();
    if (options.dry_run) {
      ++out.would_replay;
      outcome.action = ReplayAction::kWouldReplay;
      continue;
    }
    std::vector<HeaderView> views;
    views.reserve(headers.size());
    for (const Header& h : headers) {
      views.push_back(
          HeaderView{h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
    }
    kafka::ProduceRequest req;
    req.topic = outcome.topic;
    req.partition = outcome.partition;
    if (dl.key) req.key = *dl.key;
    if (dl.value) req.value = *dl.value;
    req.headers = views;
    pending.emplace_back(i, producer->Send(req));
  }
  for (auto& [i, future] : pending) {
    const kafka::DeliveryReport r = future.get();
    ReplayOutcome& outcome = out.outcomes[i];
    if (r.status.ok()) {
      ++out.replayed;
      outcome.action = ReplayAction::kReplayed;
      outcome.topic = r.topic;
      outcome.partition = r.partition;
      outcome.offset = r.offset;
    } else {
      ++out.failed;
      outcome.action = ReplayAction::kFailed;
      outcome.error = r.status;
    }
  }
  if (producer) out.closed = producer->Close();
  return out;
}

Result<std::vector<PurgeStep>> DlqClient::PlanPurge(const std::string& topic,
                                                    const std::vector<DlqPosition>& before) {
  WEIR_ASSIGN_OR_RETURN(const kafka::TopicInfo* info, FindTopic(topic));
  if (info == nullptr || info->partitions.empty()) return MissingDlqTopic(topic);
  std::vector<PurgeStep> steps;
  if (before.empty()) {
    for (const kafka::PartitionInfo& p : info->partitions) {
      steps.push_back(PurgeStep{topic, p.id, kOffsetEnd, 0, 0});
    }
  }
  for (size_t i = 0; i < before.size(); ++i) {
    const DlqPosition& pos = before[i];
    const std::string where = fmt::format("{}:{}", pos.partition.value(), pos.offset.value());
    for (size_t j = 0; j < i; ++j) {
      if (before[j].partition == pos.partition) {
        return Status::Refused(
            fmt::format("{}: partition {} given twice", where, pos.partition.value()));
      }
    }
    if (pos.offset.value() < 0) {
      return Status::Refused(fmt::format("{}: expected a non-negative offset", where));
    }
    if (pos.partition.value() < 0 ||
        static_cast<size_t>(pos.partition.value()) >= info->partitions.size()) {
      return Status::Refused(
          fmt::format("{}: {} has {} partition(s)", where, topic, info->partitions.size()));
    }
    steps.push_back(PurgeStep{topic, pos.partition, pos.offset, 0, 0});
  }
  // The watermarks, to check the offsets and to say what goes.
  for (PurgeStep& step : steps) {
    WEIR_ASSIGN_OR_RETURN(auto wm, admin_->ListOffsets(TopicPartition{topic, step.partition},
                                                       options_.request_timeout));
    step.low = wm.first.value();
    step.high = wm.second.value();
    if (step.before != kOffsetEnd && step.before.value() > step.high) {
      return Status::Refused(fmt::format("{}:{}: beyond the end of {} [{}] (its next offset is {})",
                                         step.partition.value(), step.before.value(), topic,
                                         step.partition.value(), step.high));
    }
  }
  return steps;
}

Result<std::vector<kafka::DeleteRecordsResult>> DlqClient::Purge(
    const std::vector<PurgeStep>& steps) {
  std::vector<TopicPartitionOffset> requests;
  requests.reserve(steps.size());
  for (const PurgeStep& s : steps) requests.push_back({s.topic, s.partition, s.before, {}});
  return admin_->DeleteRecords(requests, options_.request_timeout);
}

Result<DlqScan> ScanDlq(const kafka::ClientConfig& config, const std::vector<std::string>& topics,
                        const DlqFilter& filter, const DlqClientOptions& options) {
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<DlqClient> client, DlqClient::Open(config, options));
  for (const std::string& t : topics) WEIR_RETURN_IF_ERROR(client->AddTopic(t));
  return client->Scan(filter);
}

}  // namespace weir::ops
