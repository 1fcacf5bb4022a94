// schema/avro/avro_internal.h — helpers shared by the Avro codec's sources.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "weir/schema/avro.h"

namespace weir::schema {

// Owns every node of one parsed schema, and keeps alive the schemas whose
// named types it references.
struct AvroSchema::Arena {
  std::vector<std::unique_ptr<AvroNode>> nodes;
  std::vector<std::shared_ptr<const Arena>> deps;
};

namespace avro_internal {

// The label a datum path starts with: the root record's name, or "$".
std::string PathRoot(const AvroNode& root);

// Converts |json| to a value of |node|. |path| names |json| in messages.
// |for_default| applies the rules for field defaults (a union's default is a
// value of its first branch, given plainly).
Result<AvroValue> JsonToValue(const AvroNode& node, const nlohmann::json& json, AvroJsonMode mode,
                              bool for_default, const std::string& path);

// The Avro name used for |node| in a union's JSON encoding and in messages:
// the full name of a named type, otherwise the type name.
std::string BranchName(const AvroNode& node);

// "int", "record com.example.Foo", ... for messages.
std::string Describe(const AvroNode& node);

// One place where some datum of a writer schema could not be read with a
// reader schema.
struct ReadabilityProblem {
  std::string kind;     // "type_mismatch", "missing_enum_symbol", ...
  std::string path;     // in the reader schema, e.g. "PlateEvent.vehicle.color"
  std::string message;  // what is wrong, without the path
};

// Every place where data written with |writer| could not be read as |reader|;
// empty when all of it can. CheckReadable reports the same list as a Status.
std::vector<ReadabilityProblem> FindReadabilityProblems(const AvroSchema& writer,
                                                        const AvroSchema& reader);

}  // namespace avro_internal
}  // namespace weir::schema
