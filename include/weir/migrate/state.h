// weir/migrate/state.h — the state of a topic migration (`weir migrate`) and
// the routing it implies, as pure functions.
//
// A migration moves the events of an old topic O to a new topic N while
// publishers and consumer groups keep running. Its state is a document kept
// on the cluster (control.h); every Publisher and GroupRuntime reads it and
// routes accordingly:
//
//   stage              publishers write      groups of the migration read
//   planned            O                     O
//   dual-publish       O + N*                O
//   dual-subscribe     O + N*                moved groups O + N, others O
//   cutover-publish    N                     O (draining it to old_final)
//   cutover            N                     N
//   rollback-publish   O + N*                N (draining it to new_final)
//   done               N                     N
//   aborted            O                     O
//
// N* marks the copy on N with the header kDualHeader: the event's copy on O
// is the one the groups of the migration handle, so they skip marked
// records — no de-duplication memory is needed, however old the copies.
// A rollback from cutover copies the records that exist only on N back to O
// (marked with kCopyHeader), so that O is complete again for any reader; the
// groups of the migration skip those copies, having handled the originals
// on N. docs/design/migration.md has the reasoning.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/record.h"
#include "weir/status.h"

namespace weir::migrate {

// The control topics (created by `weir migrate plan`).
inline constexpr std::string_view kStateTopic = "__weir_migrations";
inline constexpr std::string_view kAcksTopic = "__weir_migrations_acks";
// On the N copy of a dual-published event; the value is the migration name.
inline constexpr std::string_view kDualHeader = "weir-migrate-dual";
// On a rollback's copy in O of a record that was only on N; the value is the
// migration name. kSourceHeader says where it was copied from ("N/p@offset").
inline constexpr std::string_view kCopyHeader = "weir-migrate-copy";
inline constexpr std::string_view kSourceHeader = "weir-migrate-source";

enum class Stage : uint8_t {
  kPlanned,
  kDualPublish,
  kDualSubscribe,
  kCutoverPublish,
  kCutover,
  kRollbackPublish,
  kDone,
  kAborted,
};
std::string_view StageName(Stage s);  // "planned", "dual-publish", ...
std::optional<Stage> ParseStage(std::string_view name);

// Offsets per partition of one topic (index = partition).
using Offsets = std::vector<int64_t>;

struct HistoryEntry {
  int64_t version = 0;
  std::string stage;
  int64_t at_ms = 0;
  std::string by;    // "user@host pid N"
  std::string note;  // what the step recorded
};

struct State {
  std::string name;
  int64_t version = 0;  // 1 for the plan; +1 per recorded change
  std::string from;     // O
  std::string to;       // N
  Stage stage = Stage::kPlanned;
  std::vector<std::string> event_types;  // routed to O at plan time
  std::vector<std::string> groups;       // reading O at plan time
  std::vector<std::string> moved;        // groups reading O and N (dual-subscribe)
  int64_t window_ms = 0;                 // the rollback window after cutover
  int64_t cutover_at_ms = 0;             // when stage cutover was reached
  int rollbacks = 0;
  Offsets old_final;    // O's end once no publisher writes it (cutover)
  Offsets new_cutover;  // N's end when publishers stopped writing O
  Offsets new_final;    // N's end when publishers resumed O (rollback)
  Offsets copy_from;    // O's end before a rollback copies N's records to it
  std::vector<HistoryEntry> history;
  // The writer of this version, for "changed by" messages.
  std::string updated_by;
  int64_t updated_at_ms = 0;

  bool active() const { return stage != Stage::kDone && stage != Stage::kAborted; }
  bool HasGroup(std::string_view group) const;
  bool IsMoved(std::string_view group) const;
};

std::string StateToJson(const State& s);
// Parses a state document; the error names the field.
Result<State> StateFromJson(std::string_view json);

// The latest state of every migration, by name.
using States = std::map<std::string, State, std::less<>>;

// One copy of an event: its topic and, for a dual copy, the migration that
// marks it (kDualHeader's value); empty otherwise.
struct PublishTarget {
  std::string topic;
  std::string dual_mark;
  bool operator==(const PublishTarget&) const = default;
};

// Where an event type declared on |declared| topics is published under
// |states|: each declared topic that is the old topic of a migration is
// replaced by the stage's set; others are kept.
std::vector<PublishTarget> PublishTargets(const States& states,
                                          const std::vector<std::string>& declared);

// The topics group |group|, declared on |declared|, reads under |states|.
std::vector<std::string> GroupTopics(const States& states, std::string_view group,
                                     const std::vector<std::string>& declared);

// True when group |group| must skip |record| (finish it unhandled): a dual
// copy on N or a rollback copy on O of a migration the group belongs to.
bool SkipRecord(const States& states, std::string_view group, const Record& record);

// For a record read from |topic|, the old topic when |topic| is the new topic
// of a migration (a group declared on O registered its handler for O);
// |topic| itself otherwise.
std::string HandlerTopic(const States& states, std::string_view topic);

// The migration that moves |topic| (as O or N) and is not finished; null when none.
const State* ActiveFor(const States& states, std::string_view topic);

}  // namespace weir::migrate
