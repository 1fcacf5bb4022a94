#include "weir/schema/json_schema.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "weir/schema/json_schema_nlohmann.h"

namespace weir::schema {
namespace {

// A vehicle telemetry event as a producer would publish it.
constexpr const char* kTelemetrySchema = R"({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://weir.example/schemas/vehicle-telemetry.json",
  "type": "object",
  "required": ["event_id", "vehicle", "readings"],
  "properties": {
    "event_id": {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-"},
    "emitted_at": {"type": "string", "format": "date-time"},
    "vehicle": {
      "type": "object",
      "required": ["vin", "colour"],
      "properties": {
        "vin": {"type": "string", "minLength": 17, "maxLength": 17},
        "colour": {"type": "string", "minLength": 3},
        "odometer_km": {"type": "number", "minimum": 0}
      },
      "additionalProperties": false
    },
    "readings": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/reading"}},
    "tags": {"type": "array", "uniqueItems": true, "items": {"type": "string"}}
  },
  "$defs": {
    "reading": {
      "type": "object",
      "required": ["sensor", "value"],
      "properties": {
        "sensor": {"enum": ["speed", "fuel", "battery", "tyre_pressure"]},
        "value": {"type": "number"},
        "position": {
          "type": "array",
          "prefixItems": [
            {"type": "number", "minimum": -90, "maximum": 90},
            {"type": "number", "minimum": -180, "maximum": 180}
          ],
          "items": false
        }
      }
    }
  }
})";

constexpr const char* kValidEvent = R"({
  "event_id": "0af3c9e1-77b2-4d1e-9a55-2c1f0e9b7d10",
  "emitted_at": "2026-11-23T10:00:00Z",
  "vehicle": {"vin": "WVWZZZ1JZXW000001", "colour": "red", "odometer_km": 12034.5},
  "readings": [
    {"sensor": "speed", "value": 87, "position": [52.52, 13.40]},
    {"sensor": "fuel", "value": 0.61}
  ],
  "tags": ["fleet-a", "berlin"]
})";

JsonSchema MustParse(std::string_view text, const JsonSchemaOptions& options = {}) {
  Result<JsonSchema> schema = JsonSchema::Parse(text, options);
  EXPECT_TRUE(schema.ok()) << schema.status().ToString();
  return std::move(schema).value();
}

// The valid event with |patch| (an RFC 7396 merge patch) applied.
std::string Event(const char* patch) {
  nlohmann::json event = nlohmann::json::parse(kValidEvent);
  event.merge_patch(nlohmann::json::parse(patch));
  return event.dump();
}

TEST(JsonSchemaTest, AcceptsAValidEvent) {
  JsonSchema schema = MustParse(kTelemetrySchema);
  EXPECT_EQ(schema.draft(), JsonSchemaDraft::kDraft2020_12);
  ValidationResult result = schema.Validate(kValidEvent);
  EXPECT_TRUE(result.ok()) << result.ToStatus().ToString();
  EXPECT_TRUE(result.ToStatus().ok());
  EXPECT_TRUE(schema.IsValid(kValidEvent));
}

TEST(JsonSchemaTest, NamesThePointerKeywordAndSchemaLocation) {
  JsonSchema schema = MustParse(kTelemetrySchema);
  ValidationResult result = schema.Validate(Event(R"({"vehicle": {"colour": "re"}})"));
  ASSERT_EQ(result.errors().size(), 1u) << result.ToStatus().ToString();
  const ValidationError& e = result.errors()[0];
  EXPECT_EQ(e.instance_pointer, "/vehicle/colour");
  EXPECT_EQ(e.keyword, "minLength");
  EXPECT_EQ(e.schema_pointer, "#/properties/vehicle/properties/colour/minLength");
  EXPECT_EQ(e.message, "string has 2 characters, fewer than 3");
  EXPECT_EQ(result.ToStatus().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.ToStatus().message(),
            "/vehicle/colour: minLength: string has 2 characters, fewer than 3 "
            "(#/properties/vehicle/properties/colour/minLength)");
  EXPECT_FALSE(schema.IsValid(Event(R"({"vehicle": {"colour": "re"}})")));
}

