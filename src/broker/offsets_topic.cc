// broker/offsets_topic.cc — the __consumer_offsets change feed.

#include "broker/offsets_topic.h"

#include <spdlog/spdlog.h>

#include <map>

#include "broker/record_batch.h"
#include "broker/wire.h"

namespace weir::broker {
namespace {

// Kafka compacts __consumer_offsets; this broker has no compaction, so the
// feed keeps a week (Burrow's default expire-group) in 100 MB segments
// (Kafka's offsets.topic.segment.bytes).
const std::map<std::string, std::string> kOffsetsTopicConfigs = {
    {"retention.ms", std::to_string(7LL * 24 * 3600 * 1000)},
    {"segment.bytes", std::to_string(100LL * 1024 * 1024)},
};

}  // namespace

bool IsInternalTopic(const std::string& name) { return name == kOffsetsTopic; }

bool OffsetsTopic::Ensure() {
  if (topics_.Find(kOffsetsTopic)) return true;
  AdminResult r = topics_.CreateTopic(kOffsetsTopic, 1, -1, kOffsetsTopicConfigs, false);
  if (!r.ok() && r.error != ErrorCode::kTopicAlreadyExists) {
    spdlog::warn("broker: cannot create {}: {}", kOffsetsTopic, r.message);
    return false;
  }
  if (r.ok()) spdlog::info("broker: created internal topic {}", kOffsetsTopic);
  return true;
}

std::string OffsetsTopic::EncodeKey(const std::string& group, const std::string& topic,
                                    int32_t partition) {
  Writer w;
  w.Int16(1);
  w.String(group);
  w.String(topic);
  w.Int32(partition);
  return std::move(w.buffer());
}

std::string OffsetsTopic::EncodeValue(const CommitOffset& offset, int64_t commit_timestamp_ms) {
  Writer w;
  w.Int16(3);
  w.Int64(offset.offset);
  w.Int32(offset.leader_epoch);
  w.String(offset.metadata.value_or(""));
  w.Int64(commit_timestamp_ms);
  return std::move(w.buffer());
}

void OffsetsTopic::Append(const std::string& group, const std::vector<CommitOffset>& offsets) {
  if (offsets.empty()) return;
  std::lock_guard lock(mu_);
  if (!Ensure()) return;
  auto log = topics_.Partition(kOffsetsTopic, 0);
  if (!log) return;  // deleted concurrently
  const int64_t now = clock_.NowMs();
  std::vector<BatchRecord> records;
  records.reserve(offsets.size());
  for (const CommitOffset& o : offsets) {
    records.push_back({EncodeKey(group, o.topic, o.partition), EncodeValue(o, now)});
  }
  std::string batch = EncodeRecordBatch(records, now);
  AppendResult result;
  std::string why;
  ErrorCode err = log->Append(
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(batch.data()), batch.size()), &result, &why);
  if (err != ErrorCode::kNone) {
    spdlog::warn("broker: group {}: commit not recorded in {}: {}: {}", group, kOffsetsTopic,
                 ErrorName(err), why);
    return;
  }
  topics_.NotifyAppend();
}

}  // namespace weir::broker
