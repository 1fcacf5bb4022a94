// broker/partition_log.cc — segments, indexes, recovery, retention and
// idempotent-producer state for one partition.
//
// In memory the log keeps, per segment, its base offset, the next offset
// after its last batch, its size, its largest timestamp and both indexes
// (mirrors of the .index and .timeindex files). Batch bytes stay on disk and
// are read with pread().
//
// Index files are hints: a segment whose index files are missing or do not
// match its batches is rescanned and its indexes rewritten. The .log files
// are the truth; recovery only ever shortens them, at the first batch that
// fails its checks.
//
// Locking: one reader-writer mutex. Read(), OffsetForTimestamp() and the
// getters take it shared (they only pread()); everything that changes the
// log takes it exclusively.

#include "broker/partition_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <deque>
#include <exception>
#include <shared_mutex>
#include <system_error>
#include <unordered_map>

#include "broker/file_util.h"
#include "broker/record_batch.h"

namespace weir::broker {
namespace {

namespace fs = std::filesystem;

constexpr char kLogStartFileName[] = "log-start-offset";
constexpr size_t kIndexEntrySize = 8;
constexpr size_t kTimeIndexEntrySize = 12;
// How many of a producer's most recent batches are remembered for duplicate
// detection (Kafka's max.in.flight.requests.per.connection limit with
// idempotence).
constexpr size_t kProducerBatchesKept = 5;
// Read size when recovery checks whole batches.
constexpr size_t kScanChunkBytes = 1 << 20;
// Index positions are uint32; keep every batch start below this.
constexpr int64_t kMaxSegmentBytes = INT32_MAX;

std::string ErrnoText(int err) { return std::generic_category().message(err); }

Status IoError(std::string_view what, const fs::path& path) {
  int err = errno;
  return Status::Io(fmt::format("{} {}: {}", what, path.string(), ErrnoText(err)));
}

// Reads exactly |n| bytes at |offset|. False on a short read or an error.
bool PreadFull(int fd, void* buf, size_t n, int64_t offset) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, offset);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    offset += r;
  }
  return true;
}

bool PwriteFull(int fd, const void* buf, size_t n, int64_t offset) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = ::pwrite(fd, p, n, offset);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    offset += r;
  }
  return true;
}

std::string SegmentName(int64_t base_offset, std::string_view extension) {
  return fmt::format("{:020d}{}", base_offset, extension);
}

// The base offset named by a segment file stem ("00000000000000000042"), or
// -1 when |stem| is not 20 digits.
int64_t ParseSegmentStem(std::string_view stem) {
  if (stem.size() != 20) return -1;
  int64_t value = -1;
  auto [ptr, ec] = std::from_chars(stem.data(), stem.data() + stem.size(), value);
  if (ec != std::errc() || ptr != stem.data() + stem.size()) return -1;
  return value;
}

struct IndexEntry {
  uint32_t relative_offset = 0;  // of the batch's base offset
  uint32_t position = 0;         // of the batch in the .log file
  bool operator==(const IndexEntry&) const = default;
};

struct TimeIndexEntry {
  int64_t timestamp = -1;        // the segment's max timestamp up to and including...
  uint32_t relative_offset = 0;  // ...the batch with this relative base offset
  bool operator==(const TimeIndexEntry&) const = default;
};

struct Segment {
  int64_t base_offset = 0;
  int64_t next_offset = 0;  // last offset + 1; base_offset when empty
  int64_t size = 0;         // bytes in the .log file
  int64_t max_timestamp = -1;
  // Wall-clock time the first batch was appended (for segment.ms); -1 when
  // empty. After recovery, the first batch's max timestamp (as Kafka does).
  int64_t roll_start_ms = -1;
  int64_t bytes_since_index = 0;
  uint32_t last_batch_relative = 0;
  int log_fd = -1;
  int index_fd = -1;
  int time_index_fd = -1;
  std::vector<IndexEntry> index;
  std::vector<TimeIndexEntry> time_index;
  fs::path log_path;
  fs::path index_path;
  fs::path time_index_path;

  bool empty() const { return size == 0; }