TEST(JsonSchemaTest, ErrorsThroughRefsAndArraysPointIntoTheDefinition) {
  JsonSchema schema = MustParse(kTelemetrySchema);
  nlohmann::json event = nlohmann::json::parse(kValidEvent);
  event["readings"][1]["sensor"] = "altitude";
  event["readings"][0]["position"] = {52.52, 13.40, 34.0};
  ValidationResult result = schema.Validate(event.dump());
  ASSERT_EQ(result.errors().size(), 2u) << result.ToStatus().ToString();
  EXPECT_EQ(result.errors()[0].instance_pointer, "/readings/0/position/2");
  EXPECT_EQ(result.errors()[0].keyword, "items");
  EXPECT_EQ(result.errors()[0].schema_pointer, "#/$defs/reading/properties/position/items");
  EXPECT_EQ(result.errors()[1].instance_pointer, "/readings/1/sensor");
  EXPECT_EQ(result.errors()[1].keyword, "enum");
  EXPECT_EQ(result.errors()[1].schema_pointer, "#/$defs/reading/properties/sensor/enum");
}

TEST(JsonSchemaTest, ReportsEveryFailureButIsValidStopsAtTheFirst) {
  JsonSchema schema = MustParse(kTelemetrySchema);
  nlohmann::json event = nlohmann::json::parse(kValidEvent);
  event.erase("event_id");
  event["vehicle"]["sun~roof/open"] = true;
  event["vehicle"]["odometer_km"] = -1;
  event["tags"] = {"a", "b", "a"};
  ValidationResult result = schema.Validate(event.dump());
  ASSERT_EQ(result.errors().size(), 4u) << result.ToStatus().ToString();
  EXPECT_EQ(result.errors()[0].instance_pointer, "");
  EXPECT_EQ(result.errors()[0].keyword, "required");
  EXPECT_EQ(result.errors()[0].message, "required property \"event_id\" is missing");
  EXPECT_EQ(
      result.ToStatus().message().rfind("(root): required: required property \"event_id\"", 0), 0u)
      << result.ToStatus().message();
  // Errors follow the schema's (sorted) property order.
  EXPECT_EQ(result.errors()[1].instance_pointer, "/tags");
  EXPECT_EQ(result.errors()[1].keyword, "uniqueItems");
  EXPECT_EQ(result.errors()[1].message, "items 0 and 2 are equal");
  EXPECT_EQ(result.errors()[2].instance_pointer, "/vehicle/odometer_km");
  EXPECT_EQ(result.errors()[2].keyword, "minimum");
  EXPECT_EQ(result.errors()[2].schema_pointer,
            "#/properties/vehicle/properties/odometer_km/minimum");
  EXPECT_EQ(result.errors()[3].instance_pointer, "/vehicle/sun~0roof~1open");
  EXPECT_EQ(result.errors()[3].keyword, "additionalProperties");
  EXPECT_EQ(result.errors()[3].schema_pointer, "#/properties/vehicle/additionalProperties");
  EXPECT_FALSE(schema.IsValid(event.dump()));
}

TEST(JsonSchemaTest, InstanceThatIsNotJsonNamesTheByteOffset) {
  JsonSchema schema = MustParse(kTelemetrySchema);
  ValidationResult result = schema.Validate(R"({"event_id": "x",})");
  ASSERT_EQ(result.errors().size(), 1u);
  EXPECT_EQ(result.errors()[0].keyword, "");
  EXPECT_NE(result.errors()[0].message.find("instance is not valid JSON (error at byte 18)"),
            std::string::npos)
      << result.errors()[0].message;
  EXPECT_FALSE(schema.IsValid("{"));
}

TEST(JsonSchemaTest, LengthCountsCodePointsNotBytes) {
  JsonSchema schema = MustParse(R"({"minLength": 3, "maxLength": 5})");
  EXPECT_TRUE(schema.IsValid(R"("héllo")"));           // 6 bytes, 5 code points
  EXPECT_FALSE(schema.IsValid(R"("日本")"));           // 6 bytes, 2 code points
  EXPECT_TRUE(schema.IsValid(R"("\ud83d\ude97x!")"));  // a surrogate pair is one
}

TEST(JsonSchemaTest, PatternsMatchCodePoints) {
  JsonSchema schema = MustParse(R"({"pattern": "^.{2}$"})");
  EXPECT_TRUE(schema.IsValid(R"("日本")"));
  EXPECT_TRUE(schema.IsValid(R"("\ud83d\ude97!")"));
  EXPECT_FALSE(schema.IsValid(R"("日本語")"));
  JsonSchema range = MustParse(R"({"patternProperties": {"^[à-ÿ]+$": {"type": "integer"}}})");
  EXPECT_FALSE(range.IsValid(R"({"éà": "warm"})"));
  EXPECT_TRUE(range.IsValid(R"({"ete": "warm"})"));
}

