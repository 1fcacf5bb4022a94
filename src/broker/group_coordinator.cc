// broker/group_coordinator.cc — the classic group protocol and durable
// committed offsets (see group_coordinator.h).
//
// Every group lives in one map guarded by one mutex. A JoinGroup or SyncGroup
// that has to wait leaves a small "waiter" in its member and blocks on the
// coordinator's condition variable until some other call (another member's
// join, the leader's sync, Tick(), Shutdown()) fills the waiter in.
//
// Committed offsets are kept in memory and in an append-only log,
// DATA/groups/offsets.log. Each record is
//
//   length  uint32 (little-endian)  bytes of payload
//   crc     uint32 (little-endian)  CRC-32 (IEEE, as zlib) of payload
//   payload:
//     type  uint8   1 = commit, 2 = delete topic
//     commit:       group str, topic str, partition int32, offset int64,
//                   leader_epoch int32, has_metadata uint8, metadata str,
//                   commit_time_ms int64
//     delete topic: topic str, time_ms int64
//
// where "str" is a uint32 length followed by the bytes, and all integers are
// little-endian. Open() replays the log; a torn or corrupt record ends the
// replay and the log is truncated there (logged). When the log grows past
// kCompactRatio times the size of the live offsets (and past
// kCompactMinBytes) it is rewritten as a snapshot: offsets.log.tmp, fsync,
// rename, fsync of the directory.
#include "broker/group_coordinator.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <string_view>
#include <utility>

#include "broker/file_util.h"

