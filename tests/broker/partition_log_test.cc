// Tests for broker/partition_log.h: appends and reads, segments, recovery
// from torn tails and lost indexes, retention, DeleteRecords and
// idempotent-producer state. Time comes from a ManualClock; nothing sleeps.

#include "broker/partition_log.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "broker/record_batch.h"
#include "support/test_support.h"

namespace weir::broker {
namespace test_batches {
// Defined in record_batch_test.cc.
std::vector<uint8_t> EncodeTestBatch(int records, int value_size, int64_t base_timestamp,
                                     int64_t producer_id, int16_t producer_epoch,
                                     int32_t base_sequence, int16_t attributes);
}  // namespace test_batches

namespace {

namespace fs = std::filesystem;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int32_t kBig = 1 << 20;

struct Spec {
  int records = 1;
  int value_size = 10;
  int64_t timestamp = kT0;
  int64_t producer_id = -1;
  int16_t epoch = -1;
  int32_t sequence = -1;
  int16_t attributes = 0;
};

std::vector<uint8_t> Batch(const Spec& s) {
  return test_batches::EncodeTestBatch(s.records, s.value_size, s.timestamp, s.producer_id, s.epoch,
                                       s.sequence, s.attributes);
}

std::vector<uint8_t> Batch(int records) {
  Spec s;
  s.records = records;
  return Batch(s);
}

std::vector<uint8_t> Idempotent(int64_t pid, int16_t epoch, int32_t seq, int records = 1) {
  Spec s;
  s.records = records;
  s.producer_id = pid;
  s.epoch = epoch;
  s.sequence = seq;
  return Batch(s);
}

std::vector<uint8_t> WithBaseOffset(std::vector<uint8_t> b, int64_t offset) {
  SetBaseOffset(b, offset);
  return b;
}

std::string AsString(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

// Splits whole batches read from the log; fails the test on a partial one.
std::vector<BatchHeader> Headers(const std::string& bytes) {
  std::vector<BatchHeader> out;
  std::span<const uint8_t> rest(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  while (!rest.empty()) {
    BatchHeader h;
    EXPECT_TRUE(ParseBatchHeader(rest, &h));
    if (h.total_size() > rest.size()) {
      ADD_FAILURE() << "partial batch in read result";
      break;
    }
    EXPECT_EQ(CheckBatch(rest.first(h.total_size())).error, ErrorCode::kNone);
    out.push_back(h);
    rest = rest.subspan(h.total_size());
  }
  return out;
}

class PartitionLogTest : public ::testing::Test {
 protected:
  PartitionLogTest() {
    config_.retention_ms = -1;
    config_.segment_ms = 1LL << 40;
  }

  fs::path dir() const { return fs::path(tmp_.path()) / "plates-0"; }

  std::unique_ptr<PartitionLog> OpenLog() {
    auto r = PartitionLog::Open(dir(), config_, clock_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // Appends |b| and returns its base offset, or -1 after recording a failure.
  static int64_t Append(PartitionLog* log, std::vector<uint8_t> b, AppendResult* res = nullptr) {
    AppendResult local;
    if (res == nullptr) res = &local;
    std::string error;
    ErrorCode e = log->Append(b, res, &error);
    EXPECT_EQ(e, ErrorCode::kNone) << error;
    return e == ErrorCode::kNone ? res->base_offset : -1;
  }

  static ErrorCode AppendError(PartitionLog* log, std::vector<uint8_t> b,
                               AppendResult* res = nullptr) {
    AppendResult local;
    std::string error;
    return log->Append(b, res != nullptr ? res : &local, &error);
  }

  // Reads everything from |from| to the high watermark, batch headers only.
  static std::vector<BatchHeader> ReadAll(const PartitionLog& log, int64_t from) {
    std::vector<BatchHeader> all;
    int64_t next = from;
    while (next < log.high_watermark()) {
      ReadResult r;
      EXPECT_EQ(log.Read(next, kBig, &r), ErrorCode::kNone);
      auto hs = Headers(r.bytes);
      if (hs.empty()) {
        ADD_FAILURE() << "no batch at " << next;
        break;
      }
      for (const auto& h : hs) all.push_back(h);
      next = hs.back().last_offset() + 1;
    }
    return all;
  }

  fs::path SegmentFile(int64_t base, const char* ext) const {
    return dir() / fmt::format("{:020d}{}", base, ext);
  }

  LogConfig config_;
  ManualClock clock_{kT0};
  weir::testing::TempDir tmp_;
};

TEST_F(PartitionLogTest, AppendAndReadRoundTrip) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->high_watermark(), 0);
  auto b1 = Batch(2), b2 = Batch(3), b3 = Batch(1);
  Spec gz;
  gz.records = 4;
  gz.attributes = 1;  // gzip bits on plain bytes: stored as they are
  auto b4 = Batch(gz);
  EXPECT_EQ(Append(log.get(), b1), 0);
  EXPECT_EQ(Append(log.get(), b2), 2);
  EXPECT_EQ(Append(log.get(), b3), 5);
  EXPECT_EQ(Append(log.get(), b4), 6);
  EXPECT_EQ(log->high_watermark(), 10);
  EXPECT_EQ(log->log_start_offset(), 0);

  ReadResult r;
  ASSERT_EQ(log->Read(0, kBig, &r), ErrorCode::kNone);
  EXPECT_EQ(r.high_watermark, 10);
  EXPECT_EQ(r.bytes, AsString(WithBaseOffset(b1, 0)) + AsString(WithBaseOffset(b2, 2)) +
                         AsString(WithBaseOffset(b3, 5)) + AsString(WithBaseOffset(b4, 6)));
  EXPECT_EQ(log->size_bytes(), static_cast<int64_t>(r.bytes.size()));
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_TRUE(fs::exists(SegmentFile(0, ".log")));
  EXPECT_TRUE(fs::exists(SegmentFile(0, ".index")));
  EXPECT_TRUE(fs::exists(SegmentFile(0, ".timeindex")));
}

TEST_F(PartitionLogTest, ReadFromTheMiddleOfABatchReturnsThatBatch) {
  auto log = OpenLog();
  Append(log.get(), Batch(2));
  Append(log.get(), Batch(5));
  Append(log.get(), Batch(1));
  ReadResult r;
  ASSERT_EQ(log->Read(4, kBig, &r), ErrorCode::kNone);
  auto hs = Headers(r.bytes);
  ASSERT_EQ(hs.size(), 2u);
  EXPECT_EQ(hs[0].base_offset, 2);
  EXPECT_EQ(hs[1].base_offset, 7);
}

TEST_F(PartitionLogTest, ReadBoundaries) {
  auto log = OpenLog();
  Append(log.get(), Batch(3));
  ReadResult r;
  EXPECT_EQ(log->Read(3, kBig, &r), ErrorCode::kNone);
  EXPECT_TRUE(r.bytes.empty());
  EXPECT_EQ(r.high_watermark, 3);
  EXPECT_EQ(log->Read(4, kBig, &r), ErrorCode::kOffsetOutOfRange);
  EXPECT_EQ(log->Read(-1, kBig, &r), ErrorCode::kOffsetOutOfRange);
}

TEST_F(PartitionLogTest, ReturnsAtLeastOneWholeBatchWhenMaxBytesIsSmall) {
  auto log = OpenLog();
  Spec s;
  s.records = 4;
  s.value_size = 500;
  auto big = Batch(s);
  Append(log.get(), big);
  Append(log.get(), Batch(1));
  ReadResult r;
  ASSERT_EQ(log->Read(0, 10, &r), ErrorCode::kNone);
  EXPECT_EQ(r.bytes, AsString(WithBaseOffset(big, 0)));
  // Room for one and a half batches: only whole batches come back.
  ASSERT_EQ(log->Read(0, static_cast<int32_t>(big.size()) + 20, &r), ErrorCode::kNone);
  EXPECT_EQ(Headers(r.bytes).size(), 1u);
  ASSERT_EQ(log->Read(0, kBig, &r), ErrorCode::kNone);
  EXPECT_EQ(Headers(r.bytes).size(), 2u);
}

TEST_F(PartitionLogTest, RollsSegmentsBySizeAndReadsAcrossThem) {
  const int64_t batch_size = static_cast<int64_t>(Batch(2).size());
  config_.segment_bytes = batch_size * 5 / 2;  // two batches per segment
  auto log = OpenLog();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Append(log.get(), Batch(2)), i * 2);
  EXPECT_EQ(log->segment_count(), 5u);
  for (int64_t base : {0, 4, 8, 12, 16}) {
    EXPECT_TRUE(fs::exists(SegmentFile(base, ".log"))) << base;
  }
  EXPECT_EQ(log->size_bytes(), batch_size * 10);
  auto all = ReadAll(*log, 0);
  ASSERT_EQ(all.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(all[i].base_offset, i * 2);
  // A read inside a later segment starts there.
  ReadResult r;
  ASSERT_EQ(log->Read(13, kBig, &r), ErrorCode::kNone);
  auto hs = Headers(r.bytes);
  ASSERT_FALSE(hs.empty());
  EXPECT_EQ(hs[0].base_offset, 12);
}

TEST_F(PartitionLogTest, ReopenKeepsEverything) {
  config_.segment_bytes = static_cast<int64_t>(Batch(1).size()) * 3;
  std::string before;
  {
    auto log = OpenLog();
    for (int i = 0; i < 7; ++i) Append(log.get(), Batch(1));
    log->Close();
    log->Close();  // idempotent
  }
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->high_watermark(), 7);
  EXPECT_EQ(log->segment_count(), 3u);
  EXPECT_EQ(ReadAll(*log, 0).size(), 7u);
  EXPECT_EQ(Append(log.get(), Batch(2)), 7);
  EXPECT_EQ(log->high_watermark(), 9);
}

TEST_F(PartitionLogTest, TornTailIsTruncatedOnOpen) {
  const auto b = Batch(2);
  {
    auto log = OpenLog();
    for (int i = 0; i < 3; ++i) Append(log.get(), b);
  }
  const fs::path file = SegmentFile(0, ".log");
  // Half of the last batch made it to disk.
  fs::resize_file(file, b.size() * 2 + b.size() / 2);
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->high_watermark(), 4);
  EXPECT_EQ(fs::file_size(file), b.size() * 2);
  auto all = ReadAll(*log, 0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(Append(log.get(), Batch(1)), 4);
  EXPECT_EQ(ReadAll(*log, 0).size(), 3u);
}

TEST_F(PartitionLogTest, GarbageAfterTheLastBatchIsTruncated) {
  const auto b = Batch(1);
  {
    auto log = OpenLog();
    Append(log.get(), b);
    Append(log.get(), b);
  }
  const fs::path file = SegmentFile(0, ".log");
  {
    std::ofstream f(file, std::ios::binary | std::ios::app);
    f << std::string(100, '\x07');
  }
  auto log = OpenLog();
  EXPECT_EQ(fs::file_size(file), b.size() * 2);
  EXPECT_EQ(log->high_watermark(), 2);
  EXPECT_EQ(Append(log.get(), b), 2);
}

TEST_F(PartitionLogTest, BadCrcInTheLastBatchIsTruncated) {
  const auto b = Batch(3);
  {
    auto log = OpenLog();
    for (int i = 0; i < 3; ++i) Append(log.get(), b);
  }
  const fs::path file = SegmentFile(0, ".log");
  {
    std::fstream f(file, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(b.size() * 3 - 3));
    f.put('X');
  }
  auto log = OpenLog();
  EXPECT_EQ(log->high_watermark(), 6);
  EXPECT_EQ(fs::file_size(file), b.size() * 2);
  EXPECT_EQ(ReadAll(*log, 0).size(), 2u);
}

TEST_F(PartitionLogTest, LostOrDamagedIndexesAreRebuilt) {
  const auto b = Batch(1);
  config_.segment_bytes = static_cast<int64_t>(b.size()) * 10;
  config_.index_interval_bytes = static_cast<int32_t>(b.size()) * 2;
  {
    auto log = OpenLog();
    for (int i = 0; i < 25; ++i) Append(log.get(), b);
    EXPECT_EQ(log->segment_count(), 3u);
  }
  const auto index_size = fs::file_size(SegmentFile(0, ".index"));
  EXPECT_GT(index_size, 8u);
  fs::remove(SegmentFile(0, ".index"));
  fs::remove(SegmentFile(10, ".timeindex"));
  {
    std::ofstream f(SegmentFile(20, ".index"), std::ios::binary | std::ios::trunc);
    f << std::string(8, '\xff');
  }
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->high_watermark(), 25);
  EXPECT_EQ(fs::file_size(SegmentFile(0, ".index")), index_size);
  EXPECT_GT(fs::file_size(SegmentFile(10, ".timeindex")), 0u);
  for (int64_t offset = 0; offset < 25; ++offset) {
    ReadResult r;
    ASSERT_EQ(log->Read(offset, 1, &r), ErrorCode::kNone);
    auto hs = Headers(r.bytes);
    ASSERT_EQ(hs.size(), 1u);
    EXPECT_EQ(hs[0].base_offset, offset);
  }
}

TEST_F(PartitionLogTest, IndexPointingAtTheWrongBatchIsRebuilt) {
  const auto b = Batch(1);
  config_.segment_bytes = static_cast<int64_t>(b.size()) * 4;
  config_.index_interval_bytes = 1;  // every batch
  {
    auto log = OpenLog();
    for (int i = 0; i < 8; ++i) Append(log.get(), b);
  }
  {
    // Swap the positions of the 2nd and 3rd entries of the first segment.
    std::fstream f(SegmentFile(0, ".index"), std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(8 + 4);
    uint32_t wrong = static_cast<uint32_t>(b.size() * 2);
    char be[4] = {static_cast<char>(wrong >> 24), static_cast<char>(wrong >> 16),
                  static_cast<char>(wrong >> 8), static_cast<char>(wrong)};
    f.write(be, 4);
  }
  auto log = OpenLog();
  for (int64_t offset = 0; offset < 8; ++offset) {
    ReadResult r;
    ASSERT_EQ(log->Read(offset, 1, &r), ErrorCode::kNone);
    auto hs = Headers(r.bytes);
    ASSERT_EQ(hs.size(), 1u);
    EXPECT_EQ(hs[0].base_offset, offset);
  }
}

TEST_F(PartitionLogTest, RetentionByTimeDeletesOldSegments) {
  const auto b = Batch(1);
  config_.segment_bytes = static_cast<int64_t>(b.size());  // one batch per segment
  config_.retention_ms = 3'600'000;
  auto log = OpenLog();
  for (int i = 0; i < 4; ++i) {
    Spec old;
    old.timestamp = kT0 - 10 * 3'600'000;
    Append(log.get(), Batch(old));
  }
  for (int i = 0; i < 2; ++i) Append(log.get(), Batch(1));
  EXPECT_EQ(log->segment_count(), 6u);
  EXPECT_EQ(log->ApplyRetention(), 4);
  EXPECT_EQ(log->segment_count(), 2u);
  EXPECT_EQ(log->log_start_offset(), 4);
  EXPECT_FALSE(fs::exists(SegmentFile(0, ".log")));
  EXPECT_FALSE(fs::exists(SegmentFile(3, ".index")));
  ReadResult r;
  EXPECT_EQ(log->Read(3, kBig, &r), ErrorCode::kOffsetOutOfRange);
  EXPECT_EQ(r.log_start_offset, 4);
  EXPECT_EQ(log->Read(4, kBig, &r), ErrorCode::kNone);
  EXPECT_EQ(Headers(r.bytes).size(), 1u);
  EXPECT_EQ(log->ApplyRetention(), 0);

  // Two hours later the newer non-active segment goes too; the active one stays.
  clock_.Advance(2 * 3'600'000);
  EXPECT_EQ(log->ApplyRetention(), 1);
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->log_start_offset(), 5);
  log.reset();
  log = OpenLog();
  EXPECT_EQ(log->log_start_offset(), 5);
  EXPECT_EQ(log->high_watermark(), 6);
}

TEST_F(PartitionLogTest, RetentionByBytesDeletesOldestSegments) {
  const auto b = Batch(1);
  const auto size = static_cast<int64_t>(b.size());
  config_.segment_bytes = size;
  config_.retention_bytes = size * 2;
  auto log = OpenLog();
  for (int i = 0; i < 5; ++i) Append(log.get(), b);
  EXPECT_EQ(log->ApplyRetention(), 3);
  EXPECT_EQ(log->size_bytes(), size * 2);
  EXPECT_EQ(log->log_start_offset(), 3);
  EXPECT_EQ(ReadAll(*log, 3).size(), 2u);
}

// Sealed segments keep only their .log open: descriptors grow by one per
// segment, not three (the broker may hold thousands of segments).
TEST_F(PartitionLogTest, SealedSegmentsKeepOneDescriptor) {
  auto count_fds = [] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
  };
  config_.segment_bytes = static_cast<int64_t>(Batch(1).size());
  const size_t before = count_fds();
  auto log = OpenLog();
  for (int i = 0; i < 40; ++i) Append(log.get(), Batch(1));
  ASSERT_GE(log->segment_count(), 40u);
  EXPECT_LE(count_fds() - before, log->segment_count() + 2);
  log.reset();
  log = OpenLog();  // and after recovery
  EXPECT_LE(count_fds() - before, log->segment_count() + 2);
}

TEST_F(PartitionLogTest, RollsByAgeOnAppendAndRetention) {
  config_.segment_ms = 1000;
  auto log = OpenLog();
  Append(log.get(), Batch(1));
  clock_.Advance(500);
  Append(log.get(), Batch(1));
  EXPECT_EQ(log->segment_count(), 1u);
  clock_.Advance(501);
  EXPECT_EQ(Append(log.get(), Batch(1)), 2);
  EXPECT_EQ(log->segment_count(), 2u);
  EXPECT_TRUE(fs::exists(SegmentFile(2, ".log")));
  clock_.Advance(1001);
  EXPECT_EQ(log->ApplyRetention(), 0);
  EXPECT_EQ(log->segment_count(), 3u);
  EXPECT_TRUE(fs::exists(SegmentFile(3, ".log")));
  // An empty active segment is never rolled.
  clock_.Advance(5000);
  log->ApplyRetention();
  EXPECT_EQ(log->segment_count(), 3u);
}

TEST_F(PartitionLogTest, DeleteRecordsBefore) {
  const auto b = Batch(2);
  config_.segment_bytes = static_cast<int64_t>(b.size());
  {
    auto log = OpenLog();
    for (int i = 0; i < 5; ++i) Append(log.get(), b);  // offsets 0..9, one batch per segment
    int64_t start = -5;
    EXPECT_EQ(log->DeleteRecordsBefore(5, &start), ErrorCode::kNone);
    EXPECT_EQ(start, 5);
    EXPECT_EQ(log->segment_count(), 3u);  // [4,5] [6,7] [8,9]
    ReadResult r;
    EXPECT_EQ(log->Read(4, kBig, &r), ErrorCode::kOffsetOutOfRange);
    ASSERT_EQ(log->Read(5, kBig, &r), ErrorCode::kNone);
    EXPECT_EQ(Headers(r.bytes).at(0).base_offset, 4);
    // Lower than the start: nothing changes.
    EXPECT_EQ(log->DeleteRecordsBefore(2, &start), ErrorCode::kNone);
    EXPECT_EQ(start, 5);
    EXPECT_EQ(log->DeleteRecordsBefore(11, &start), ErrorCode::kOffsetOutOfRange);
    EXPECT_EQ(log->log_start_offset(), 5);
  }
  {
    auto log = OpenLog();
    EXPECT_EQ(log->log_start_offset(), 5);
    int64_t start = 0;
    EXPECT_EQ(log->DeleteRecordsBefore(-1, &start), ErrorCode::kNone);
    EXPECT_EQ(start, 10);
    EXPECT_EQ(log->segment_count(), 1u);
    EXPECT_EQ(log->size_bytes(), 0);
    ReadResult r;
    EXPECT_EQ(log->Read(10, kBig, &r), ErrorCode::kNone);
    EXPECT_TRUE(r.bytes.empty());
    EXPECT_EQ(log->Read(9, kBig, &r), ErrorCode::kOffsetOutOfRange);
  }
  auto log = OpenLog();
  EXPECT_EQ(log->log_start_offset(), 10);
  EXPECT_EQ(log->high_watermark(), 10);
  EXPECT_EQ(Append(log.get(), b), 10);
}

TEST_F(PartitionLogTest, IdempotentRetryReturnsTheOriginalOffset) {
  auto log = OpenLog();
  auto first = Idempotent(1, 0, 0, 3);
  EXPECT_EQ(Append(log.get(), first), 0);
  EXPECT_EQ(Append(log.get(), Idempotent(1, 0, 3, 2)), 3);
  const int64_t size = log->size_bytes();
  AppendResult res;
  EXPECT_EQ(Append(log.get(), first, &res), 0);
  EXPECT_TRUE(res.duplicate);
  EXPECT_EQ(log->high_watermark(), 5);
  EXPECT_EQ(log->size_bytes(), size);
  EXPECT_EQ(Append(log.get(), Idempotent(1, 0, 3, 2), &res), 3);
  EXPECT_TRUE(res.duplicate);
  EXPECT_EQ(Append(log.get(), Idempotent(1, 0, 5), &res), 5);
  EXPECT_FALSE(res.duplicate);
}

TEST_F(PartitionLogTest, IdempotenceRejectsGapsAndOldEpochs) {
  auto log = OpenLog();
  EXPECT_EQ(Append(log.get(), Idempotent(1, 0, 0, 2)), 0);
  EXPECT_EQ(AppendError(log.get(), Idempotent(1, 0, 7)), ErrorCode::kOutOfOrderSequenceNumber);
  EXPECT_EQ(AppendError(log.get(), Idempotent(1, 1, 3)), ErrorCode::kOutOfOrderSequenceNumber);
  EXPECT_EQ(Append(log.get(), Idempotent(1, 1, 0)), 2);
  EXPECT_EQ(AppendError(log.get(), Idempotent(1, 0, 2)), ErrorCode::kInvalidProducerEpoch);
  EXPECT_EQ(AppendError(log.get(), Idempotent(2, 0, 5)), ErrorCode::kUnknownProducerId);
  EXPECT_EQ(Append(log.get(), Idempotent(2, 0, 0)), 3);
  EXPECT_EQ(log->high_watermark(), 4);
}

TEST_F(PartitionLogTest, SequenceWrapsAtInt32Max) {
  auto log = OpenLog();
  ASSERT_EQ(Append(log.get(), Idempotent(3, 0, 0)), 0);
  int64_t start = 0;
  ASSERT_EQ(log->DeleteRecordsBefore(-1, &start), ErrorCode::kNone);
  // With the log start moved, an unknown producer may continue mid-sequence.
  EXPECT_EQ(Append(log.get(), Idempotent(3, 0, INT32_MAX - 1, 2)), 1);
  EXPECT_EQ(Append(log.get(), Idempotent(3, 0, 0)), 3);
}

TEST_F(PartitionLogTest, ProducerStateSurvivesReopen) {
  auto first = Idempotent(9, 2, 0, 2);
  auto second = Idempotent(9, 2, 2, 2);
  {
    auto log = OpenLog();
    Append(log.get(), first);
    Append(log.get(), second);
  }
  auto log = OpenLog();
  AppendResult res;
  EXPECT_EQ(Append(log.get(), first, &res), 0);
  EXPECT_TRUE(res.duplicate);
  EXPECT_EQ(Append(log.get(), second, &res), 2);
  EXPECT_TRUE(res.duplicate);
  EXPECT_EQ(AppendError(log.get(), Idempotent(9, 1, 4)), ErrorCode::kInvalidProducerEpoch);
  EXPECT_EQ(AppendError(log.get(), Idempotent(9, 2, 5)), ErrorCode::kOutOfOrderSequenceNumber);
  EXPECT_EQ(Append(log.get(), Idempotent(9, 2, 4), &res), 4);
  EXPECT_FALSE(res.duplicate);
}

TEST_F(PartitionLogTest, OnlyTheLastFiveBatchesAreRemembered) {
  auto log = OpenLog();
  for (int i = 0; i < 7; ++i) Append(log.get(), Idempotent(4, 0, i));
  AppendResult res;
  EXPECT_EQ(Append(log.get(), Idempotent(4, 0, 2), &res), 2);
  EXPECT_TRUE(res.duplicate);
  EXPECT_EQ(AppendError(log.get(), Idempotent(4, 0, 1)), ErrorCode::kOutOfOrderSequenceNumber);
}

TEST_F(PartitionLogTest, RejectsBatchesLargerThanMaxMessageBytes) {
  config_.max_message_bytes = 200;
  auto log = OpenLog();
  Spec s;
  s.records = 5;
  s.value_size = 100;
  AppendResult res;
  std::string error;
  auto big = Batch(s);
  EXPECT_EQ(log->Append(big, &res, &error), ErrorCode::kMessageTooLarge);
  EXPECT_NE(error.find("max.message.bytes"), std::string::npos) << error;
  EXPECT_EQ(log->high_watermark(), 0);
  EXPECT_EQ(log->size_bytes(), 0);
}

TEST_F(PartitionLogTest, WritesNothingUnlessEveryBatchPasses) {
  auto log = OpenLog();
  auto good = Batch(2);
  auto bad = Batch(1);
  bad.back() ^= 0x55;
  std::vector<uint8_t> both = good;
  both.insert(both.end(), bad.begin(), bad.end());
  EXPECT_EQ(AppendError(log.get(), both), ErrorCode::kCorruptMessage);
  EXPECT_EQ(log->high_watermark(), 0);
  // Two good batches in one request get consecutive offsets.
  both = good;
  both.insert(both.end(), good.begin(), good.end());
  EXPECT_EQ(Append(log.get(), both), 0);
  EXPECT_EQ(log->high_watermark(), 4);
  auto all = ReadAll(*log, 0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].base_offset, 2);
}

