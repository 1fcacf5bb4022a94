#include "weir/migrate/state.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace weir::migrate {
namespace {

using nlohmann::json;

constexpr std::pair<Stage, std::string_view> kStages[] = {
    {Stage::kPlanned, "planned"},
    {Stage::kDualPublish, "dual-publish"},
    {Stage::kDualSubscribe, "dual-subscribe"},
    {Stage::kCutoverPublish, "cutover-publish"},
    {Stage::kCutover, "cutover"},
    {Stage::kRollbackPublish, "rollback-publish"},
    {Stage::kDone, "done"},
    {Stage::kAborted, "aborted"},
};

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Reads field |key| of |j| into |out| with a message naming the field.
template <typename T>
Status Read(const json& j, const char* key, T* out, bool required = true) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (!required) return Status::Ok();
    return Status::InvalidArgument(fmt::format("migration state: missing field \"{}\"", key));
  }
  try {
    *out = it->get<T>();
  } catch (const json::exception& e) {
    return Status::InvalidArgument(fmt::format("migration state: field \"{}\": {}", key, e.what()));
  }
  return Status::Ok();
}

}  // namespace

std::string_view StageName(Stage s) {
  for (const auto& [stage, name] : kStages) {
    if (stage == s) return name;
  }
  return "?";
}

std::optional<Stage> ParseStage(std::string_view name) {
  for (const auto& [stage, n] : kStages) {
    if (n == name) return stage;
  }
  return std::nullopt;
}

bool State::HasGroup(std::string_view group) const { return Contains(groups, group); }
bool State::IsMoved(std::string_view group) const { return Contains(moved, group); }

std::string StateToJson(const State& s) {
  json history = json::array();
  for (const HistoryEntry& h : s.history) {
    history.push_back({{"version", h.version},
                       {"stage", h.stage},
                       {"at_ms", h.at_ms},
                       {"by", h.by},
                       {"note", h.note}});
  }
  json j = {{"name", s.name},
            {"version", s.version},
            {"from", s.from},
            {"to", s.to},
            {"stage", std::string(StageName(s.stage))},
            {"event_types", s.event_types},
            {"groups", s.groups},
            {"moved", s.moved},
            {"window_ms", s.window_ms},
            {"cutover_at_ms", s.cutover_at_ms},
            {"rollbacks", s.rollbacks},
            {"old_final", s.old_final},
            {"new_cutover", s.new_cutover},
            {"new_final", s.new_final},
            {"copy_from", s.copy_from},
            {"history", std::move(history)},
            {"updated_by", s.updated_by},
            {"updated_at_ms", s.updated_at_ms}};
  return j.dump();
}

Result<State> StateFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("migration state: not a JSON object");
  }
  State s;
  std::string stage;
  WEIR_RETURN_IF_ERROR(Read(j, "name", &s.name));
  WEIR_RETURN_IF_ERROR(Read(j, "version", &s.version));
  WEIR_RETURN_IF_ERROR(Read(j, "from", &s.from));
  WEIR_RETURN_IF_ERROR(Read(j, "to", &s.to));
  WEIR_RETURN_IF_ERROR(Read(j, "stage", &stage));
  auto parsed = ParseStage(stage);
  if (!parsed) {
    return Status::InvalidArgument(fmt::format("migration state: unknown stage \"{}\"", stage));
  }
  s.stage = *parsed;
  WEIR_RETURN_IF_ERROR(Read(j, "event_types", &s.event_types, false));
  WEIR_RETURN_IF_ERROR(Read(j, "groups", &s.groups, false));
  WEIR_RETURN_IF_ERROR(Read(j, "moved", &s.moved, false));
  WEIR_RETURN_IF_ERROR(Read(j, "window_ms", &s.window_ms, false));
  WEIR_RETURN_IF_ERROR(Read(j, "cutover_at_ms", &s.cutover_at_ms, false));
  WEIR_RETURN_IF_ERROR(Read(j, "rollbacks", &s.rollbacks, false));
  WEIR_RETURN_IF_ERROR(Read(j, "old_final", &s.old_final, false));
  WEIR_RETURN_IF_ERROR(Read(j, "new_cutover", &s.new_cutover, false));
  WEIR_RETURN_IF_ERROR(Read(j, "new_final", &s.new_final, false));
  WEIR_RETURN_IF_ERROR(Read(j, "copy_from", &s.copy_from, false));
  WEIR_RETURN_IF_ERROR(Read(j, "updated_by", &s.updated_by, false));
  WEIR_RETURN_IF_ERROR(Read(j, "updated_at_ms", &s.updated_at_ms, false));
  if (auto it = j.find("history"); it != j.end() && it->is_array()) {
    for (const json& h : *it) {
      HistoryEntry e;
      WEIR_RETURN_IF_ERROR(Read(h, "version", &e.version));
      WEIR_RETURN_IF_ERROR(Read(h, "stage", &e.stage));
      WEIR_RETURN_IF_ERROR(Read(h, "at_ms", &e.at_ms, false));
      WEIR_RETURN_IF_ERROR(Read(h, "by", &e.by, false));
      WEIR_RETURN_IF_ERROR(Read(h, "note", &e.note, false));
      s.history.push_back(std::move(e));
    }
  }
  if (s.name.empty() || s.from.empty() || s.to.empty() || s.version < 1) {
    return Status::InvalidArgument(
        "migration state: name, from and to must be set and version must be >= 1");
  }
  return s;
}

