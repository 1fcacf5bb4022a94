// weir/schema/json_schema.h — JSON Schema validation (draft 7 and 2020-12).
//
// A JsonSchema is a parsed, fully resolved schema: Parse() reads the schema
// text, indexes every "$id", "$anchor" and "$dynamicAnchor", resolves every
// "$ref" and "$dynamicRef" (asking JsonSchemaOptions::resolver for remote
// documents) and compiles every "pattern" once. Validate() then checks
// instance documents without further allocation of schema state.
//
// Each failure names the failing value by JSON pointer into the instance
// ("/vehicle/colour"), the keyword that failed ("minLength") and the keyword's
// location in the schema ("#/properties/vehicle/properties/colour/minLength").
//
// Supported: the draft 7 core and validation vocabularies, and the 2020-12
// core, applicator, unevaluated and validation vocabularies, including
// "$dynamicRef". The draft 7 and 2020-12 meta-schemas are built in, so a schema
// may "$ref" them without a resolver. "format" and "content*" are annotations
// only (never fail), as the specifications allow. "$vocabulary" of a custom
// meta-schema (named by a document's "$schema") can switch off only the
// validation vocabulary; requiring an unknown vocabulary fails Parse().
// "pattern" uses std::wregex with the ECMAScript grammar over code points,
// which lacks Unicode property classes (\p{...}), lookbehind and named groups;
// a pattern it cannot compile makes Parse() fail.
// Details: src/schema/json/README.md.
//
// Lifetime and threads: a JsonSchema owns copies of all the documents it was
// built from; it is move-only. Validate() and IsValid() are const and may be
// called from any number of threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir::schema {

enum class JsonSchemaDraft : uint8_t {
  kAuto,  // from the root's "$schema"; 2020-12 when absent or unknown
  kDraft7,
  kDraft2020_12,
};

// Returns the text of the schema document at |uri| (absolute, without a
// fragment). May be called several times during Parse(), never afterwards.
using JsonSchemaResolver = std::function<Result<std::string>(const std::string& uri)>;

struct JsonSchemaOptions {
  JsonSchemaDraft draft = JsonSchemaDraft::kAuto;
  // Loads documents named by "$ref" that are not part of the schema. Empty:
  // a reference to another document makes Parse() fail with kNotFound.
  JsonSchemaResolver resolver;
  // The retrieval URI of the schema, against which a root without "$id"
  // resolves relative references (e.g. "file:///etc/weir/vehicle.json").
  std::string base_uri;
  // Deepest nesting of subschema evaluations (every level of the instance, and
  // every applicator and "$ref" on the way, adds one) before validation fails
  // with an error rather than exhausting the stack.
  int max_depth = 256;
};

struct ValidationError {
  // JSON pointer (RFC 6901) of the failing value in the instance; "" is the
  // whole document.
  std::string instance_pointer;
  // The keyword that failed ("minLength", "required", ...). "false" when a
  // schema that is the literal false rejected the value; empty when the
  // instance is not JSON at all.
  std::string keyword;
  // Absolute location of the keyword in the schema: "#/properties/a/type" in
  // the root document, "<uri>#/..." in a document loaded by the resolver.
  std::string schema_pointer;
  // A sentence for humans, e.g. "string has 2 characters, fewer than 3".
  std::string message;
};

class ValidationResult {
 public:
  ValidationResult() = default;
  explicit ValidationResult(std::vector<ValidationError> errors) : errors_(std::move(errors)) {}

  // True when the instance is valid.
  bool ok() const { return errors_.empty(); }
  const std::vector<ValidationError>& errors() const { return errors_; }

  // Status::Ok() when valid, otherwise kInvalidArgument with one line per
  // error: "/vehicle/colour: minLength: string has 2 characters, fewer than 3
  // (#/properties/vehicle/properties/colour/minLength)". The whole document is
  // shown as "(root)".
  Status ToStatus() const;

 private:
  std::vector<ValidationError> errors_;
};

class JsonSchemaAccess;  // Used by json_schema_nlohmann.h.

class JsonSchema {
 public:
  // Parses |schema_json| and resolves all its references. Fails with
  // kInvalidArgument when the text is not JSON or not a schema, kNotFound when
  // a "$ref" names nothing that can be found, kUnsupported for a pattern that
  // std::wregex cannot compile or a meta-schema that requires an unknown
  // vocabulary. Messages name the schema location ("#/items/$ref").
  static Result<JsonSchema> Parse(std::string_view schema_json,
                                  const JsonSchemaOptions& options = {});

  JsonSchema(JsonSchema&&) noexcept;
  JsonSchema& operator=(JsonSchema&&) noexcept;
  ~JsonSchema();

  // Validates the JSON text |instance_json| and reports every failure found.
  // Text that is not JSON yields one error whose message names the byte offset.
  ValidationResult Validate(std::string_view instance_json) const;

  // Like Validate(), but stops at the first failure: the fast path when only
  // the verdict matters. False for text that is not JSON.
  bool IsValid(std::string_view instance_json) const;

  // The draft the schema was read as (never kAuto).
  JsonSchemaDraft draft() const;

 private:
  friend class JsonSchemaAccess;
  struct Impl;
  explicit JsonSchema(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::schema