  void CloseFiles() {
    for (int* fd : {&log_fd, &index_fd, &time_index_fd}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }
  // A sealed segment's indexes live in memory; only its .log stays open
  // (for reads), so descriptors grow with segments, not three times that.
  void CloseIndexFiles() {
    for (int* fd : {&index_fd, &time_index_fd}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }
};

// What one batch added to a segment's indexes (to be written to the files).
struct Tracked {
  bool index_added = false;
  bool time_index_added = false;
};

// Records the batch |h| that sits at |position| of |seg| in the in-memory
// state. The first batch of a segment and then one batch per
// |interval_bytes| get an offset index entry; an indexed batch that raised
// the segment's max timestamp gets a time index entry.
Tracked TrackBatch(Segment* seg, const BatchHeader& h, int64_t position, int32_t interval_bytes) {
  Tracked t;
  auto relative = static_cast<uint32_t>(h.base_offset - seg->base_offset);
  seg->max_timestamp = std::max(seg->max_timestamp, h.max_timestamp);
  if (seg->index.empty() || seg->bytes_since_index >= interval_bytes) {
    seg->index.push_back({relative, static_cast<uint32_t>(position)});
    seg->bytes_since_index = 0;
    t.index_added = true;
    if (seg->time_index.empty() || seg->max_timestamp > seg->time_index.back().timestamp) {
      seg->time_index.push_back({seg->max_timestamp, relative});
      t.time_index_added = true;
    }
  }
  seg->bytes_since_index += static_cast<int64_t>(h.total_size());
  seg->size = position + static_cast<int64_t>(h.total_size());
  seg->next_offset = h.last_offset() + 1;
  seg->last_batch_relative = relative;
  return t;
}

void EncodeIndexEntry(const IndexEntry& e, uint8_t* p) {
  StoreBigEndian(p, e.relative_offset, 4);
  StoreBigEndian(p + 4, e.position, 4);
}

void EncodeTimeIndexEntry(const TimeIndexEntry& e, uint8_t* p) {
  StoreBigEndian(p, static_cast<uint64_t>(e.timestamp), 8);
  StoreBigEndian(p + 8, e.relative_offset, 4);
}

Status WriteLastIndexEntry(const Segment& seg) {
  uint8_t buf[kIndexEntrySize];
  EncodeIndexEntry(seg.index.back(), buf);
  int64_t at = static_cast<int64_t>((seg.index.size() - 1) * kIndexEntrySize);
  if (!PwriteFull(seg.index_fd, buf, sizeof(buf), at)) {
    return IoError("cannot write index", seg.index_path);
  }
  return Status::Ok();
}

Status WriteLastTimeIndexEntry(const Segment& seg) {
  uint8_t buf[kTimeIndexEntrySize];
  EncodeTimeIndexEntry(seg.time_index.back(), buf);
  int64_t at = static_cast<int64_t>((seg.time_index.size() - 1) * kTimeIndexEntrySize);
  if (!PwriteFull(seg.time_index_fd, buf, sizeof(buf), at)) {
    return IoError("cannot write time index", seg.time_index_path);
  }
  return Status::Ok();
}

// Replaces both index files with the in-memory indexes.
Status RewriteIndexFiles(const Segment& seg) {
  std::vector<uint8_t> buf(seg.index.size() * kIndexEntrySize);
  for (size_t i = 0; i < seg.index.size(); ++i) {
    EncodeIndexEntry(seg.index[i], buf.data() + i * kIndexEntrySize);
  }
  if (::ftruncate(seg.index_fd, 0) != 0 || !PwriteFull(seg.index_fd, buf.data(), buf.size(), 0)) {
    return IoError("cannot rewrite index", seg.index_path);
  }
  buf.assign(seg.time_index.size() * kTimeIndexEntrySize, 0);
  for (size_t i = 0; i < seg.time_index.size(); ++i) {
    EncodeTimeIndexEntry(seg.time_index[i], buf.data() + i * kTimeIndexEntrySize);
  }
  if (::ftruncate(seg.time_index_fd, 0) != 0 ||
      !PwriteFull(seg.time_index_fd, buf.data(), buf.size(), 0)) {
    return IoError("cannot rewrite time index", seg.time_index_path);
  }
  return Status::Ok();
}

// Reads a whole small file; false when it cannot be read.
bool ReadWholeFile(int fd, std::vector<uint8_t>* out) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  out->resize(static_cast<size_t>(st.st_size));
  return out->empty() || PreadFull(fd, out->data(), out->size(), 0);
}

// Loads the stored indexes of |seg|; false when a file has a partial entry.
bool LoadIndexFiles(const Segment& seg, std::vector<IndexEntry>* index,
                    std::vector<TimeIndexEntry>* time_index) {
  std::vector<uint8_t> buf;
  if (!ReadWholeFile(seg.index_fd, &buf) || buf.size() % kIndexEntrySize != 0) return false;
  for (size_t i = 0; i < buf.size(); i += kIndexEntrySize) {
    index->push_back({static_cast<uint32_t>(LoadBigEndian(&buf[i], 4)),
                      static_cast<uint32_t>(LoadBigEndian(&buf[i + 4], 4))});
  }
  if (!ReadWholeFile(seg.time_index_fd, &buf) || buf.size() % kTimeIndexEntrySize != 0) {
    return false;
  }
  for (size_t i = 0; i < buf.size(); i += kTimeIndexEntrySize) {
    time_index->push_back({static_cast<int64_t>(LoadBigEndian(&buf[i], 8)),
                           static_cast<uint32_t>(LoadBigEndian(&buf[i + 8], 4))});
  }
  return true;
}

// Serves byte ranges of a .log file during a scan, reading ahead by
// |chunk| bytes (a header-only walk passes the header size, so it reads
// nothing but headers).
class FileWindow {
 public:
  FileWindow(int fd, int64_t file_size, size_t chunk)
      : fd_(fd), file_size_(file_size), chunk_(chunk) {}

  // The bytes [pos, pos + n), or an empty span when the file ends first or
  // cannot be read.
  std::span<const uint8_t> Get(int64_t pos, size_t n) {
    if (pos < 0 || pos + static_cast<int64_t>(n) > file_size_) return {};
    if (pos < start_ ||
        pos + static_cast<int64_t>(n) > start_ + static_cast<int64_t>(buf_.size())) {
      size_t want = std::max(n, chunk_);
      want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(want), file_size_ - pos));
      buf_.resize(want);
      if (!PreadFull(fd_, buf_.data(), want, pos)) {
        buf_.clear();
        start_ = 0;
        return {};
      }
      start_ = pos;
    }
    return std::span<const uint8_t>(buf_).subspan(static_cast<size_t>(pos - start_), n);
  }

 private:
  int fd_;
  int64_t file_size_;
  size_t chunk_;
  int64_t start_ = 0;
  std::vector<uint8_t> buf_;
};

// One of a producer's recent batches.
struct ProducerBatch {
  int32_t first_sequence = 0;
  int32_t last_sequence = 0;
  int64_t base_offset = 0;
  int64_t last_offset = 0;
};

struct ProducerState {
  int16_t epoch = -1;
  std::deque<ProducerBatch> batches;  // oldest first, at most kProducerBatchesKept
};

using ProducerMap = std::unordered_map<int64_t, ProducerState>;

// Adds the idempotent batch |h| (already at its final offset) to the
// producer's state. Batches at or below offsets already recorded are
// ignored, so a rescan of a segment is harmless.
void ApplyProducerBatch(ProducerMap* producers, const BatchHeader& h) {
  if (!h.idempotent()) return;
  ProducerState& st = (*producers)[h.producer_id];
  if (!st.batches.empty() && h.base_offset <= st.batches.back().last_offset) return;
  if (h.producer_epoch != st.epoch) {
    st.epoch = h.producer_epoch;
    st.batches.clear();
  }
  st.batches.push_back({h.base_sequence, h.last_sequence(), h.base_offset, h.last_offset()});
  while (st.batches.size() > kProducerBatchesKept) st.batches.pop_front();
}

int32_t NextSequence(int32_t sequence) { return sequence == INT32_MAX ? 0 : sequence + 1; }

}  // namespace