TEST(JsonSchemaTest, PatternsSurviveLongAndHostileInput) {
  // A depth-first matcher would overflow the stack on the first and take
  // exponential time on the second.
  JsonSchema alternation = MustParse(R"({"pattern": "^(a|b)*$"})");
  EXPECT_TRUE(alternation.IsValid("\"" + std::string(200000, 'a') + "\""));
  JsonSchema nested = MustParse(R"({"pattern": "^(a+)+$"})");
  EXPECT_FALSE(nested.IsValid("\"" + std::string(5000, 'a') + "!\""));
}

TEST(JsonSchemaTest, ParseFailuresAreStatuses) {
  Result<JsonSchema> not_json = JsonSchema::Parse(R"({"type": )");
  ASSERT_FALSE(not_json.ok());
  EXPECT_EQ(not_json.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(not_json.status().message().find("byte"), std::string::npos);

  Result<JsonSchema> not_schema = JsonSchema::Parse("[1]");
  EXPECT_EQ(not_schema.status().code(), StatusCode::kInvalidArgument);

  Result<JsonSchema> dangling = JsonSchema::Parse(R"({"items": {"$ref": "#/$defs/missing"}})");
  ASSERT_FALSE(dangling.ok());
  EXPECT_EQ(dangling.status().code(), StatusCode::kNotFound);
  EXPECT_NE(dangling.status().message().find("#/items/$ref"), std::string::npos)
      << dangling.status().message();

  Result<JsonSchema> remote = JsonSchema::Parse(R"({"$ref": "https://x.example/a.json"})");
  EXPECT_EQ(remote.status().code(), StatusCode::kNotFound);

  Result<JsonSchema> regex = JsonSchema::Parse(R"({"pattern": "^\\p{Letter}+$"})");
  EXPECT_EQ(regex.status().code(), StatusCode::kUnsupported);

  JsonSchemaOptions options;
  options.resolver = [](const std::string& uri) -> Result<std::string> {
    if (uri == "https://x.example/list.json") return std::string("[1, 2]");
    if (uri == "https://x.example/meta.json") {
      return std::string(R"({"$vocabulary": {"https://x.example/vocab/units": true}})");
    }
    return Status::NotFound(uri);
  };
  Result<JsonSchema> list =
      JsonSchema::Parse(R"({"$ref": "https://x.example/list.json"})", options);
  EXPECT_EQ(list.status().code(), StatusCode::kInvalidArgument);
  Result<JsonSchema> huge_index =
      JsonSchema::Parse(R"({"$ref": "#/allOf/99999999999999999999999", "allOf": [true]})");
  EXPECT_EQ(huge_index.status().code(), StatusCode::kNotFound);
  Result<JsonSchema> vocabulary =
      JsonSchema::Parse(R"({"$schema": "https://x.example/meta.json"})", options);
  EXPECT_EQ(vocabulary.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(vocabulary.status().message().find("https://x.example/vocab/units"), std::string::npos);
}

TEST(JsonSchemaTest, ResolverLoadsRemoteDocumentsRelativeToTheBase) {
  JsonSchemaOptions options;
  options.base_uri = "https://weir.example/schemas/event.json";
  int calls = 0;
  options.resolver = [&calls](const std::string& uri) -> Result<std::string> {
    ++calls;
    if (uri == "https://weir.example/schemas/common/vin.json") {
      return std::string(R"({"type": "string", "pattern": "^[A-HJ-NPR-Z0-9]{17}$"})");
    }
    return Status::NotFound(uri);
  };
  JsonSchema schema = MustParse(R"({"properties": {"vin": {"$ref": "common/vin.json"},
                                   "previous_vin": {"$ref": "common/vin.json"}}})",
                                options);
  EXPECT_EQ(calls, 1);
  ValidationResult result = schema.Validate(R"({"vin": "WVWZZZ1JZXW00000I"})");
  ASSERT_EQ(result.errors().size(), 1u);
  EXPECT_EQ(result.errors()[0].instance_pointer, "/vin");
  EXPECT_EQ(result.errors()[0].keyword, "pattern");
  EXPECT_EQ(result.errors()[0].schema_pointer,
            "https://weir.example/schemas/common/vin.json#/pattern");
}

TEST(JsonSchemaTest, ValidatesSchemasAgainstTheBuiltInMetaschemas) {
  JsonSchema draft7 = MustParse(R"({"$ref": "http://json-schema.org/draft-07/schema#"})");
  EXPECT_TRUE(draft7.IsValid(kTelemetrySchema));
  EXPECT_FALSE(draft7.IsValid(R"({"minLength": "three"})"));
  JsonSchema draft2020 = MustParse(R"({"$ref": "https://json-schema.org/draft/2020-12/schema"})");
  EXPECT_TRUE(draft2020.IsValid(kTelemetrySchema));
  ValidationResult result = draft2020.Validate(R"({"properties": {"a": {"type": "strin"}}})");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.errors()[0].instance_pointer, "/properties/a/type");
}

TEST(JsonSchemaTest, Draft7KeepsTupleItemsAndIgnoresRefSiblings) {
  JsonSchema schema = MustParse(R"({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "definitions": {"lat": {"type": "number"}},
    "items": [{"$ref": "#/definitions/lat", "type": "string"}],
    "additionalItems": false
  })");
  EXPECT_EQ(schema.draft(), JsonSchemaDraft::kDraft7);
  EXPECT_TRUE(schema.IsValid("[1.5]"));
  ValidationResult result = schema.Validate("[1.5, 2]");
  ASSERT_EQ(result.errors().size(), 1u);
  EXPECT_EQ(result.errors()[0].instance_pointer, "/1");
  EXPECT_EQ(result.errors()[0].keyword, "additionalItems");
}

TEST(JsonSchemaTest, RefLoopsAndDeepNestingFailInsteadOfCrashing) {
  JsonSchema loop = MustParse(R"({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                                  "$ref": "#/$defs/a"})");
  ValidationResult result = loop.Validate("1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.errors()[0].keyword, "$ref");
  EXPECT_FALSE(loop.IsValid("1"));

  JsonSchema nested = MustParse(R"({"type": "array", "items": {"$ref": "#"}})");
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  ValidationResult deep_result = nested.Validate(deep);
  ASSERT_FALSE(deep_result.ok());
  EXPECT_NE(deep_result.errors()[0].message.find("deeper than"), std::string::npos);
  std::string shallow = std::string(100, '[') + std::string(100, ']');
  EXPECT_TRUE(nested.IsValid(shallow));
}

TEST(JsonSchemaTest, UnevaluatedPropertiesSeeThroughApplicators) {
  JsonSchema schema = MustParse(R"({
    "properties": {"kind": {"enum": ["car", "truck"]}},
    "if": {"properties": {"kind": {"const": "truck"}}},
    "then": {"properties": {"axles": {"type": "integer", "minimum": 2}}},
    "unevaluatedProperties": false
  })");
  EXPECT_TRUE(schema.IsValid(R"({"kind": "truck", "axles": 3})"));
  ValidationResult result = schema.Validate(R"({"kind": "car", "axles": 3})");
  ASSERT_EQ(result.errors().size(), 1u);
  EXPECT_EQ(result.errors()[0].instance_pointer, "/axles");
  EXPECT_EQ(result.errors()[0].keyword, "unevaluatedProperties");
}

TEST(JsonSchemaTest, ValidatesFromManyThreadsAtOnce) {
  JsonSchema schema = MustParse(kTelemetrySchema);
  std::string bad = Event(R"({"vehicle": {"colour": "re"}})");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!schema.IsValid(kValidEvent) || schema.Validate(bad).errors().size() != 1) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(JsonSchemaTest, AcceptsParsedDocuments) {
  Result<JsonSchema> schema =
      JsonSchemaAccess::Parse(nlohmann::json::parse(kTelemetrySchema), JsonSchemaOptions{});
  ASSERT_TRUE(schema.ok());
  nlohmann::json event = nlohmann::json::parse(kValidEvent);
  EXPECT_TRUE(JsonSchemaAccess::IsValid(*schema, event));
  event["vehicle"]["vin"] = "short";
  ValidationResult result = JsonSchemaAccess::Validate(*schema, event);
  ASSERT_EQ(result.errors().size(), 1u);
  EXPECT_EQ(result.errors()[0].instance_pointer, "/vehicle/vin");
  EXPECT_EQ(result.errors()[0].keyword, "minLength");
}

}  // namespace
}  // namespace weir::schema