TEST_F(PartitionLogTest, LogAppendTimeRewritesTimestamps) {
  config_.log_append_time = true;
  auto log = OpenLog();
  clock_.Set(kT0 + 12345);
  Spec s;
  s.records = 3;
  s.timestamp = 42;
  AppendResult res;
  Append(log.get(), Batch(s), &res);
  EXPECT_EQ(res.log_append_time, kT0 + 12345);
  ReadResult r;
  ASSERT_EQ(log->Read(0, kBig, &r), ErrorCode::kNone);
  auto hs = Headers(r.bytes);
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_TRUE(hs[0].log_append_time());
  EXPECT_EQ(hs[0].max_timestamp, kT0 + 12345);
}

TEST_F(PartitionLogTest, OffsetForTimestamp) {
  const auto b = Batch(1);
  config_.segment_bytes = static_cast<int64_t>(b.size()) * 3;
  auto log = OpenLog();
  int64_t offset = 0, ts = 0;
  log->OffsetForTimestamp(0, &offset, &ts);
  EXPECT_EQ(offset, -1);
  for (int i = 0; i < 8; ++i) {
    Spec s;
    s.records = 2;
    s.timestamp = 1000 * (i + 1);  // batch i: records at 1000 * (i + 1) and one ms later
    Append(log.get(), Batch(s));
  }
  // Uncompressed batches are answered per record, exactly.
  log->OffsetForTimestamp(0, &offset, &ts);
  EXPECT_EQ(offset, 0);
  EXPECT_EQ(ts, 1000);
  log->OffsetForTimestamp(1500, &offset, &ts);
  EXPECT_EQ(offset, 2);
  EXPECT_EQ(ts, 2000);
  log->OffsetForTimestamp(6001, &offset, &ts);
  EXPECT_EQ(offset, 11) << "the second record of batch 5";
  EXPECT_EQ(ts, 6001);
  log->OffsetForTimestamp(8002, &offset, &ts);
  EXPECT_EQ(offset, -1);
  // Still right after reopening from the time index files.
  log.reset();
  log = OpenLog();
  log->OffsetForTimestamp(4500, &offset, &ts);
  EXPECT_EQ(offset, 8);
  EXPECT_EQ(ts, 5000);
}