struct PartitionLog::Impl {
  Impl(fs::path d, LogConfig c, const Clock& clk) : dir(std::move(d)), config(c), clock(clk) {}

  const fs::path dir;
  LogConfig config;
  const Clock& clock;

  mutable std::shared_mutex mu;
  bool closed = false;
  // Ordered by base offset; the last one is the active segment. Never empty
  // while open.
  std::vector<std::unique_ptr<Segment>> segments;
  int64_t log_start_offset = 0;
  ProducerMap producers;

  Segment& active() { return *segments.back(); }
  int64_t high_watermark() const { return segments.back()->next_offset; }

  // --- Files -------------------------------------------------------------

  Status OpenSegmentFiles(Segment* seg, bool create) {
    seg->log_path = dir / SegmentName(seg->base_offset, ".log");
    seg->index_path = dir / SegmentName(seg->base_offset, ".index");
    seg->time_index_path = dir / SegmentName(seg->base_offset, ".timeindex");
    int flags = O_RDWR | O_CLOEXEC | O_CREAT | (create ? O_TRUNC : 0);
    seg->log_fd = ::open(seg->log_path.c_str(), flags, 0644);
    if (seg->log_fd < 0) return IoError("cannot open segment", seg->log_path);
    seg->index_fd = ::open(seg->index_path.c_str(), flags, 0644);
    if (seg->index_fd < 0) return IoError("cannot open index", seg->index_path);
    seg->time_index_fd = ::open(seg->time_index_path.c_str(), flags, 0644);
    if (seg->time_index_fd < 0) return IoError("cannot open time index", seg->time_index_path);
    return Status::Ok();
  }

