// Schema Registry compatibility levels on top of the static readability check
// in resolution.cc.

#include <fmt/format.h>

#include <array>
#include <utility>

#include "schema/avro/avro_internal.h"
#include "weir/schema/avro_compatibility.h"

namespace weir::schema {
namespace {

constexpr std::array<std::pair<AvroCompatibility, std::string_view>, 7> kLevelNames = {{
    {AvroCompatibility::kNone, "NONE"},
    {AvroCompatibility::kBackward, "BACKWARD"},
    {AvroCompatibility::kBackwardTransitive, "BACKWARD_TRANSITIVE"},
    {AvroCompatibility::kForward, "FORWARD"},
    {AvroCompatibility::kForwardTransitive, "FORWARD_TRANSITIVE"},
    {AvroCompatibility::kFull, "FULL"},
    {AvroCompatibility::kFullTransitive, "FULL_TRANSITIVE"},
}};

// Appends the problems of reading |writer| data with |reader| to |out|.
void Collect(const AvroSchema& writer, const AvroSchema& reader, int version_index,
             std::string_view direction, std::vector<AvroIncompatibility>* out) {
  for (avro_internal::ReadabilityProblem& p :
       avro_internal::FindReadabilityProblems(writer, reader)) {
    out->push_back({std::move(p.kind), std::move(p.path), std::move(p.message), version_index,
                    std::string(direction)});
  }
}

}  // namespace

std::string_view AvroCompatibilityName(AvroCompatibility level) {
  for (const auto& [value, name] : kLevelNames) {
    if (value == level) return name;
  }
  return "UNKNOWN";
}

Result<AvroCompatibility> ParseAvroCompatibility(std::string_view name) {
  std::string valid;
  for (const auto& [value, level_name] : kLevelNames) {
    if (level_name == name) return value;
    if (!valid.empty()) valid += ", ";
    valid += level_name;
  }
  return Status::InvalidArgument(
      fmt::format("unknown Avro compatibility level \"{}\"; valid levels are {}", name, valid));
}

std::vector<AvroIncompatibility> CheckCompatibility(const AvroSchema& candidate,
                                                    const std::vector<AvroSchema>& history,
                                                    AvroCompatibility level) {
  std::vector<AvroIncompatibility> out;
  if (level == AvroCompatibility::kNone || history.empty()) return out;
  const bool transitive = level == AvroCompatibility::kBackwardTransitive ||
                          level == AvroCompatibility::kForwardTransitive ||
                          level == AvroCompatibility::kFullTransitive;
  const bool backward =
      level != AvroCompatibility::kForward && level != AvroCompatibility::kForwardTransitive;
  const bool forward =
      level != AvroCompatibility::kBackward && level != AvroCompatibility::kBackwardTransitive;
  const size_t first = transitive ? 0 : history.size() - 1;
  for (size_t i = first; i < history.size(); ++i) {
    const int version_index = static_cast<int>(i);
    // Backward: the candidate reads the earlier version's data.
    if (backward) Collect(history[i], candidate, version_index, "backward", &out);
    // Forward: the earlier version reads the candidate's data.
    if (forward) Collect(candidate, history[i], version_index, "forward", &out);
  }
  return out;
}

}  // namespace weir::schema