const State* ActiveFor(const States& states, std::string_view topic) {
  for (const auto& [name, s] : states) {
    if (s.active() && (s.from == topic || s.to == topic)) return &s;
  }
  return nullptr;
}

namespace {

// The migration whose old topic is |topic| and that still routes it (a done
// migration keeps mapping O to N, so a weir.yaml not yet edited still works).
const State* MovingFrom(const States& states, std::string_view topic) {
  for (const auto& [name, s] : states) {
    if (s.from == topic && s.stage != Stage::kAborted) return &s;
  }
  return nullptr;
}

}  // namespace

std::vector<PublishTarget> PublishTargets(const States& states,
                                          const std::vector<std::string>& declared) {
  std::vector<PublishTarget> out;
  auto add = [&out](const std::string& topic, const std::string& mark) {
    for (const PublishTarget& t : out) {
      if (t.topic == topic) return;
    }
    out.push_back({topic, mark});
  };
  for (const std::string& topic : declared) {
    const State* s = MovingFrom(states, topic);
    if (s == nullptr) {
      add(topic, "");
      continue;
    }
    switch (s->stage) {
      case Stage::kPlanned:
      case Stage::kAborted:
        add(s->from, "");
        break;
      case Stage::kDualPublish:
      case Stage::kDualSubscribe:
      case Stage::kRollbackPublish:
        add(s->from, "");
        add(s->to, s->name);
        break;
      case Stage::kCutoverPublish:
      case Stage::kCutover:
      case Stage::kDone:
        add(s->to, "");
        break;
    }
  }
  return out;
}

std::vector<std::string> GroupTopics(const States& states, std::string_view group,
                                     const std::vector<std::string>& declared) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& topic) {
    if (!Contains(out, topic)) out.push_back(topic);
  };
  for (const std::string& topic : declared) {
    const State* s = MovingFrom(states, topic);
    if (s == nullptr) {
      add(topic);
      continue;
    }
    const bool member = s->HasGroup(group);
    switch (s->stage) {
      case Stage::kPlanned:
      case Stage::kAborted:
      case Stage::kDualPublish:
      case Stage::kCutoverPublish:
        add(s->from);
        break;
      case Stage::kDualSubscribe:
        add(s->from);
        if (member && s->IsMoved(group)) add(s->to);
        break;
      case Stage::kRollbackPublish:
        // A group that joined after the plan never read N: it stays on O.
        add(member ? s->to : s->from);
        break;
      case Stage::kCutover:
      case Stage::kDone:
        add(s->to);
        break;
    }
  }
  return out;
}

bool SkipRecord(const States& states, std::string_view group, const Record& record) {
  const HeaderView* dual = record.FindHeader(kDualHeader);
  const HeaderView* copy = dual == nullptr ? record.FindHeader(kCopyHeader) : nullptr;
  const HeaderView* h = dual != nullptr ? dual : copy;
  if (h == nullptr || !h->value) return false;
  auto it = states.find(*h->value);
  if (it == states.end() || !it->second.HasGroup(group)) return false;
  const State& s = it->second;
  return dual != nullptr ? record.topic() == s.to : record.topic() == s.from;
}

std::string HandlerTopic(const States& states, std::string_view topic) {
  for (const auto& [name, s] : states) {
    if (s.to == topic && s.stage != Stage::kAborted) return s.from;
  }
  return std::string(topic);
}

}  // namespace weir::migrate
