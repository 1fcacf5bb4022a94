// weir/migrate/control.h — migration state on the cluster, and how running
// processes follow it.
//
// ControlLog reads and writes the state topic (kStateTopic, one partition):
// each record holds a migration's whole state with a version; the first
// record of version v+1 after version v wins, later ones are ignored. A
// writer appends, then reads back: if another record of its version came
// first it lost (Status::Cancelled naming the winner) — compare-and-set on a
// single-partition log, with no lock service.
//
// Participants (every Publisher and GroupRuntime, unless told not to) run a
// Watcher: it reads the state topic to its end before the participant starts
// (no process starts on a guess), then tails it, calls back on every change
// and writes an acknowledgement to kAcksTopic once the callback has applied
// it, plus a heartbeat every `heartbeat`. A step of `weir migrate` waits
// until every live participant (heartbeat within three intervals) has
// acknowledged its version.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "weir/kafka/client_config.h"
#include "weir/migrate/state.h"
#include "weir/status.h"

namespace weir::migrate {

// One participant's latest report.
struct Ack {
  std::string id;                          // "host/pid/random", unique per process and role
  std::string role;                        // "publisher" or "group"
  std::string group;                       // for role "group"
  std::map<std::string, int64_t> applied;  // migration name → version applied
  int64_t spool_records = 0;               // publishers: records waiting in the spool
  int64_t heartbeat_ms = 0;
  int64_t at_ms = 0;
  bool left = false;  // the participant stopped
  std::string error;  // a version it could not apply, and why
  // Live: not left, and reported within three heartbeats of |now_ms|.
  bool Live(int64_t now_ms) const { return !left && now_ms - at_ms <= 3 * heartbeat_ms; }
};

class ControlLog {
 public:
  // Opens clients on the cluster of |config|. |create_topics| creates the two
  // control topics when absent (`weir migrate plan`).
  static Result<std::unique_ptr<ControlLog>> Open(kafka::ClientConfig config, bool create_topics,
                                                  std::chrono::milliseconds timeout);
  ~ControlLog();
  ControlLog(const ControlLog&) = delete;
  ControlLog& operator=(const ControlLog&) = delete;

  // Every migration's latest state; empty when the state topic does not exist.
  Result<States> Read(std::chrono::milliseconds timeout);
  // Appends |next|, whose version must be one more than the current one (1
  // for a new migration). Cancelled when another writer recorded that version
  // first, naming it.
  Status Write(const State& next, std::chrono::milliseconds timeout);
  // Every participant's latest report with at_ms >= |since_ms|.
  Result<std::vector<Ack>> ReadAcks(int64_t since_ms, std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit ControlLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct WatcherOptions {
  std::string role;   // "publisher" or "group"
  std::string group;  // for groups
  std::chrono::milliseconds heartbeat{5000};
  // Publishers: the records waiting in the spool, reported in each ack.
  std::function<int64_t()> spool_records;
};

class Watcher {
 public:
  // Applies a change of the states; returns an error when it cannot (the
  // ack then carries it). Runs on the watcher's thread (the first time on
  // the caller's, inside Start()); must not throw.
  using Apply = std::function<Status(const States&)>;

  // Reads the state topic to its end (a missing topic means no migrations),
  // applies it, and starts following it. Fails when the cluster cannot be
  // read within |timeout|.
  static Result<std::unique_ptr<Watcher>> Start(kafka::ClientConfig config, WatcherOptions options,
                                                Apply apply, std::chrono::milliseconds timeout);
  // Stops following and reports the participant gone. Idempotent.
  void Stop();
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  States states() const;
  const std::string& id() const;

 private:
  struct Impl;
  explicit Watcher(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// "user@host pid N", for records of who changed what.
std::string ProcessIdentity();

}  // namespace weir::migrate