  void DeleteSegmentFiles(Segment* seg) {
    seg->CloseFiles();
    for (const fs::path& p : {seg->log_path, seg->index_path, seg->time_index_path}) {
      if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
        spdlog::warn("{}: cannot delete: {}", p.string(), ErrnoText(errno));
      }
    }
  }

  // Writes the log start offset to its file atomically.
  Status PersistLogStart() {
    return WriteFileAtomically(dir / kLogStartFileName, fmt::format("{}\n", log_start_offset));
  }

  // --- Recovery ----------------------------------------------------------

  // Walks the batches of |seg| from the start, rebuilding its in-memory
  // state and feeding idempotent-producer state. With |check_crc| every
  // batch is read whole and checked with CheckBatch(); otherwise only
  // headers are read. When |stored_index| / |stored_time_index| are given,
  // *index_matches tells whether they agree with the batches found.
  // Returns the reason the walk stopped early ("" when it reached the end)
  // and leaves seg->size at the end of the last good batch.
  std::string WalkSegment(Segment* seg, bool check_crc, int64_t file_size,
                          const std::vector<IndexEntry>* stored_index,
                          const std::vector<TimeIndexEntry>* stored_time_index,
                          bool* index_matches) {
    seg->index.clear();
    seg->time_index.clear();
    seg->size = 0;
    seg->next_offset = seg->base_offset;
    seg->max_timestamp = -1;
    seg->bytes_since_index = 0;
    seg->roll_start_ms = -1;
    bool matches = true;
    size_t next_index = 0;
    size_t next_time = 0;
    int64_t running_max = -1;

    FileWindow window(seg->log_fd, file_size, check_crc ? kScanChunkBytes : kBatchHeaderSize);
    int64_t pos = 0;
    std::string reason;
    while (pos < file_size) {
      auto head = window.Get(pos, kBatchHeaderSize);
      if (head.empty()) {
        reason = fmt::format("{} bytes at position {} are too few for a batch header",
                             file_size - pos, pos);
        break;
      }
      BatchHeader h;
      ParseBatchHeader(head, &h);
      if (h.magic != 2) {
        reason = fmt::format("batch at position {} has magic {}", pos, h.magic);
        break;
      }
      if (h.batch_length < static_cast<int32_t>(kBatchHeaderSize - kBatchLengthFieldEnd) ||
          h.last_offset_delta < 0) {
        reason = fmt::format("batch at position {} has length {} and last offset delta {}", pos,
                             h.batch_length, h.last_offset_delta);
        break;
      }
      if (pos + static_cast<int64_t>(h.total_size()) > file_size) {
        reason = fmt::format("batch at position {} needs {} bytes but only {} remain", pos,
                             h.total_size(), file_size - pos);
        break;
      }
      if (h.base_offset < seg->next_offset ||
          h.last_offset() - seg->base_offset > static_cast<int64_t>(UINT32_MAX)) {
        reason = fmt::format("batch at position {} has base offset {}, expected at least {}", pos,
                             h.base_offset, seg->next_offset);
        break;
      }
      if (check_crc) {
        auto whole = window.Get(pos, h.total_size());
        BatchCheck check = whole.empty()
                               ? BatchCheck{ErrorCode::kCorruptMessage, "cannot read the batch"}
                               : CheckBatch(whole);
        if (check.error != ErrorCode::kNone) {
          reason = fmt::format("batch at position {} (offset {}): {}", pos, h.base_offset,
                               check.message);
          break;
        }
      }
      auto relative = static_cast<uint32_t>(h.base_offset - seg->base_offset);
      running_max = std::max(running_max, h.max_timestamp);
      if (stored_index != nullptr) {
        while (next_index < stored_index->size() && (*stored_index)[next_index].position <= pos) {
          const IndexEntry& e = (*stored_index)[next_index++];
          if (e.position != pos || e.relative_offset != relative) matches = false;
        }
      }
      if (stored_time_index != nullptr) {
        while (next_time < stored_time_index->size() &&
               (*stored_time_index)[next_time].relative_offset <= relative) {
          const TimeIndexEntry& e = (*stored_time_index)[next_time++];
          if (e.relative_offset != relative || e.timestamp != running_max) matches = false;
        }
      }
      if (seg->roll_start_ms < 0) seg->roll_start_ms = h.max_timestamp;
      TrackBatch(seg, h, pos, config.index_interval_bytes);
      ApplyProducerBatch(&producers, h);
      pos += static_cast<int64_t>(h.total_size());
    }
    if (stored_index != nullptr && next_index != stored_index->size()) matches = false;
    if (stored_time_index != nullptr) {
      if (next_time != stored_time_index->size()) matches = false;
      // A rolled segment ends with an entry for its max timestamp.
      if (!seg->empty() &&
          (stored_time_index->empty() || stored_time_index->back().timestamp != running_max)) {
        matches = false;
      }
    }
    if (index_matches != nullptr) *index_matches = matches;
    return reason;
  }

  // Checks every batch of |seg| with its CRC, truncates the .log file after
  // the last good one and rewrites the indexes.
  Status RecoverSegment(Segment* seg) {
    struct stat st;
    if (::fstat(seg->log_fd, &st) != 0) return IoError("cannot stat", seg->log_path);
    int64_t file_size = st.st_size;
    std::string reason = WalkSegment(seg, true, file_size, nullptr, nullptr, nullptr);
    if (!reason.empty()) {
      spdlog::warn("{}: truncating {} bytes after position {} (torn or corrupt tail): {}",
                   seg->log_path.string(), file_size - seg->size, seg->size, reason);
      if (::ftruncate(seg->log_fd, seg->size) != 0) {
        return IoError("cannot truncate", seg->log_path);
      }
      if (::fdatasync(seg->log_fd) != 0) return IoError("cannot sync", seg->log_path);
    }
    return RewriteIndexFiles(*seg);
  }

  // Loads one existing segment. |is_last| segments are always checked batch
  // by batch; others are trusted when their index files match their batch
  // headers.
  Status LoadSegment(Segment* seg, bool is_last) {
    std::error_code ec;
    bool have_indexes = fs::exists(dir / SegmentName(seg->base_offset, ".index"), ec) &&
                        fs::exists(dir / SegmentName(seg->base_offset, ".timeindex"), ec);
    WEIR_RETURN_IF_ERROR(OpenSegmentFiles(seg, false));
    if (is_last) return RecoverSegment(seg);
    std::vector<IndexEntry> stored_index;
    std::vector<TimeIndexEntry> stored_time_index;
    if (!have_indexes || !LoadIndexFiles(*seg, &stored_index, &stored_time_index)) {
      spdlog::info("{}: index files missing or damaged; rebuilding", seg->log_path.string());
      return RecoverSegment(seg);
    }
    struct stat st;
    if (::fstat(seg->log_fd, &st) != 0) return IoError("cannot stat", seg->log_path);
    bool matches = false;
    // The header walk feeds producer state; if the segment turns out to need
    // a full check, start that state over so that batches a truncation
    // drops leave nothing behind.
    ProducerMap producers_before = producers;
    std::string reason =
        WalkSegment(seg, false, st.st_size, &stored_index, &stored_time_index, &matches);
    if (!reason.empty() || !matches) {
      spdlog::info("{}: index files do not match the segment ({}); rebuilding",
                   seg->log_path.string(), reason.empty() ? "index mismatch" : reason);
      producers = std::move(producers_before);
      return RecoverSegment(seg);
    }
    // Keep what is on disk: index_interval_bytes may have changed since.
    seg->index = std::move(stored_index);
    seg->time_index = std::move(stored_time_index);
    return Status::Ok();
  }

  Status OpenAll() {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::Io(fmt::format("cannot create {}: {}", dir.string(), ec.message()));

    std::vector<int64_t> bases;
    std::vector<fs::path> orphans;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const fs::path& p = entry.path();
      std::string name = p.filename().string();
      std::string ext = p.extension().string();
      if (name.ends_with(kTempFileSuffix)) {
        orphans.push_back(p);
        continue;
      }
      int64_t base = ParseSegmentStem(p.stem().string());
      if (base < 0) continue;
      if (ext == ".log") {
        bases.push_back(base);
      } else if ((ext == ".index" || ext == ".timeindex") &&
                 !fs::exists(dir / SegmentName(base, ".log"))) {
        orphans.push_back(p);
      }
    }
    if (ec) return Status::Io(fmt::format("cannot list {}: {}", dir.string(), ec.message()));
    for (const fs::path& p : orphans) {
      spdlog::info("{}: removing leftover file", p.string());
      fs::remove(p, ec);
    }
    std::sort(bases.begin(), bases.end());

    int64_t stored_start = 0;
    WEIR_RETURN_IF_ERROR(ReadLogStart(&stored_start));

    for (size_t i = 0; i < bases.size(); ++i) {
      auto seg = std::make_unique<Segment>();
      seg->base_offset = bases[i];
      seg->next_offset = bases[i];
      const bool is_last = i + 1 == bases.size();
      Status s = LoadSegment(seg.get(), is_last);
      if (s.ok() && !is_last) seg->CloseIndexFiles();
      segments.push_back(std::move(seg));
      WEIR_RETURN_IF_ERROR(s);
    }
    if (segments.empty()) WEIR_RETURN_IF_ERROR(AddSegment(stored_start));

    log_start_offset = std::max(stored_start, segments.front()->base_offset);
    if (log_start_offset > high_watermark()) {
      // Data below the log start offset was lost with a torn tail: nothing
      // readable remains, so start over empty at the start offset.
      spdlog::warn("{}: log start offset {} is above the recovered end {}; emptying the log",
                   dir.string(), log_start_offset, high_watermark());
      for (auto& seg : segments) DeleteSegmentFiles(seg.get());
      segments.clear();
      producers.clear();
      WEIR_RETURN_IF_ERROR(AddSegment(log_start_offset));
    }
    Segment& act = active();
    if (!act.empty()) {
      int64_t now = clock.NowMs();
      if (act.roll_start_ms < 0 || act.roll_start_ms > now) act.roll_start_ms = now;
    }
    EvictProducersBelowStart();
    return Status::Ok();
  }

  Status ReadLogStart(int64_t* out) {
    fs::path path = dir / kLogStartFileName;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return Status::Ok();
      return IoError("cannot open", path);
    }
    std::vector<uint8_t> buf;
    bool ok = ReadWholeFile(fd, &buf);
    ::close(fd);
    if (!ok) return IoError("cannot read", path);
    std::string text(buf.begin(), buf.end());
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value < 0) {
      return Status::Corruption(
          fmt::format("{}: not a log start offset: \"{}\"", path.string(), text));
    }
    *out = value;
    return Status::Ok();
  }

  // --- Segments ----------------------------------------------------------

  Status AddSegment(int64_t base_offset) {
    auto seg = std::make_unique<Segment>();
    seg->base_offset = base_offset;
    seg->next_offset = base_offset;
    Status s = OpenSegmentFiles(seg.get(), true);
    if (!s.ok()) {
      seg->CloseFiles();
      return s;
    }
    segments.push_back(std::move(seg));
    return SyncDirectory(dir);
  }

  // Seals the active segment (final time index entry, everything synced) and
  // starts a new one at the high watermark.
  Status Roll() {
    Segment& old = active();
    WEIR_RETURN_IF_ERROR(SealSegment(&old));
    return AddSegment(old.next_offset);
  }

  Status SealSegment(Segment* seg) {
    if (seg->log_fd < 0) return Status::Ok();
    if (!seg->empty() &&
        (seg->time_index.empty() || seg->max_timestamp > seg->time_index.back().timestamp)) {
      seg->time_index.push_back({seg->max_timestamp, seg->last_batch_relative});
      WEIR_RETURN_IF_ERROR(WriteLastTimeIndexEntry(*seg));
    }
    WEIR_RETURN_IF_ERROR(SyncSegment(*seg));
    seg->CloseIndexFiles();
    return Status::Ok();
  }

  Status SyncSegment(const Segment& seg) {
    if (::fdatasync(seg.log_fd) != 0) return IoError("cannot sync", seg.log_path);
    if (seg.index_fd >= 0 && ::fdatasync(seg.index_fd) != 0) {
      return IoError("cannot sync", seg.index_path);
    }
    if (seg.time_index_fd >= 0 && ::fdatasync(seg.time_index_fd) != 0) {
      return IoError("cannot sync", seg.time_index_path);
    }
    return Status::Ok();
  }

  bool ActiveTooOld(int64_t now) const {
    const Segment& act = *segments.back();
    return !act.empty() && act.roll_start_ms >= 0 && now - act.roll_start_ms > config.segment_ms;
  }

  // Rolls before appending a batch of |batch_size| bytes whose last offset
  // delta is |last_offset_delta|, when the active segment is full or old.
  Status MaybeRollFor(int64_t batch_size, int32_t last_offset_delta, int64_t now) {
    const Segment& act = active();
    if (act.empty()) return Status::Ok();
    int64_t limit = std::min(config.segment_bytes, kMaxSegmentBytes);
    bool full = act.size + batch_size > limit;
    bool offsets_overflow =
        act.next_offset + last_offset_delta - act.base_offset > static_cast<int64_t>(UINT32_MAX);
    if (!full && !offsets_overflow && !ActiveTooOld(now)) return Status::Ok();
    return Roll();
  }

  void EvictProducersBelowStart() {
    std::erase_if(producers, [this](const auto& item) {
      return item.second.batches.empty() ||
             item.second.batches.back().last_offset < log_start_offset;
    });
  }

  // Deletes non-active segments from the front while |pred| holds.
  template <typename Pred>
  int DeleteLeadingSegments(Pred pred) {
    int deleted = 0;
    while (segments.size() > 1 && pred(*segments.front())) {
      spdlog::info("{}: deleting segment", segments.front()->log_path.string());
      DeleteSegmentFiles(segments.front().get());
      segments.erase(segments.begin());
      ++deleted;
    }
    return deleted;
  }

  // Raises the log start offset to at least the first segment's base and
  // persists it when it changed.
  Status UpdateLogStart(int64_t wanted) {
    int64_t start = std::max({log_start_offset, wanted, segments.front()->base_offset});
    if (start == log_start_offset) return Status::Ok();
    log_start_offset = start;
    EvictProducersBelowStart();
    return PersistLogStart();
  }

  // --- Idempotence -------------------------------------------------------

  // Checks the idempotent batch |h| against |st| (null when the producer is
  // unknown). Sets *duplicate and *duplicate_base for a retry.
  ErrorCode CheckSequence(const BatchHeader& h, const ProducerState* st, bool* duplicate,
                          int64_t* duplicate_base, std::string* error) const {
    *duplicate = false;
    if (h.base_sequence < 0) {
      *error = fmt::format("producer {} sent base sequence {}", h.producer_id, h.base_sequence);
      return ErrorCode::kOutOfOrderSequenceNumber;
    }
    if (st == nullptr || st->batches.empty()) {
      if (st != nullptr && h.producer_epoch < st->epoch) {
        *error = fmt::format("producer {} epoch {} is older than {}", h.producer_id,
                             h.producer_epoch, st->epoch);
        return ErrorCode::kInvalidProducerEpoch;
      }
      // With the log start moved, the producer's state may have gone with
      // its batches: accept where it continues.
      if (h.base_sequence == 0 || log_start_offset > 0) return ErrorCode::kNone;
      *error = fmt::format("producer {} is unknown and sent sequence {} (expected 0)",
                           h.producer_id, h.base_sequence);
      return ErrorCode::kUnknownProducerId;
    }
    if (h.producer_epoch < st->epoch) {
      *error = fmt::format("producer {} epoch {} is older than {}", h.producer_id, h.producer_epoch,
                           st->epoch);
      return ErrorCode::kInvalidProducerEpoch;
    }
    if (h.producer_epoch > st->epoch) {
      if (h.base_sequence == 0) return ErrorCode::kNone;
      *error = fmt::format("producer {} new epoch {} starts at sequence {} (expected 0)",
                           h.producer_id, h.producer_epoch, h.base_sequence);
      return ErrorCode::kOutOfOrderSequenceNumber;
    }
    for (const ProducerBatch& b : st->batches) {
      if (b.first_sequence == h.base_sequence && b.last_sequence == h.last_sequence()) {
        *duplicate = true;
        *duplicate_base = b.base_offset;
        return ErrorCode::kNone;
      }
    }
    int32_t expected = NextSequence(st->batches.back().last_sequence);
    if (h.base_sequence == expected) return ErrorCode::kNone;
    *error = fmt::format("producer {} epoch {} sent sequence {}, expected {}", h.producer_id,
                         h.producer_epoch, h.base_sequence, expected);
    return ErrorCode::kOutOfOrderSequenceNumber;
  }

  // --- Operations ----------------------------------------------------------

  ErrorCode Append(std::span<uint8_t> batches, AppendResult* out, std::string* error,
                   bool defer_sync) {
    std::unique_lock lock(mu);
    if (closed) {
      *error = fmt::format("{}: log is closed", dir.string());
      return ErrorCode::kNotLeaderOrFollower;
    }
    if (batches.empty()) {
      *error = "no record batch";
      return ErrorCode::kCorruptMessage;
    }

    // Check everything before writing anything.
    struct Pending {
      size_t position = 0;
      size_t size = 0;
      bool duplicate = false;
      int64_t base_offset = 0;  // assigned, or the original one of a duplicate
    };
    std::vector<Pending> pending;
    ProducerMap planned;  // producer states as they will be after earlier batches here
    int64_t next_offset = high_watermark();
    size_t pos = 0;
    while (pos < batches.size()) {
      std::span<const uint8_t> rest = batches.subspan(pos);
      BatchHeader h;
      if (!ParseBatchHeader(rest, &h) || h.batch_length < 0 || h.total_size() > rest.size()) {
        BatchCheck check = CheckBatch(rest);
        *error = fmt::format("batch at byte {}: {}", pos, check.message);
        return check.error == ErrorCode::kNone ? ErrorCode::kCorruptMessage : check.error;
      }
      size_t size = h.total_size();
      if (size > static_cast<size_t>(std::max(config.max_message_bytes, 0))) {
        *error = fmt::format("batch of {} bytes exceeds max.message.bytes {}", size,
                             config.max_message_bytes);
        return ErrorCode::kMessageTooLarge;
      }
      BatchCheck check = CheckBatch(rest.first(size));
      if (check.error != ErrorCode::kNone) {
        *error = fmt::format("batch at byte {}: {}", pos, check.message);
        return check.error;
      }
      Pending p{pos, size, false, next_offset};
      if (h.idempotent()) {
        const ProducerState* st = nullptr;
        if (auto it = planned.find(h.producer_id); it != planned.end()) {
          st = &it->second;
        } else if (auto it2 = producers.find(h.producer_id); it2 != producers.end()) {
          st = &it2->second;
        }
        ErrorCode e = CheckSequence(h, st, &p.duplicate, &p.base_offset, error);
        if (e != ErrorCode::kNone) return e;
        if (!p.duplicate) {
          if (planned.find(h.producer_id) == planned.end() && st != nullptr) {
            planned[h.producer_id] = *st;
          }
          h.base_offset = next_offset;
          ApplyProducerBatch(&planned, h);
        }
      }
      if (!p.duplicate) next_offset += static_cast<int64_t>(h.last_offset_delta) + 1;
      pending.push_back(p);
      pos += size;
    }

    int64_t now = clock.NowMs();
    out->base_offset = pending.front().base_offset;
    out->duplicate = true;
    for (const Pending& p : pending) {
      if (p.duplicate) continue;
      out->duplicate = false;
      std::span<uint8_t> bytes = batches.subspan(p.position, p.size);
      BatchHeader h;
      ParseBatchHeader(bytes, &h);
      Status s = MaybeRollFor(static_cast<int64_t>(p.size), h.last_offset_delta, now);
      if (s.ok()) s = WriteBatch(bytes, p.base_offset, now);
      if (!s.ok()) {
        spdlog::error("{}: append failed: {}", dir.string(), s.ToString());
        *error = s.message();
        return ErrorCode::kUnknownServerError;
      }
    }
    if (config.flush == FlushPolicy::kAlways && !out->duplicate && !defer_sync) {
      if (::fdatasync(active().log_fd) != 0) {
        Status s = IoError("cannot sync", active().log_path);
        spdlog::error("{}", s.ToString());
        *error = s.message();
        return ErrorCode::kUnknownServerError;
      }
    }
    out->log_append_time = config.log_append_time ? now : -1;
    out->log_start_offset = log_start_offset;
    return ErrorCode::kNone;
  }

  // Writes one checked batch at the end of the active segment as offset
  // |base_offset| and updates indexes and producer state.
  Status WriteBatch(std::span<uint8_t> bytes, int64_t base_offset, int64_t now) {
    SetBaseOffset(bytes, base_offset);
    if (config.log_append_time) SetLogAppendTime(bytes, now);
    BatchHeader h;
    ParseBatchHeader(bytes, &h);
    Segment& seg = active();
    int64_t position = seg.size;
    if (!PwriteFull(seg.log_fd, bytes.data(), bytes.size(), position)) {
      Status s = IoError("cannot write", seg.log_path);
      // Drop whatever part reached the file so the next batch starts clean.
      if (::ftruncate(seg.log_fd, position) != 0) {
        spdlog::error("{}: cannot truncate after a failed write", seg.log_path.string());
      }
      return s;
    }
    if (seg.empty()) seg.roll_start_ms = now;
    Tracked t = TrackBatch(&seg, h, position, config.index_interval_bytes);
    ApplyProducerBatch(&producers, h);
    if (t.index_added) WEIR_RETURN_IF_ERROR(WriteLastIndexEntry(seg));
    if (t.time_index_added) WEIR_RETURN_IF_ERROR(WriteLastTimeIndexEntry(seg));
    return Status::Ok();
  }

  // The segment holding |offset| (the last one whose base is <= offset).
  size_t SegmentFor(int64_t offset) const {
    auto it = std::upper_bound(
        segments.begin(), segments.end(), offset,
        [](int64_t o, const std::unique_ptr<Segment>& s) { return o < s->base_offset; });
    return it == segments.begin() ? 0 : static_cast<size_t>(it - segments.begin()) - 1;
  }

  // The position of the last indexed batch whose base offset is <= |offset|.
  static int64_t IndexPosition(const Segment& seg, int64_t offset) {
    if (offset <= seg.base_offset) return 0;
    int64_t relative = std::min<int64_t>(offset - seg.base_offset, UINT32_MAX);
    auto it =
        std::upper_bound(seg.index.begin(), seg.index.end(), static_cast<uint32_t>(relative),
                         [](uint32_t r, const IndexEntry& e) { return r < e.relative_offset; });
    return it == seg.index.begin() ? 0 : std::prev(it)->position;
  }

  // Scans batch headers of |seg| from |from| to the first batch that
  // |accept|s its header. Returns its position and header, or -1.
  template <typename Accept>
  static int64_t ScanHeaders(const Segment& seg, int64_t from, Accept accept, BatchHeader* out) {
    int64_t pos = from;
    uint8_t head[kBatchHeaderSize];
    while (pos + static_cast<int64_t>(kBatchHeaderSize) <= seg.size) {
      if (!PreadFull(seg.log_fd, head, sizeof(head), pos)) return -1;
      ParseBatchHeader(head, out);
      if (accept(*out)) return pos;
      pos += static_cast<int64_t>(out->total_size());
    }
    return -1;
  }

  ErrorCode Read(int64_t offset, int32_t max_bytes, ReadResult* out) const {
    std::shared_lock lock(mu);
    out->bytes.clear();
    if (closed) return ErrorCode::kNotLeaderOrFollower;
    out->high_watermark = high_watermark();
    out->log_start_offset = log_start_offset;
    if (offset < log_start_offset || offset > out->high_watermark) {
      return ErrorCode::kOffsetOutOfRange;
    }
    for (size_t i = SegmentFor(offset); i < segments.size(); ++i) {
      const Segment& seg = *segments[i];
      if (seg.next_offset <= offset) continue;
      BatchHeader h;
      int64_t pos = ScanHeaders(
          seg, IndexPosition(seg, offset),
          [offset](const BatchHeader& b) { return b.last_offset() >= offset; }, &h);
      if (pos < 0) continue;
      return ReadBatchesAt(seg, pos, h, max_bytes, out) ? ErrorCode::kNone
                                                        : ErrorCode::kUnknownServerError;
    }
    return ErrorCode::kNone;
  }

  // Reads the whole batches of |seg| that start at |pos| (whose first header
  // is |first|) and fit in |max_bytes|, and at least the first one.
  static bool ReadBatchesAt(const Segment& seg, int64_t pos, const BatchHeader& first,
                            int32_t max_bytes, ReadResult* out) {
    int64_t available = seg.size - pos;
    int64_t want = std::min<int64_t>(available, std::max<int32_t>(max_bytes, 0));
    want = std::max<int64_t>(want, static_cast<int64_t>(first.total_size()));
    out->bytes.resize(static_cast<size_t>(want));
    if (!PreadFull(seg.log_fd, out->bytes.data(), out->bytes.size(), pos)) {
      spdlog::error("{}: cannot read {} bytes at {}: {}", seg.log_path.string(), want, pos,
                    ErrnoText(errno));
      out->bytes.clear();
      return false;
    }
    size_t end = 0;
    auto view = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(out->bytes.data()),
                                         out->bytes.size());
    BatchHeader h;
    while (ParseBatchHeader(view.subspan(end), &h) && h.batch_length >= 0 &&
           end + h.total_size() <= view.size()) {
      end += h.total_size();
    }
    out->bytes.resize(end);
    return true;
  }

  void OffsetForTimestamp(int64_t timestamp_ms, int64_t* offset, int64_t* timestamp) const {
    std::shared_lock lock(mu);
    *offset = -1;
    *timestamp = -1;
    if (closed) return;
    for (const auto& s : segments) {
      const Segment& seg = *s;
      if (seg.empty() || seg.max_timestamp < timestamp_ms) continue;
      // Every batch up to a time index entry below the target is below it.
      int64_t from = 0;
      auto it =
          std::lower_bound(seg.time_index.begin(), seg.time_index.end(), timestamp_ms,
                           [](const TimeIndexEntry& e, int64_t ts) { return e.timestamp < ts; });
      if (it != seg.time_index.begin()) {
        from = IndexPosition(seg, seg.base_offset + std::prev(it)->relative_offset);
      }
      BatchHeader h;
      // Batches wholly below the log start offset (DeleteRecords) are not
      // answers, but later batches of the same segment may be.
      int64_t pos = ScanHeaders(
          seg, from,
          [timestamp_ms, start = log_start_offset](const BatchHeader& b) {
            return b.last_offset() >= start && b.max_timestamp >= timestamp_ms;
          },
          &h);
      if (pos < 0) continue;
      if (h.last_offset() < log_start_offset) continue;
      *offset = std::max(h.base_offset, log_start_offset);
      *timestamp = h.max_timestamp;
      // Uncompressed batches answer exactly, per record; compressed ones
      // answer with the batch (the broker never decompresses).
      std::vector<uint8_t> batch(h.total_size());
      int64_t exact = -1;
      int64_t exact_ts = -1;
      if (h.compression() == 0 && PreadFull(seg.log_fd, batch.data(), batch.size(), pos) &&
          FindRecordByTimestamp(batch, timestamp_ms, &exact, &exact_ts) &&
          exact >= log_start_offset) {
        *offset = exact;
        *timestamp = exact_ts;
      }
      return;
    }
  }

  ErrorCode DeleteRecordsBefore(int64_t offset, int64_t* new_start) {
    std::unique_lock lock(mu);
    if (closed) return ErrorCode::kNotLeaderOrFollower;
    *new_start = log_start_offset;
    int64_t hw = high_watermark();
    if (offset == -1) offset = hw;
    if (offset < 0 || offset > hw) return ErrorCode::kOffsetOutOfRange;
    if (offset <= log_start_offset) return ErrorCode::kNone;
    Status s = Status::Ok();
    if (!active().empty() && active().next_offset <= offset) s = Roll();
    if (s.ok()) {
      DeleteLeadingSegments([offset](const Segment& seg) { return seg.next_offset <= offset; });
      s = UpdateLogStart(offset);
    }
    *new_start = log_start_offset;
    if (!s.ok()) {
      spdlog::error("{}: DeleteRecords to {} failed: {}", dir.string(), offset, s.ToString());
      return ErrorCode::kUnknownServerError;
    }
    return ErrorCode::kNone;
  }

  int ApplyRetention() {
    std::unique_lock lock(mu);
    if (closed) return 0;
    int64_t now = clock.NowMs();
    Status s = Status::Ok();
    if (ActiveTooOld(now)) s = Roll();
    int deleted = 0;
    if (config.retention_ms >= 0) {
      int64_t cutoff = now - config.retention_ms;
      deleted += DeleteLeadingSegments(
          [cutoff](const Segment& seg) { return seg.max_timestamp < cutoff; });
    }
    if (config.retention_bytes >= 0) {
      int64_t total = SizeBytes();
      deleted += DeleteLeadingSegments([&total, this](const Segment& seg) {
        if (total - seg.size < config.retention_bytes) return false;
        total -= seg.size;
        return true;
      });
    }
    if (s.ok()) s = UpdateLogStart(segments.front()->base_offset);
    if (!s.ok()) spdlog::error("{}: retention: {}", dir.string(), s.ToString());
    return deleted;
  }

  int64_t SizeBytes() const {
    int64_t total = 0;
    for (const auto& seg : segments) total += seg->size;
    return total;
  }

  Status Flush() {
    std::unique_lock lock(mu);
    if (closed) return Status::Ok();
    return SyncSegment(active());
  }

  // fdatasync()s the active segment's data without holding the lock during
  // the flush, so appends and reads go on meanwhile. A segment rolled since
  // the append being made durable was synced when it was sealed.
  Status SyncData() {
    int fd = -1;
    fs::path path;
    {
      std::shared_lock lock(mu);
      if (closed) return Status::Unavailable(fmt::format("{}: log is closed", dir.string()));
      fd = ::dup(active().log_fd);
      path = active().log_path;
    }
    if (fd < 0) return IoError("cannot dup", path);
    int rc = ::fdatasync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) {
      errno = err;
      return IoError("cannot sync", path);
    }
    return Status::Ok();
  }

  void Close() {
    std::unique_lock lock(mu);
    if (closed) return;
    closed = true;
    if (!segments.empty()) {
      Status s = SealSegment(&active());
      if (!s.ok()) spdlog::warn("{}: closing: {}", dir.string(), s.ToString());
    }
    for (auto& seg : segments) seg->CloseFiles();
  }
};

