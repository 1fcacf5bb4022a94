// Every schema of the seed systems (examples/*/schemas) is valid for weir's
// own codecs, and each sample event in examples/*/schemas/samples passes it:
// Avro schemas round-trip their sample through JSON -> binary -> JSON, JSON
// Schemas validate theirs. A sample with a required field removed fails,
// naming the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "weir/schema/avro.h"
#include "weir/schema/json_schema.h"

namespace weir::schema {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> Files(const std::string& system, const std::string& suffix) {
  std::vector<fs::path> out;
  fs::path dir = testing::SourcePath("examples/" + system + "/schemas");
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().string().ends_with(suffix)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The sample without its top-level |field|.
std::pair<std::string, std::string> WithoutAField(const std::string& sample,
                                                  const std::string& field) {
  nlohmann::json j = nlohmann::json::parse(sample);
  j.erase(field);
  return {j.dump(), field};
}

TEST(ExampleSchemas, AlprAvroSchemasRoundTripTheirSamples) {
  auto files = Files("alpr", ".avsc");
  ASSERT_EQ(files.size(), 5u);
  for (const fs::path& path : files) {
    SCOPED_TRACE(path.string());
    auto schema = AvroSchema::Parse(testing::ReadFile(path.string()));
    ASSERT_TRUE(schema.ok()) << schema.status().ToString();
    std::string name = nlohmann::json::parse(testing::ReadFile(path.string()))["name"];
    fs::path sample_path = path.parent_path() / "samples" / (name + ".json");
    std::string sample = testing::ReadFile(sample_path.string());
    ASSERT_FALSE(sample.empty()) << sample_path;

    auto value = JsonToAvro(*schema, sample);
    ASSERT_TRUE(value.ok()) << value.status().ToString();
    auto bytes = EncodeBinary(*schema, *value);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto framed = WrapConfluent(7, *bytes);
    auto frame = UnwrapConfluent(framed);
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    EXPECT_EQ(frame->schema_id, 7);
    auto decoded = DecodeBinary(*schema, frame->payload);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_TRUE(*decoded == *value) << "binary round trip changed the value";
    auto json = AvroToJson(*schema, *decoded);
    ASSERT_TRUE(json.ok()) << json.status().ToString();
    auto again = JsonToAvro(*schema, *json);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_TRUE(*again == *value) << "JSON round trip changed the value: " << *json;

    // A missing field without a default is an error that names it.
    std::string first_field =
        nlohmann::json::parse(testing::ReadFile(path.string()))["fields"][0]["name"]
            .get<std::string>();
    auto [broken, field] = WithoutAField(sample, first_field);
    auto refused = JsonToAvro(*schema, broken);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find(field), std::string::npos)
        << refused.status().ToString();
  }
}

// Maps the examples' "$id" base to their folder, so relative "$ref"s
// between the schemas of one system resolve from disk.
JsonSchemaResolver ExampleResolver(const std::string& system) {
  return [system](const std::string& uri) -> Result<std::string> {
    const std::string base = "https://weir.dev/examples/" + system + "/";
    if (!uri.starts_with(base)) return Status::NotFound("not an example schema: " + uri);
    fs::path path =
        testing::SourcePath("examples/" + system + "/schemas/" + uri.substr(base.size()));
    if (!fs::exists(path)) return Status::NotFound(path.string());
    return testing::ReadFile(path.string());
  };
}

TEST(ExampleSchemas, JsonSchemasValidateTheirSamples) {
  size_t checked = 0;
  for (const std::string system : {"fleetops", "deeplens", "activity-logs"}) {
    for (const fs::path& path : Files(system, ".schema.json")) {
      SCOPED_TRACE(path.string());
      JsonSchemaOptions options;
      options.resolver = ExampleResolver(system);
      auto schema = JsonSchema::Parse(testing::ReadFile(path.string()), options);
      ASSERT_TRUE(schema.ok()) << schema.status().ToString();
      std::string stem = path.filename().string();
      stem = stem.substr(0, stem.size() - std::string(".schema.json").size());
      std::string sample =
          testing::ReadFile((path.parent_path() / "samples" / (stem + ".json")).string());
      ASSERT_FALSE(sample.empty()) << stem;
      ValidationResult ok = schema->Validate(sample);
      EXPECT_TRUE(ok.ok()) << ok.ToStatus().ToString();

      nlohmann::json doc = nlohmann::json::parse(testing::ReadFile(path.string()));
      ASSERT_TRUE(doc.contains("required")) << "every example schema lists required fields";
      std::string field = doc["required"][0].get<std::string>();
      auto [broken, name] = WithoutAField(sample, field);
      ValidationResult bad = schema->Validate(broken);
      ASSERT_FALSE(bad.ok()) << "removing " << name << " must fail";
      bool named = false;
      for (const ValidationError& e : bad.errors()) {
        named |= e.keyword == "required" && e.message.find(name) != std::string::npos;
      }
      EXPECT_TRUE(named) << bad.ToStatus().ToString();
      ++checked;
    }
  }
  EXPECT_EQ(checked, 12u);
}

}  // namespace
}  // namespace weir::schema
