// weir/schema/avro_compatibility.h — Schema Registry compatibility levels for
// Avro schemas.
//
// Decides, without data, whether a candidate schema may be registered after a
// history of earlier versions under one of the Confluent Schema Registry's
// compatibility levels, and names every incompatibility with its path in the
// schema, e.g. "PlateEvent.vehicle.colour".
//
// Thread safety: the functions here are pure; they may be called from any
// number of threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weir/schema/avro.h"
#include "weir/status.h"

namespace weir::schema {

// The Schema Registry's compatibility levels. "Backward" means the candidate
// (new) schema can read data written with an earlier one; "forward" means an
// earlier schema can read data written with the candidate; "full" is both.
// The transitive levels check every earlier version, the others only the
// latest. kNone accepts any candidate.
enum class AvroCompatibility : uint8_t {
  kNone,
  kBackward,
  kBackwardTransitive,
  kForward,
  kForwardTransitive,
  kFull,
  kFullTransitive,
};

// The Schema Registry's name of |level|: "NONE", "BACKWARD_TRANSITIVE", ...
std::string_view AvroCompatibilityName(AvroCompatibility level);

// Parses a Schema Registry level name, e.g. "FULL_TRANSITIVE" (exact,
// upper-case). Unknown names are InvalidArgument listing the valid names.
Result<AvroCompatibility> ParseAvroCompatibility(std::string_view name);

// One reason the candidate may not be registered.
struct AvroIncompatibility {
  // What is wrong: "reader_field_missing_default", "type_mismatch",
  // "missing_enum_symbol", "missing_union_branch", "fixed_size_mismatch" or
  // "name_mismatch".
  std::string kind;
  // Where, in the reading schema: the candidate's for "backward", the earlier
  // version's for "forward". E.g. "PlateEvent.vehicle.colour"; "[]" marks
  // array items and "{}" map values.
  std::string path;
  // A readable explanation, without the path.
  std::string message;
  // The earlier schema involved: its 0-based index in the history.
  int version_index = 0;
  // "backward" (the candidate cannot read that version's data) or "forward"
  // (that version cannot read the candidate's data).
  std::string direction;
};

// Checks |candidate| against |history| (earlier versions, oldest first) at
// |level|. Returns every incompatibility found, ordered by version, then
// direction (backward first), then position in the schema; an empty result
// means the candidate is compatible. An empty history accepts any candidate.
std::vector<AvroIncompatibility> CheckCompatibility(const AvroSchema& candidate,
                                                    const std::vector<AvroSchema>& history,
                                                    AvroCompatibility level);

}  // namespace weir::schema