PartitionLog::PartitionLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PartitionLog::~PartitionLog() { Close(); }

Result<std::unique_ptr<PartitionLog>> PartitionLog::Open(std::filesystem::path dir,
                                                         LogConfig config, const Clock& clock) {
  try {
    auto impl = std::make_unique<Impl>(std::move(dir), config, clock);
    Status s = impl->OpenAll();
    if (!s.ok()) {
      for (auto& seg : impl->segments) seg->CloseFiles();
      return s.WithContext(fmt::format("opening log {}", impl->dir.string()));
    }
    return std::unique_ptr<PartitionLog>(new PartitionLog(std::move(impl)));
  } catch (const std::exception& e) {
    return Status::Internal(fmt::format("opening log: {}", e.what()));
  }
}

ErrorCode PartitionLog::Append(std::span<uint8_t> batches, AppendResult* out,
                               std::string* error_message, bool defer_sync) {
  try {
    return impl_->Append(batches, out, error_message, defer_sync);
  } catch (const std::exception& e) {
    *error_message = e.what();
    return ErrorCode::kUnknownServerError;
  }
}

ErrorCode PartitionLog::Read(int64_t offset, int32_t max_bytes, ReadResult* out) const {
  try {
    return impl_->Read(offset, max_bytes, out);
  } catch (const std::exception& e) {
    spdlog::error("{}: read at {}: {}", impl_->dir.string(), offset, e.what());
    return ErrorCode::kUnknownServerError;
  }
}