TEST_F(PartitionLogTest, OffsetForTimestampInACompressedBatchIsTheBatch) {
  auto log = OpenLog();
  Spec s;
  s.records = 4;
  s.timestamp = 1000;  // records at 1000..1003
  s.attributes = 1;    // marked gzip: the broker must not look inside
  Append(log.get(), Batch(s));
  int64_t offset = 0, ts = 0;
  log->OffsetForTimestamp(1002, &offset, &ts);
  EXPECT_EQ(offset, 0) << "the batch's base offset: never past the record";
  EXPECT_EQ(ts, 1003) << "the batch's max timestamp";
}

TEST_F(PartitionLogTest, FlushAlwaysAppendsDurably) {
  config_.flush = FlushPolicy::kAlways;
  config_.segment_bytes = static_cast<int64_t>(Batch(1).size()) * 2;
  {
    auto log = OpenLog();
    for (int i = 0; i < 5; ++i) EXPECT_EQ(Append(log.get(), Batch(1)), i);
    EXPECT_TRUE(log->Flush().ok());
  }
  auto log = OpenLog();
  EXPECT_EQ(log->high_watermark(), 5);
  EXPECT_EQ(ReadAll(*log, 0).size(), 5u);
}

TEST_F(PartitionLogTest, ReadsAreSafeDuringAppends) {
  config_.segment_bytes = static_cast<int64_t>(Batch(1).size()) * 7;
  auto log = OpenLog();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 300; ++i) Append(log.get(), Batch(1));
    done = true;
  });
  int reads = 0;
  while (!done || reads == 0) {
    int64_t hw = log->high_watermark();
    ReadResult r;
    ASSERT_EQ(log->Read(hw / 2, 4096, &r), ErrorCode::kNone);
    Headers(r.bytes);  // whole, valid batches only
    ++reads;
  }
  writer.join();
  EXPECT_EQ(ReadAll(*log, 0).size(), 300u);
}

TEST_F(PartitionLogTest, ClosedLogRefusesWork) {
  auto log = OpenLog();
  Append(log.get(), Batch(1));
  log->Close();
  AppendResult res;
  std::string error;
  auto b = Batch(1);
  EXPECT_NE(log->Append(b, &res, &error), ErrorCode::kNone);
  EXPECT_EQ(log->high_watermark(), 1);
}

}  // namespace
}  // namespace weir::broker
