// weir/ops/migration.h — the steps of `weir migrate`: moving a topic's events
// from an old topic O to a new topic N while publishers and consumer groups
// keep running, with a rollback that loses nothing.
//
//   plan FROM TO     records the migration (stage planned), creates N
//   start            publishers write O and a marked copy to N (dual-publish)
//   dual-subscribe   groups read O and N, skipping the marked copies
//   cutover          publishers write N only; groups drain O, then read N
//   rollback         publishers write O + N again; the records that exist only
//                    on N are copied to O; groups drain N, then read O
//   cleanup          after the rollback window: deletes O (stage done)
//   abort            ends a migration before any group reads N
//
// The state lives on the cluster (weir/migrate/control.h); every step reads it,
// checks, and records each sub-step as a new version before the next one,
// so a step that fails or is interrupted is resumed by running it again,
// and a finished step says "nothing to do". Steps wait (up to `wait`) for
// every live Publisher to acknowledge a routing change and for groups'
// committed offsets to reach the recorded end offsets; a wait that expires
// leaves the state as it is (Status kTimeout: run the step again).
//
// Errors: kInvalidArgument for bad input (an undeclared topic, a step not
// valid in the current stage — naming the valid ones), kRefused for a
// precondition (a non-empty new topic, the rollback window, records already
// deleted, foreign writes), kTimeout for an expired wait, kCancelled when
// another process changed the migration first.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weir/kafka/client_config.h"
#include "weir/migrate/control.h"
#include "weir/migrate/state.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::ops {

struct MigrationOptions {
  // How long a step waits for acknowledgements and drains.
  std::chrono::milliseconds wait{std::chrono::minutes(5)};
  // Each cluster request.
  std::chrono::milliseconds timeout{std::chrono::seconds(15)};
  // One line per check and sub-step, as it happens.
  std::function<void(const std::string&)> progress;
  // The wall clock in ms (tests move the rollback window with it).
  std::function<int64_t()> now_ms;
};

struct MigrationPlan {
  std::string from;  // O, declared in weir.yaml
  std::string to;    // N, declared in weir.yaml
  std::string name;  // default "<from>-to-<to>"
  std::chrono::milliseconds window{std::chrono::hours(24 * 7)};
};

// A group's committed offsets against the end offsets, on one topic.
struct TopicProgress {
  std::string topic;
  std::vector<int64_t> committed;  // -1 = none
  std::vector<int64_t> end;
  int64_t lag = 0;
};

struct GroupProgress {
  std::string group;
  bool moved = false;
  std::vector<TopicProgress> topics;  // O, then N
  std::vector<std::string> reads;     // the topics the state makes it read
};

struct MigrationStatus {
  migrate::State state;
  std::vector<migrate::Ack> participants;  // live ones
  std::vector<GroupProgress> groups;
  std::string next;  // the commands that may follow
};

class Migrator {
 public:
  // Opens the control log on |config|'s cluster; |create_control_topics| for plan.
  static Result<std::unique_ptr<Migrator>> Open(const Topology& topology,
                                                kafka::ClientConfig config,
                                                MigrationOptions options,
                                                bool create_control_topics = false);
  ~Migrator();
  Migrator(const Migrator&) = delete;
  Migrator& operator=(const Migrator&) = delete;

  Result<migrate::State> Plan(const MigrationPlan& plan);
  Result<migrate::State> Start(std::string_view name);
  // |groups| empty = every group of the migration.
  Result<migrate::State> DualSubscribe(std::string_view name, std::vector<std::string> groups);
  Result<migrate::State> Cutover(std::string_view name);
  Result<migrate::State> Rollback(std::string_view name);
  Result<migrate::State> Cleanup(std::string_view name, bool delete_old_topic = true);
  Result<migrate::State> Abort(std::string_view name);
  // The state, the live participants and every group's progress on O and N.
  Result<MigrationStatus> Describe(std::string_view name);
  Result<migrate::States> List();

 private:
  struct Impl;
  explicit Migrator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The commands valid in |stage| ("start, abort").
std::string NextCommands(migrate::Stage stage);

}  // namespace weir::ops