void PartitionLog::OffsetForTimestamp(int64_t timestamp_ms, int64_t* offset,
                                      int64_t* timestamp) const {
  try {
    impl_->OffsetForTimestamp(timestamp_ms, offset, timestamp);
  } catch (const std::exception& e) {
    spdlog::error("{}: offset for timestamp: {}", impl_->dir.string(), e.what());
    *offset = -1;
    *timestamp = -1;
  }
}

ErrorCode PartitionLog::DeleteRecordsBefore(int64_t offset, int64_t* new_start) {
  try {
    return impl_->DeleteRecordsBefore(offset, new_start);
  } catch (const std::exception& e) {
    spdlog::error("{}: delete records: {}", impl_->dir.string(), e.what());
    return ErrorCode::kUnknownServerError;
  }
}

int PartitionLog::ApplyRetention() {
  try {
    return impl_->ApplyRetention();
  } catch (const std::exception& e) {
    spdlog::error("{}: retention: {}", impl_->dir.string(), e.what());
    return 0;
  }
}

void PartitionLog::SetConfig(const LogConfig& config) {
  std::unique_lock lock(impl_->mu);
  impl_->config = config;
}

LogConfig PartitionLog::config() const {
  std::shared_lock lock(impl_->mu);
  return impl_->config;
}

int64_t PartitionLog::log_start_offset() const {
  std::shared_lock lock(impl_->mu);
  return impl_->log_start_offset;
}

int64_t PartitionLog::high_watermark() const {
  std::shared_lock lock(impl_->mu);
  return impl_->segments.empty() ? impl_->log_start_offset : impl_->high_watermark();
}

int64_t PartitionLog::size_bytes() const {
  std::shared_lock lock(impl_->mu);
  return impl_->SizeBytes();
}

size_t PartitionLog::segment_count() const {
  std::shared_lock lock(impl_->mu);
  return impl_->segments.size();
}

Status PartitionLog::SyncData() {
  try {
    return impl_->SyncData();
  } catch (const std::exception& e) {
    return Status::Internal(fmt::format("sync: {}", e.what()));
  }
}

Status PartitionLog::Flush() {
  try {
    return impl_->Flush();
  } catch (const std::exception& e) {
    return Status::Internal(fmt::format("flush: {}", e.what()));
  }
}

void PartitionLog::Close() {
  if (impl_ == nullptr) return;
  try {
    impl_->Close();
  } catch (const std::exception& e) {
    spdlog::error("{}: close: {}", impl_->dir.string(), e.what());
  }
}

}  // namespace weir::broker