namespace weir::broker {
namespace {

constexpr char kLogName[] = "offsets.log";
// What a compaction writes first (see WriteFileAtomically).
constexpr char kTmpName[] = "offsets.log.tmp";
constexpr size_t kRecordHeaderSize = 8;         // length + crc
constexpr uint32_t kMaxRecordSize = 64u << 20;  // larger lengths are corruption
constexpr size_t kMaxMetadataSize = 4096;       // Kafka's offset.metadata.max.bytes
constexpr int64_t kCompactMinBytes = 1 << 20;   // never compact a smaller log
constexpr int64_t kCompactRatio = 4;            // log bytes per live byte that triggers it

enum class RecordType : uint8_t { kCommit = 1, kDeleteTopic = 2 };

enum class GroupState { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable, kDead };

const char* StateName(GroupState state) {
  switch (state) {
    case GroupState::kEmpty:
      return "Empty";
    case GroupState::kPreparingRebalance:
      return "PreparingRebalance";
    case GroupState::kCompletingRebalance:
      return "CompletingRebalance";
    case GroupState::kStable:
      return "Stable";
    case GroupState::kDead:
      return "Dead";
  }
  return "Dead";
}

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320): the value zlib's
// crc32() returns.
uint32_t Crc32(std::string_view data) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return table;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : data) crc = kTable[(crc ^ b) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

void PutU8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

void PutString(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

uint32_t LoadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Decodes the little-endian fields written by the Put* functions. Every
// getter returns false (and leaves the reader failed) when the input is short.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool U8(uint8_t* v) {
    if (!Need(1)) return false;
    *v = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool U32(uint32_t* v) {
    if (!Need(4)) return false;
    *v = LoadU32(data_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool U64(uint64_t* v) {
    uint32_t lo = 0;
    uint32_t hi = 0;
    if (!U32(&lo) || !U32(&hi)) return false;
    *v = (static_cast<uint64_t>(hi) << 32) | lo;
    return true;
  }
  bool I32(int32_t* v) {
    uint32_t u = 0;
    if (!U32(&u)) return false;
    *v = static_cast<int32_t>(u);
    return true;
  }
  bool I64(int64_t* v) {
    uint64_t u = 0;
    if (!U64(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool String(std::string* s) {
    uint32_t n = 0;
    if (!U32(&n) || !Need(n)) return false;
    s->assign(data_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool AtEnd() const { return pos_ == data_.size(); }

 private:
  bool Need(size_t n) const { return data_.size() - pos_ >= n; }

  std::string_view data_;
  size_t pos_ = 0;
};

struct OffsetEntry {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::optional<std::string> metadata;
  int64_t commit_time_ms = 0;
};

using PartitionKey = std::pair<std::string, int32_t>;

// One decoded log record.
struct LogRecord {
  RecordType type = RecordType::kCommit;
  std::string group;
  std::string topic;
  int32_t partition = 0;
  OffsetEntry entry;
};

std::string EncodeCommit(const std::string& group, const std::string& topic, int32_t partition,
                         const OffsetEntry& e) {
  std::string payload;
  PutU8(&payload, static_cast<uint8_t>(RecordType::kCommit));
  PutString(&payload, group);
  PutString(&payload, topic);
  PutU32(&payload, static_cast<uint32_t>(partition));
  PutU64(&payload, static_cast<uint64_t>(e.offset));
  PutU32(&payload, static_cast<uint32_t>(e.leader_epoch));
  PutU8(&payload, e.metadata.has_value() ? 1 : 0);
  PutString(&payload, e.metadata.value_or(""));
  PutU64(&payload, static_cast<uint64_t>(e.commit_time_ms));
  return payload;
}

std::string EncodeDeleteTopic(const std::string& topic, int64_t now_ms) {
  std::string payload;
  PutU8(&payload, static_cast<uint8_t>(RecordType::kDeleteTopic));
  PutString(&payload, topic);
  PutU64(&payload, static_cast<uint64_t>(now_ms));
  return payload;
}

// Appends the framed record (length, crc, payload) to |*out|.
void AppendFramed(std::string* out, std::string_view payload) {
  PutU32(out, static_cast<uint32_t>(payload.size()));
  PutU32(out, Crc32(payload));
  out->append(payload);
}

// The bytes a commit record takes in the log; used to estimate live size.
int64_t FramedCommitSize(const std::string& group, const std::string& topic, const OffsetEntry& e) {
  return static_cast<int64_t>(kRecordHeaderSize + 1 + 4 + group.size() + 4 + topic.size() + 4 + 8 +
                              4 + 1 + 4 + e.metadata.value_or("").size() + 8);
}

std::optional<LogRecord> DecodeRecord(std::string_view payload) {
  Reader r(payload);
  LogRecord rec;
  uint8_t type = 0;
  if (!r.U8(&type)) return std::nullopt;
  if (type == static_cast<uint8_t>(RecordType::kCommit)) {
    rec.type = RecordType::kCommit;
    uint8_t has_metadata = 0;
    std::string metadata;
    if (!r.String(&rec.group) || !r.String(&rec.topic) || !r.I32(&rec.partition) ||
        !r.I64(&rec.entry.offset) || !r.I32(&rec.entry.leader_epoch) || !r.U8(&has_metadata) ||
        !r.String(&metadata) || !r.I64(&rec.entry.commit_time_ms) || has_metadata > 1) {
      return std::nullopt;
    }
    if (has_metadata != 0) rec.entry.metadata = std::move(metadata);
  } else if (type == static_cast<uint8_t>(RecordType::kDeleteTopic)) {
    rec.type = RecordType::kDeleteTopic;
    int64_t time_ms = 0;
    if (!r.String(&rec.topic) || !r.I64(&time_ms)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (!r.AtEnd()) return std::nullopt;
  return rec;
}

Status ErrnoStatus(std::string_view what, const std::filesystem::path& path) {
  return Status::Io(fmt::format("{} {}: {}", what, path.string(), std::strerror(errno)));
}

Status WriteAll(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// The append-only offsets log. Not thread-safe: the coordinator's mutex
// guards it.
class OffsetLog {
 public:
  ~OffsetLog() {
    if (fd_ >= 0) ::close(fd_);
  }
  OffsetLog(const OffsetLog&) = delete;
  OffsetLog& operator=(const OffsetLog&) = delete;

  // Opens (creating when absent) dir/offsets.log and passes each intact
  // record's payload to |apply|, in order. |apply| returns false for a
  // payload it cannot decode, which counts as corruption. The log is
  // truncated after the last good record.
  static Result<std::unique_ptr<OffsetLog>> Open(
      const std::filesystem::path& dir, bool fsync,
      const std::function<bool(std::string_view payload)>& apply) {
    std::filesystem::path path = dir / kLogName;
    std::error_code ec;
    std::filesystem::remove(dir / kTmpName, ec);  // a compaction that did not finish
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("open", path);
    std::unique_ptr<OffsetLog> log(new OffsetLog(path, fd, fsync));

    std::string data;
    char buf[1 << 16];
    off_t at = 0;
    while (true) {
      ssize_t n = ::pread(fd, buf, sizeof(buf), at);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("read", path);
      }
      if (n == 0) break;
      data.append(buf, static_cast<size_t>(n));
      at += n;
    }

    size_t pos = 0;
    while (data.size() - pos >= kRecordHeaderSize) {
      uint32_t length = LoadU32(data.data() + pos);
      uint32_t crc = LoadU32(data.data() + pos + 4);
      if (length > kMaxRecordSize || length > data.size() - pos - kRecordHeaderSize) break;
      std::string_view payload(data.data() + pos + kRecordHeaderSize, length);
      if (Crc32(payload) != crc || !apply(payload)) break;
      pos += kRecordHeaderSize + length;
    }
    if (pos < data.size()) {
      spdlog::warn("{}: dropping {} bytes of torn or corrupt records at byte {} (of {})",
                   path.string(), data.size() - pos, pos, data.size());
      if (::ftruncate(fd, static_cast<off_t>(pos)) != 0) return ErrnoStatus("truncate", path);
      if (::fsync(fd) != 0) return ErrnoStatus("fsync", path);
    }
    log->size_ = static_cast<int64_t>(pos);
    return log;
  }

  // Appends framed records; durable (fdatasync) before returning when the
  // log was opened with fsync. On failure the log is cut back to its
  // previous size so no partial record stays behind.
  Status Append(std::string_view records) {
    if (fd_ < 0) return Status::Io(fmt::format("{} is not open", path_.string()));
    Status s = WriteAll(fd_, records, path_);
    if (s.ok() && fsync_ && ::fdatasync(fd_) != 0) s = ErrnoStatus("fdatasync", path_);
    if (!s.ok()) {
      if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
        spdlog::error("{}: could not cut back a failed append: {}", path_.string(),
                      std::strerror(errno));
      }
      return s;
    }
    size_ += static_cast<int64_t>(records.size());
    return Status::Ok();
  }

  // Replaces the log's content with |snapshot| (framed records) atomically:
  // write a temporary file, fsync, rename over the log, fsync the directory.
  // On failure before the rename the old log stays in use.
  Status Rewrite(std::string_view snapshot) {
    WEIR_RETURN_IF_ERROR(WriteFileAtomically(path_, snapshot));
    ::close(fd_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) return ErrnoStatus("reopen", path_);
    size_ = static_cast<int64_t>(snapshot.size());
    return Status::Ok();
  }

  int64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  OffsetLog(std::filesystem::path path, int fd, bool fsync)
      : path_(std::move(path)), fd_(fd), fsync_(fsync) {}

  const std::filesystem::path path_;
  int fd_;
  const bool fsync_;
  int64_t size_ = 0;
};

struct JoinWaiter {
  bool done = false;
  JoinGroupResult result;
};

struct SyncWaiter {
  bool done = false;
  SyncGroupResult result;
};

struct Member {
  std::string id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::vector<JoinGroupRequestData::Protocol> protocols;
  std::string assignment;
  int64_t last_heartbeat_ms = 0;  // last join, sync, heartbeat or commit
  uint64_t join_seq = 0;          // order of first join: the earliest becomes leader
  // Set while the member's JoinGroup is parked for the current rebalance.
  std::shared_ptr<JoinWaiter> join_waiter;
  // Set while the member's SyncGroup waits for the leader's assignment.
  std::shared_ptr<SyncWaiter> sync_waiter;

  // The metadata this member sent for |protocol|; nullptr when unsupported.
  const std::string* Metadata(const std::string& protocol) const {
    for (const auto& p : protocols) {
      if (p.name == protocol) return &p.metadata;
    }
    return nullptr;
  }
};

struct Group {
  std::string id;
  GroupState state = GroupState::kEmpty;
  int32_t generation = 0;
  std::string protocol_type;
  std::string protocol;  // chosen in the last completed join; empty in Empty/Preparing
  std::string leader;
  std::map<std::string, Member> members;
  // Member ids handed out with kMemberIdRequired, not yet used to join:
  // id -> the time they are forgotten.
  std::map<std::string, int64_t> pending;
  int64_t rebalance_deadline_ms = 0;      // PreparingRebalance ends by then, all joined or not
  int64_t initial_delay_deadline_ms = 0;  // a new group's first rebalance waits until then
  std::map<PartitionKey, OffsetEntry> offsets;
};

bool SameProtocols(const std::vector<JoinGroupRequestData::Protocol>& a,
                   const std::vector<JoinGroupRequestData::Protocol>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.name == y.name && x.metadata == y.metadata;
  });
}

template <typename R>
R WithError(ErrorCode error) {
  R r;
  r.error = error;
  return r;
}

// Runs |f|, turning an exception (a bug or bad_alloc) into |on_error| so
// that nothing escapes to the connection thread.
template <typename T, typename F>
T Guarded(const char* what, T on_error, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    spdlog::error("group coordinator: {} failed: {}", what, e.what());
  } catch (...) {
    spdlog::error("group coordinator: {} failed with an unknown exception", what);
  }
  return on_error;
}

}  // namespace

struct GroupCoordinator::Impl {
  Impl(std::filesystem::path dir_in, GroupOptions options_in, const Clock& clock_in)
      : dir(std::move(dir_in)), options(options_in), clock(clock_in), rng(std::random_device{}()) {}

  const std::filesystem::path dir;
  const GroupOptions options;
  const Clock& clock;

  mutable std::mutex mu;
  // Signalled whenever a waiter is filled in or a parked call returns.
  std::condition_variable cv;
  bool shutdown = false;                // GUARDED_BY(mu)
  std::map<std::string, Group> groups;  // GUARDED_BY(mu)
  std::unique_ptr<OffsetLog> log;       // GUARDED_BY(mu)
  int64_t live_bytes = 0;               // GUARDED_BY(mu): framed size of all live offsets
  size_t parked = 0;                    // GUARDED_BY(mu): calls blocked in Park()
  uint64_t next_join_seq = 0;           // GUARDED_BY(mu)
  std::mt19937_64 rng;                  // GUARDED_BY(mu)

  // Blocks on |cv| (releasing |lock|) until |done| holds.
  template <typename Pred>
  void Park(std::unique_lock<std::mutex>& lock, Pred done) {
    ++parked;
    cv.wait(lock, done);
    --parked;
    cv.notify_all();
  }

  void FinishJoin(std::shared_ptr<JoinWaiter>& waiter, JoinGroupResult result) {
    if (waiter == nullptr) return;
    waiter->result = std::move(result);
    waiter->done = true;
    waiter.reset();
    cv.notify_all();
  }

  void FinishSync(std::shared_ptr<SyncWaiter>& waiter, SyncGroupResult result) {
    if (waiter == nullptr) return;
    waiter->result = std::move(result);
    waiter->done = true;
    waiter.reset();
    cv.notify_all();
  }

  // "<client_id>-<uuid>", as Kafka names members.
  std::string NewMemberId(const std::string& client_id) {
    uint64_t hi = rng();
    uint64_t lo = rng();
    hi = (hi & ~0xF000ull) | 0x4000ull;  // version 4
    lo = (lo & ~(0xC000ull << 48)) | (0x8000ull << 48);
    return fmt::format("{}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", client_id, hi >> 32,
                       (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFull);
  }

  // Whether |request| can join |group| alongside its other members (all but
  // |self|): same protocol type and at least one protocol they all support.
  static bool SupportsProtocols(const Group& group, const JoinGroupRequestData& request,
                                const std::string& self) {
    bool others = std::any_of(group.members.begin(), group.members.end(),
                              [&](const auto& kv) { return kv.first != self; });
    if (!others) return true;
    if (request.protocol_type != group.protocol_type) return false;
    for (const auto& p : request.protocols) {
      bool all = std::all_of(group.members.begin(), group.members.end(), [&](const auto& kv) {
        return kv.first == self || kv.second.Metadata(p.name) != nullptr;
      });
      if (all) return true;
    }
    return false;
  }

  static void UpdateMember(Member* m, const JoinGroupRequestData& request, int64_t now) {
    m->group_instance_id = request.group_instance_id;
    m->client_id = request.client_id;
    m->client_host = request.client_host;
    m->session_timeout_ms = request.session_timeout_ms;
    m->rebalance_timeout_ms = request.rebalance_timeout_ms > 0 ? request.rebalance_timeout_ms
                                                               : request.session_timeout_ms;
    m->protocols = request.protocols;
    m->last_heartbeat_ms = now;
  }

  // The JoinGroup response |m| gets for the group's current generation.
  static JoinGroupResult CurrentJoinResult(const Group& g, const Member& m) {
    JoinGroupResult r;
    r.generation_id = g.generation;
    r.protocol_name = g.protocol;
    r.leader = g.leader;
    r.member_id = m.id;
    if (m.id == g.leader) r.members = MemberList(g);
    return r;
  }

  // Every member with its metadata for the chosen protocol, in join order.
  static std::vector<JoinGroupMember> MemberList(const Group& g) {
    std::vector<const Member*> sorted;
    for (const auto& [id, m] : g.members) sorted.push_back(&m);
    std::sort(sorted.begin(), sorted.end(),
              [](const Member* a, const Member* b) { return a->join_seq < b->join_seq; });
    std::vector<JoinGroupMember> out;
    out.reserve(sorted.size());
    for (const Member* m : sorted) {
      const std::string* metadata = m->Metadata(g.protocol);
      out.push_back({m->id, m->group_instance_id, metadata != nullptr ? *metadata : ""});
    }
    return out;
  }

  // Enters PreparingRebalance: parked syncs of a CompletingRebalance group
  // are told to rejoin, and the rebalance timeout starts.
  void PrepareRebalance(Group& g, int64_t now, std::string_view reason) {
    if (g.state == GroupState::kCompletingRebalance) {
      for (auto& [id, m] : g.members) {
        m.assignment.clear();
        FinishSync(m.sync_waiter, WithError<SyncGroupResult>(ErrorCode::kRebalanceInProgress));
      }
    }
    int32_t rebalance_timeout = 0;
    for (const auto& [id, m] : g.members) {
      rebalance_timeout = std::max(rebalance_timeout, m.rebalance_timeout_ms);
    }
    g.rebalance_deadline_ms = now + rebalance_timeout;
    g.initial_delay_deadline_ms =
        g.state == GroupState::kEmpty
            ? std::min(now + options.initial_rebalance_delay_ms, g.rebalance_deadline_ms)
            : 0;
    g.state = GroupState::kPreparingRebalance;
    spdlog::info("group {}: preparing rebalance after generation {}: {}", g.id, g.generation,
                 reason);
  }

  void MakeEmpty(Group& g) {
    g.state = GroupState::kEmpty;
    g.protocol.clear();
    g.leader.clear();
  }

  // Completes the join phase once every member (and every pending member id)
  // has joined and a new group's initial delay has passed, or when the
  // rebalance timeout has.
  void TryCompleteJoin(Group& g, int64_t now) {
    if (g.state != GroupState::kPreparingRebalance) return;
    bool all_joined = g.pending.empty() &&
                      std::all_of(g.members.begin(), g.members.end(),
                                  [](const auto& kv) { return kv.second.join_waiter != nullptr; });
    if ((all_joined && now >= g.initial_delay_deadline_ms) || now >= g.rebalance_deadline_ms) {
      CompleteJoin(g, now);
    }
  }

  void CompleteJoin(Group& g, int64_t now) {
    for (auto it = g.members.begin(); it != g.members.end();) {
      if (it->second.join_waiter != nullptr) {
        ++it;
        continue;
      }
      spdlog::info("group {}: removing member {}: it did not rejoin within the rebalance timeout",
                   g.id, it->first);
      FinishSync(it->second.sync_waiter, WithError<SyncGroupResult>(ErrorCode::kUnknownMemberId));
      it = g.members.erase(it);
    }
    if (g.members.empty()) {
      MakeEmpty(g);
      return;
    }
    if (!g.members.contains(g.leader)) {
      auto first = std::min_element(g.members.begin(), g.members.end(), [](auto& a, auto& b) {
        return a.second.join_seq < b.second.join_seq;
      });
      g.leader = first->first;
    }
    const Member& leader = g.members.at(g.leader);
    g.protocol = leader.protocols.empty() ? std::string() : leader.protocols.front().name;
    for (const auto& p : leader.protocols) {
      bool all = std::all_of(g.members.begin(), g.members.end(),
                             [&](const auto& kv) { return kv.second.Metadata(p.name) != nullptr; });
      if (all) {
        g.protocol = p.name;
        break;
      }
    }
    ++g.generation;
    g.state = GroupState::kCompletingRebalance;
    spdlog::info("group {}: generation {} with {} members, protocol {}, leader {}", g.id,
                 g.generation, g.members.size(), g.protocol, g.leader);
    for (auto& [id, m] : g.members) {
      m.assignment.clear();
      m.last_heartbeat_ms = now;
      FinishJoin(m.join_waiter, CurrentJoinResult(g, m));
    }
  }

  void RemoveMember(Group& g, const std::string& member_id, int64_t now, std::string_view reason) {
    auto it = g.members.find(member_id);
    if (it == g.members.end()) return;
    spdlog::info("group {}: removing member {}: {}", g.id, member_id, reason);
    FinishJoin(it->second.join_waiter, WithError<JoinGroupResult>(ErrorCode::kUnknownMemberId));
    FinishSync(it->second.sync_waiter, WithError<SyncGroupResult>(ErrorCode::kUnknownMemberId));
    g.members.erase(it);
    if (g.leader == member_id) g.leader.clear();
    switch (g.state) {
      case GroupState::kStable:
      case GroupState::kCompletingRebalance:
        if (g.members.empty()) {
          MakeEmpty(g);
        } else {
          PrepareRebalance(g, now, fmt::format("member {} left ({})", member_id, reason));
        }
        break;
      case GroupState::kPreparingRebalance:
        if (g.members.empty()) {
          MakeEmpty(g);
        } else {
          TryCompleteJoin(g, now);
        }
        break;
      default:
        break;
    }
  }

  // Adds a member and parks its join in a (possibly new) rebalance.
  void AddMemberAndRebalance(Group& g, const std::string& member_id,
                             const JoinGroupRequestData& request, int64_t now,
                             std::shared_ptr<JoinWaiter>* park) {
    if (g.members.empty()) g.protocol_type = request.protocol_type;
    Member m;
    m.id = member_id;
    m.join_seq = next_join_seq++;
    UpdateMember(&m, request, now);
    m.join_waiter = std::make_shared<JoinWaiter>();
    *park = m.join_waiter;
    g.members.emplace(member_id, std::move(m));
    if (g.state != GroupState::kPreparingRebalance) {
      PrepareRebalance(g, now, fmt::format("member {} joined", member_id));
    }
    TryCompleteJoin(g, now);
  }

  void UpdateMemberAndRebalance(Group& g, Member& m, const JoinGroupRequestData& request,
                                int64_t now, std::shared_ptr<JoinWaiter>* park) {
    UpdateMember(&m, request, now);
    // A second join while one is parked: the newer request wins.
    FinishJoin(m.join_waiter, WithError<JoinGroupResult>(ErrorCode::kRebalanceInProgress));
    m.join_waiter = std::make_shared<JoinWaiter>();
    *park = m.join_waiter;
    if (g.state != GroupState::kPreparingRebalance) {
      PrepareRebalance(g, now, fmt::format("member {} rejoined", m.id));
    }
    TryCompleteJoin(g, now);
  }

  JoinGroupResult Join(const JoinGroupRequestData& request, std::shared_ptr<JoinWaiter>* park) {
    JoinGroupResult r;
    r.member_id = request.member_id;
    auto fail = [&r](ErrorCode error) {
      r.error = error;
      return r;
    };
    if (shutdown) return fail(ErrorCode::kCoordinatorNotAvailable);
    if (request.group_id.empty()) return fail(ErrorCode::kInvalidGroupId);
    if (request.session_timeout_ms < options.min_session_timeout_ms ||
        request.session_timeout_ms > options.max_session_timeout_ms) {
      return fail(ErrorCode::kInvalidSessionTimeout);
    }
    if (request.protocol_type.empty() || request.protocols.empty()) {
      return fail(ErrorCode::kInconsistentGroupProtocol);
    }
    auto git = groups.find(request.group_id);
    if (git == groups.end()) {
      if (!request.member_id.empty()) return fail(ErrorCode::kUnknownMemberId);
      git = groups.emplace(request.group_id, Group{}).first;
      git->second.id = request.group_id;
    }
    Group& g = git->second;
    auto mit = request.member_id.empty() ? g.members.end() : g.members.find(request.member_id);
    bool known = mit != g.members.end();
    if (!SupportsProtocols(g, request, known ? request.member_id : std::string())) {
      return fail(ErrorCode::kInconsistentGroupProtocol);
    }
    int64_t now = clock.NowMs();

    if (request.member_id.empty()) {
      std::string id = NewMemberId(request.client_id);
      if (request.api_version >= 4) {
        g.pending[id] = now + request.session_timeout_ms;
        r.member_id = id;
        return fail(ErrorCode::kMemberIdRequired);
      }
      AddMemberAndRebalance(g, id, request, now, park);
      return r;
    }
    if (auto pit = g.pending.find(request.member_id); pit != g.pending.end()) {
      g.pending.erase(pit);
      AddMemberAndRebalance(g, request.member_id, request, now, park);
      return r;
    }
    if (!known) return fail(ErrorCode::kUnknownMemberId);

    Member& m = mit->second;
    switch (g.state) {
      case GroupState::kPreparingRebalance:
        UpdateMemberAndRebalance(g, m, request, now, park);
        return r;
      case GroupState::kCompletingRebalance:
        // The member lost the response to its join: resend it.
        if (SameProtocols(m.protocols, request.protocols)) {
          m.last_heartbeat_ms = now;
          return CurrentJoinResult(g, m);
        }
        UpdateMemberAndRebalance(g, m, request, now, park);
        return r;
      case GroupState::kStable:
        // A follower with unchanged metadata needs no rebalance; a leader
        // rejoining means it wants one (e.g. its topic subscription grew).
        if (m.id != g.leader && SameProtocols(m.protocols, request.protocols)) {
          m.last_heartbeat_ms = now;
          return CurrentJoinResult(g, m);
        }
        UpdateMemberAndRebalance(g, m, request, now, park);
        return r;
      default:
        return fail(ErrorCode::kUnknownMemberId);
    }
  }

  SyncGroupResult Sync(const SyncGroupRequestData& request, std::shared_ptr<SyncWaiter>* park) {
    if (shutdown) return WithError<SyncGroupResult>(ErrorCode::kCoordinatorNotAvailable);
    auto git = groups.find(request.group_id);
    if (git == groups.end()) return WithError<SyncGroupResult>(ErrorCode::kUnknownMemberId);
    Group& g = git->second;
    auto mit = g.members.find(request.member_id);
    if (mit == g.members.end()) return WithError<SyncGroupResult>(ErrorCode::kUnknownMemberId);
    if (request.generation_id != g.generation) {
      return WithError<SyncGroupResult>(ErrorCode::kIllegalGeneration);
    }
    Member& m = mit->second;
    int64_t now = clock.NowMs();
    SyncGroupResult r;
    switch (g.state) {
      case GroupState::kPreparingRebalance:
        return WithError<SyncGroupResult>(ErrorCode::kRebalanceInProgress);
      case GroupState::kCompletingRebalance:
        m.last_heartbeat_ms = now;
        if (m.id != g.leader) {
          FinishSync(m.sync_waiter, WithError<SyncGroupResult>(ErrorCode::kRebalanceInProgress));
          m.sync_waiter = std::make_shared<SyncWaiter>();
          *park = m.sync_waiter;
          return r;
        }
        for (const auto& a : request.assignments) {
          auto target = g.members.find(a.member_id);
          if (target != g.members.end()) target->second.assignment = a.assignment;
        }
        g.state = GroupState::kStable;
        spdlog::info("group {}: generation {} is stable", g.id, g.generation);
        for (auto& [id, member] : g.members) {
          SyncGroupResult answer;
          answer.assignment = member.assignment;
          FinishSync(member.sync_waiter, std::move(answer));
        }
        r.assignment = m.assignment;
        return r;
      case GroupState::kStable:
        m.last_heartbeat_ms = now;
        r.assignment = m.assignment;
        return r;
      default:
        return WithError<SyncGroupResult>(ErrorCode::kUnknownMemberId);
    }
  }

  ErrorCode Heartbeat(const std::string& group_id, int32_t generation_id,
                      const std::string& member_id) {
    if (shutdown) return ErrorCode::kCoordinatorNotAvailable;
    auto git = groups.find(group_id);
    if (git == groups.end()) return ErrorCode::kUnknownMemberId;
    Group& g = git->second;
    auto mit = g.members.find(member_id);
    if (mit == g.members.end()) return ErrorCode::kUnknownMemberId;
    mit->second.last_heartbeat_ms = clock.NowMs();
    if (generation_id != g.generation) return ErrorCode::kIllegalGeneration;
    switch (g.state) {
      // CompletingRebalance: the member has its generation and is syncing;
      // Kafka 2.3+ answers NONE so that clients which heartbeat while
      // waiting for SyncGroup (kafka-python) do not rejoin needlessly.
      case GroupState::kStable:
      case GroupState::kCompletingRebalance:
        return ErrorCode::kNone;
      case GroupState::kPreparingRebalance:
        return ErrorCode::kRebalanceInProgress;
      default:
        return ErrorCode::kUnknownMemberId;
    }
  }

  ErrorCode Leave(const std::string& group_id, const std::string& member_id) {
    if (shutdown) return ErrorCode::kCoordinatorNotAvailable;
    auto git = groups.find(group_id);
    if (git == groups.end()) return ErrorCode::kUnknownMemberId;
    Group& g = git->second;
    int64_t now = clock.NowMs();
    if (g.pending.erase(member_id) > 0) {
      TryCompleteJoin(g, now);
      return ErrorCode::kNone;
    }
    if (!g.members.contains(member_id)) return ErrorCode::kUnknownMemberId;
    RemoveMember(g, member_id, now, "it left the group");
    return ErrorCode::kNone;
  }

  std::vector<ErrorCode> Commit(const std::string& group_id, int32_t generation_id,
                                const std::string& member_id,
                                const std::vector<CommitOffset>& offsets) {
    auto all = [&](ErrorCode error) { return std::vector<ErrorCode>(offsets.size(), error); };
    if (shutdown) return all(ErrorCode::kCoordinatorNotAvailable);
    if (group_id.empty()) return all(ErrorCode::kInvalidGroupId);
    auto git = groups.find(group_id);
    int64_t now = clock.NowMs();
    bool simple = generation_id < 0 && member_id.empty();
    if (simple) {
      if (git != groups.end() && !git->second.members.empty()) {
        return all(ErrorCode::kIllegalGeneration);
      }
    } else {
      // Kafka refuses a member commit to a group it does not know.
      if (git == groups.end()) return all(ErrorCode::kIllegalGeneration);
      Group& g = git->second;
      auto mit = g.members.find(member_id);
      if (mit == g.members.end()) return all(ErrorCode::kUnknownMemberId);
      if (generation_id != g.generation) return all(ErrorCode::kIllegalGeneration);
      if (g.state == GroupState::kCompletingRebalance) {
        return all(ErrorCode::kRebalanceInProgress);
      }
      mit->second.last_heartbeat_ms = now;
    }
    if (git == groups.end()) {
      git = groups.emplace(group_id, Group{}).first;
      git->second.id = group_id;
    }
    Group& g = git->second;

    std::vector<ErrorCode> errors(offsets.size(), ErrorCode::kNone);
    std::vector<std::pair<size_t, OffsetEntry>> accepted;
    std::string batch;
    for (size_t i = 0; i < offsets.size(); ++i) {
      const CommitOffset& o = offsets[i];
      // Kafka answers OFFSET_METADATA_TOO_LARGE (12), which error_codes.h
      // lacks; INVALID_COMMIT_OFFSET_SIZE also tells the client not to retry.
      if (o.metadata.has_value() && o.metadata->size() > kMaxMetadataSize) {
        errors[i] = ErrorCode::kInvalidCommitOffsetSize;
        continue;
      }
      OffsetEntry e{o.offset, o.leader_epoch, o.metadata, now};
      AppendFramed(&batch, EncodeCommit(group_id, o.topic, o.partition, e));
      accepted.emplace_back(i, std::move(e));
    }
    if (accepted.empty()) return errors;
    Status s = log->Append(batch);
    if (!s.ok()) {
      spdlog::error("group {}: offset commit failed: {}", group_id, s.ToString());
      for (const auto& [i, e] : accepted) errors[i] = ErrorCode::kUnknownServerError;
      return errors;
    }
    for (auto& [i, e] : accepted) {
      PartitionKey key(offsets[i].topic, offsets[i].partition);
      auto [it, inserted] = g.offsets.try_emplace(key);
      if (!inserted) live_bytes -= FramedCommitSize(group_id, key.first, it->second);
      it->second = std::move(e);
      live_bytes += FramedCommitSize(group_id, key.first, it->second);
    }
    MaybeCompact();
    return errors;
  }

  // Applies one replayed log record; false when it does not decode.
  bool Replay(std::string_view payload) {
    std::optional<LogRecord> rec = DecodeRecord(payload);
    if (!rec.has_value()) return false;
    if (rec->type == RecordType::kDeleteTopic) {
      EraseTopic(rec->topic);
      return true;
    }
    auto git = groups.find(rec->group);
    if (git == groups.end()) {
      git = groups.emplace(rec->group, Group{}).first;
      git->second.id = rec->group;
    }
    auto [it, inserted] = git->second.offsets.try_emplace(PartitionKey(rec->topic, rec->partition));
    if (!inserted) live_bytes -= FramedCommitSize(rec->group, rec->topic, it->second);
    it->second = std::move(rec->entry);
    live_bytes += FramedCommitSize(rec->group, rec->topic, it->second);
    return true;
  }

  // Forgets every offset of |topic|; returns whether there was any.
  bool EraseTopic(const std::string& topic) {
    bool any = false;
    for (auto& [group_id, g] : groups) {
      for (auto it =
               g.offsets.lower_bound(PartitionKey(topic, std::numeric_limits<int32_t>::min()));
           it != g.offsets.end() && it->first.first == topic;) {
        live_bytes -= FramedCommitSize(group_id, topic, it->second);
        it = g.offsets.erase(it);
        any = true;
      }
    }
    return any;
  }

  void MaybeCompact() {
    if (log->size() <= kCompactMinBytes || log->size() <= kCompactRatio * live_bytes) return;
    std::string snapshot;
    snapshot.reserve(static_cast<size_t>(live_bytes));
    for (const auto& [group_id, g] : groups) {
      for (const auto& [key, e] : g.offsets) {
        AppendFramed(&snapshot, EncodeCommit(group_id, key.first, key.second, e));
      }
    }
    int64_t before = log->size();
    Status s = log->Rewrite(snapshot);
    if (!s.ok()) {
      spdlog::error("{}: compaction failed: {}", log->path().string(), s.ToString());
      return;
    }
    spdlog::info("{}: compacted {} bytes to {}", log->path().string(), before, log->size());
  }

  void Tick() {
    if (shutdown) return;
    int64_t now = clock.NowMs();
    for (auto git = groups.begin(); git != groups.end();) {
      Group& g = git->second;
      for (auto it = g.pending.begin(); it != g.pending.end();) {
        it = it->second <= now ? g.pending.erase(it) : std::next(it);
      }
      std::vector<std::string> expired;
      for (const auto& [id, m] : g.members) {
        // A parked join is bounded by the rebalance timeout, not the
        // session; a member waiting for its assignment gets the rebalance
        // timeout too (as Kafka's shouldKeepAlive).
        if (m.join_waiter != nullptr) continue;
        int64_t timeout = m.sync_waiter != nullptr ? m.rebalance_timeout_ms : m.session_timeout_ms;
        if (m.last_heartbeat_ms + timeout <= now) expired.push_back(id);
      }
      for (const auto& id : expired) RemoveMember(g, id, now, "its session timed out");
      TryCompleteJoin(g, now);
      bool forgotten = g.state == GroupState::kEmpty && g.members.empty() && g.pending.empty() &&
                       g.offsets.empty();
      git = forgotten ? groups.erase(git) : std::next(git);
    }
  }

  void Shutdown() {
    shutdown = true;
    for (auto& [group_id, g] : groups) {
      for (auto& [id, m] : g.members) {
        FinishJoin(m.join_waiter, WithError<JoinGroupResult>(ErrorCode::kCoordinatorNotAvailable));
        FinishSync(m.sync_waiter, WithError<SyncGroupResult>(ErrorCode::kCoordinatorNotAvailable));
      }
    }
    cv.notify_all();
  }
};

Result<std::unique_ptr<GroupCoordinator>> GroupCoordinator::Open(std::filesystem::path dir,
                                                                 GroupOptions options,
                                                                 const Clock& clock) {
  try {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::Io(fmt::format("create {}: {}", dir.string(), ec.message()));
    auto impl = std::make_unique<Impl>(dir, options, clock);
    Impl* raw = impl.get();
    WEIR_ASSIGN_OR_RETURN(impl->log,
                          OffsetLog::Open(dir, options.fsync, [raw](std::string_view payload) {
                            return raw->Replay(payload);
                          }));
    impl->MaybeCompact();
    return std::unique_ptr<GroupCoordinator>(new GroupCoordinator(std::move(impl)));
  } catch (const std::exception& e) {
    return Status::Internal(
        fmt::format("open group coordinator in {}: {}", dir.string(), e.what()));
  }
}

GroupCoordinator::GroupCoordinator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GroupCoordinator::~GroupCoordinator() {
  // Parked calls must leave before the mutex they wait on goes away.
  std::unique_lock lock(impl_->mu);
  impl_->Shutdown();
  impl_->cv.wait(lock, [this] { return impl_->parked == 0; });
}

JoinGroupResult GroupCoordinator::JoinGroup(const JoinGroupRequestData& request) {
  return Guarded("JoinGroup", WithError<JoinGroupResult>(ErrorCode::kUnknownServerError), [&] {
    std::unique_lock lock(impl_->mu);
    std::shared_ptr<JoinWaiter> waiter;
    JoinGroupResult result = impl_->Join(request, &waiter);
    if (waiter == nullptr) return result;
    impl_->Park(lock, [&waiter] { return waiter->done; });
    return waiter->result;
  });
}

SyncGroupResult GroupCoordinator::SyncGroup(const SyncGroupRequestData& request) {
  return Guarded("SyncGroup", WithError<SyncGroupResult>(ErrorCode::kUnknownServerError), [&] {
    std::unique_lock lock(impl_->mu);
    std::shared_ptr<SyncWaiter> waiter;
    SyncGroupResult result = impl_->Sync(request, &waiter);
    if (waiter == nullptr) return result;
    impl_->Park(lock, [&waiter] { return waiter->done; });
    return waiter->result;
  });
}

ErrorCode GroupCoordinator::Heartbeat(const std::string& group_id, int32_t generation_id,
                                      const std::string& member_id,
                                      const std::optional<std::string>& /*group_instance_id*/) {
  return Guarded("Heartbeat", ErrorCode::kUnknownServerError, [&] {
    std::lock_guard lock(impl_->mu);
    return impl_->Heartbeat(group_id, generation_id, member_id);
  });
}

ErrorCode GroupCoordinator::LeaveGroup(const std::string& group_id, const std::string& member_id) {
  return Guarded("LeaveGroup", ErrorCode::kUnknownServerError, [&] {
    std::lock_guard lock(impl_->mu);
    return impl_->Leave(group_id, member_id);
  });
}

std::vector<ErrorCode> GroupCoordinator::CommitOffsets(const std::string& group_id,
                                                       int32_t generation_id,
                                                       const std::string& member_id,
                                                       const std::vector<CommitOffset>& offsets) {
  return Guarded("CommitOffsets",
                 std::vector<ErrorCode>(offsets.size(), ErrorCode::kUnknownServerError), [&] {
                   std::lock_guard lock(impl_->mu);
                   return impl_->Commit(group_id, generation_id, member_id, offsets);
                 });
}

std::vector<CommittedOffset> GroupCoordinator::FetchOffsets(
    const std::string& group_id,
    const std::optional<std::vector<std::pair<std::string, int32_t>>>& partitions) const {
  return Guarded("FetchOffsets", std::vector<CommittedOffset>(), [&] {
    std::lock_guard lock(impl_->mu);
    std::vector<CommittedOffset> out;
    auto git = impl_->groups.find(group_id);
    auto make = [](const PartitionKey& key, const OffsetEntry* e) {
      CommittedOffset c;
      c.topic = key.first;
      c.partition = key.second;
      if (e != nullptr) {
        c.offset = e->offset;
        c.leader_epoch = e->leader_epoch;
        c.metadata = e->metadata;
      }
      return c;
    };
    if (partitions.has_value() && !partitions->empty()) {
      out.reserve(partitions->size());
      for (const auto& key : *partitions) {
        const OffsetEntry* e = nullptr;
        if (git != impl_->groups.end()) {
          auto it = git->second.offsets.find(key);
          if (it != git->second.offsets.end()) e = &it->second;
        }
        out.push_back(make(key, e));
      }
    } else if (git != impl_->groups.end()) {
      for (const auto& [key, e] : git->second.offsets) out.push_back(make(key, &e));
    }
    return out;
  });
}

GroupDescription GroupCoordinator::DescribeGroup(const std::string& group_id) const {
  GroupDescription failed;
  failed.error = ErrorCode::kUnknownServerError;
  failed.group_id = group_id;
  return Guarded("DescribeGroup", failed, [&] {
    std::lock_guard lock(impl_->mu);
    GroupDescription d;
    d.group_id = group_id;
    if (impl_->shutdown) {
      d.error = ErrorCode::kCoordinatorNotAvailable;
      return d;
    }
    auto git = impl_->groups.find(group_id);
    if (git == impl_->groups.end()) {
      d.state = StateName(GroupState::kDead);
      return d;
    }
    const Group& g = git->second;
    d.state = StateName(g.state);
    d.protocol_type = g.protocol_type;
    bool assigned = g.state == GroupState::kStable || g.state == GroupState::kCompletingRebalance;
    if (assigned) d.protocol = g.protocol;
    std::vector<const Member*> sorted;
    for (const auto& [id, m] : g.members) sorted.push_back(&m);
    std::sort(sorted.begin(), sorted.end(),
              [](const Member* a, const Member* b) { return a->join_seq < b->join_seq; });
    for (const Member* m : sorted) {
      GroupMemberDescription md;
      md.member_id = m->id;
      md.group_instance_id = m->group_instance_id;
      md.client_id = m->client_id;
      md.client_host = m->client_host;
      if (assigned) {
        const std::string* metadata = m->Metadata(g.protocol);
        if (metadata != nullptr) md.metadata = *metadata;
        md.assignment = m->assignment;
      }
      d.members.push_back(std::move(md));
    }
    return d;
  });
}

std::vector<GroupListing> GroupCoordinator::ListGroups() const {
  return Guarded("ListGroups", std::vector<GroupListing>(), [&] {
    std::lock_guard lock(impl_->mu);
    std::vector<GroupListing> out;
    for (const auto& [id, g] : impl_->groups) {
      if (g.members.empty() && g.offsets.empty()) continue;
      out.push_back({id, g.protocol_type, StateName(g.state)});
    }
    return out;
  });
}

void GroupCoordinator::DeleteTopicOffsets(const std::string& topic) {
  Guarded("DeleteTopicOffsets", 0, [&] {
    std::lock_guard lock(impl_->mu);
    bool any = false;
    for (const auto& [id, g] : impl_->groups) {
      auto it = g.offsets.lower_bound(PartitionKey(topic, std::numeric_limits<int32_t>::min()));
      any = any || (it != g.offsets.end() && it->first.first == topic);
    }
    if (!any) return 0;
    std::string record;
    AppendFramed(&record, EncodeDeleteTopic(topic, impl_->clock.NowMs()));
    Status s = impl_->log->Append(record);
    if (!s.ok()) {
      // The topic is gone either way; its offsets may come back after a
      // restart, where they are harmless until a topic of that name returns.
      spdlog::error("forgetting committed offsets of deleted topic {}: {}", topic, s.ToString());
    }
    impl_->EraseTopic(topic);
    return 0;
  });
}

void GroupCoordinator::Tick() {
  Guarded("Tick", 0, [&] {
    std::lock_guard lock(impl_->mu);
    impl_->Tick();
    return 0;
  });
}

void GroupCoordinator::Shutdown() {
  Guarded("Shutdown", 0, [&] {
    std::lock_guard lock(impl_->mu);
    impl_->Shutdown();
    return 0;
  });
}

size_t GroupCoordinator::ParkedRequestCount() const {
  std::lock_guard lock(impl_->mu);
  return impl_->parked;
}

}  // namespace weir::broker
