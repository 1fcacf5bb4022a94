// weir/publish/spool.h — the Publisher's local durable spool.
//
// When the cluster stays unreachable past the delivery timeout, the Publisher
// writes the records it could not deliver here, and forwards them, oldest
// first, when the cluster returns. A Spool is one SQLite database (WAL
// journal, synchronous=FULL) in a folder of its own:
//
//   DIR/spool.db    the records, by sequence number
//   DIR/LOCK        flock()ed by the one process that owns the spool
//
// Append() returns only once the records are on disk (committed and
// fsynced), so a record the Publisher reported as spooled survives kill -9
// and power loss. Records are read back in sequence order; the Publisher
// numbers records in the order it accepted them, so sequence order is
// acceptance order, which keeps the order of every key.
//
// A record that the cluster refuses for good when it is forwarded (its topic
// was deleted, it is too large) is not dropped: it is moved to the dead
// table with the reason, counted by GetStatus(), listed by `weir spool status`.
//
// Threads: a Spool may be used from several threads; calls are serialized.
// Only one process may hold a spool open (Open() fails otherwise); any
// number may ReadStatus() at the same time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "weir/record.h"
#include "weir/status.h"

namespace weir::publish {

struct SpoolRecord {
  int64_t seq = 0;  // the Publisher's acceptance order; unique
  std::string topic;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
  std::string event_type;  // for status and messages; may be empty
  int64_t created_ms = 0;  // when the event was accepted (Unix ms)

  // Bytes the record takes in the spool's accounting.
  int64_t Size() const;
};

struct SpoolTopicStatus {
  int64_t records = 0;
  int64_t bytes = 0;
};

struct SpoolStatus {
  std::string dir;
  int64_t records = 0;  // waiting to be forwarded
  int64_t bytes = 0;
  int64_t oldest_created_ms = -1;  // -1 when empty
  int64_t max_bytes = 0;           // 0 when read without opening
  std::map<std::string, SpoolTopicStatus> topics;
  int64_t dead = 0;  // refused by the cluster when forwarded; kept
  // The pid holding the spool open, or 0 when none does.
  int64_t owner_pid = 0;
};

struct DeadRecord {
  SpoolRecord record;
  std::string reason;
  int64_t failed_ms = 0;
};

class Spool {
 public:
  // Opens (creating when missing) the spool in |dir| and locks it for this
  // process. Fails with kUnavailable naming the owner's pid when another
  // process holds it, kCorruption when spool.db is not a spool.
  // |max_bytes| bounds Append(): beyond it appends fail with kUnavailable.
  static Result<std::unique_ptr<Spool>> Open(const std::string& dir, int64_t max_bytes);

  // Reads the status of the spool in |dir| without taking it (read-only;
  // works while another process owns it). NotFound when there is no spool.
  static Result<SpoolStatus> ReadStatus(const std::string& dir);
  // The dead records of the spool in |dir|, oldest first, at most |limit|.
  static Result<std::vector<DeadRecord>> ReadDead(const std::string& dir, size_t limit);

  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Stores |records| durably in one transaction: all or none. Fails with
  // kUnavailable when the spool would grow past max_bytes (nothing stored),
  // kIo when the disk fails.
  Status Append(std::span<const SpoolRecord> records);

  // Up to |limit| records with seq > |after_seq|, in seq order.
  Result<std::vector<SpoolRecord>> ReadOldest(size_t limit, int64_t after_seq = -1);

  // Deletes the records with these sequence numbers (forwarded).
  Status Remove(std::span<const int64_t> seqs);

  // Moves record |seq| to the dead table with |reason|.
  Status MarkDead(int64_t seq, const std::string& reason);

  // The highest seq ever stored here (including dead records), or 0.
  int64_t MaxSeq() const;
  // Records waiting (not dead).
  int64_t Count() const;
  SpoolStatus GetStatus() const;
  const std::string& dir() const;

 private:
  struct Impl;
  explicit Spool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::publish
