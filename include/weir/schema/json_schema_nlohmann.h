// weir/schema/json_schema_nlohmann.h — JsonSchema over an already parsed
// nlohmann::json, for internal callers that hold the document in that form
// and should not serialise it again. Same contracts as json_schema.h.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "weir/schema/json_schema.h"

namespace weir::schema {

class JsonSchemaAccess {
 public:
  // Parses a schema given as a document. |schema| is copied.
  static Result<JsonSchema> Parse(const nlohmann::json& schema,
                                  const JsonSchemaOptions& options = {});
  // Validates |instance|, reporting every failure.
  static ValidationResult Validate(const JsonSchema& schema, const nlohmann::json& instance);
  // Stops at the first failure.
  static bool IsValid(const JsonSchema& schema, const nlohmann::json& instance);
};

}  // namespace weir::schema
