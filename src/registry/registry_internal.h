// registry/registry_internal.h — helpers shared by the registry
// implementations, the REST API and the CLI. Not part of the public API.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "weir/registry/registry.h"

namespace weir::registry {

// Checks that |schema| parses (Avro with weir::schema::AvroSchema, JSON with
// weir::schema::JsonSchema) and returns it in the registry's normalised
// form: AvroSchema::ToJson() for Avro, compact JSON (member order kept) for
// JSON Schema. Failures are kInvalidArgument: "invalid Avro schema: <why>".
Result<Schema> NormalizeSchema(const Schema& schema);

// kInvalidArgument when |subject| cannot be a subject name: empty, longer
// than 255 bytes, or holding control characters.
Status ValidateSubject(std::string_view subject);

// ValidateSubject(subject), then NormalizeSchema(schema) with a failure
// naming the subject: what every call that takes a subject and a schema
// checks first.
Result<Schema> NormalizeForSubject(std::string_view subject, const Schema& schema);

// Parses a version as the REST API spells it: "latest" or "-1" (→
// kLatestVersion), or 1..2^31-1. nullopt for anything else.
std::optional<int32_t> ParseVersion(std::string_view text);

// "latest" for kLatestVersion, else the number.
std::string VersionName(int32_t version);

// Wraps |inner| with a cache of what never changes: id → schema (and its
// parsed Avro form), and the results of Register() and LookUp() per subject
// and schema text (forgotten for a subject when it is deleted through this
// object). Everything else passes through. The result is thread-safe when
// |inner| is.
std::unique_ptr<Registry> NewCachingRegistry(std::unique_ptr<Registry> inner);

}  // namespace weir::registry
