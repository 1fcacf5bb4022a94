// Schema resolution: the cases of the Avro specification (cases/resolution.json).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "schema/avro/avro_test_util.h"
#include "weir/schema/avro.h"

namespace weir::schema {
namespace {

using nlohmann::json;
using testing::MustParse;
using testing::ReadCaseFile;

TEST(AvroResolutionTest, SpecificationCases) {
  json cases = json::parse(ReadCaseFile("resolution.json"));
  ASSERT_GT(cases.size(), 20u);
  for (const json& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    AvroSchema writer = MustParse(c["writer"]);
    AvroSchema reader = MustParse(c["reader"]);
    auto value = JsonToAvro(writer, c["datum"].dump(), AvroJsonMode::kAvro);
    ASSERT_TRUE(value.ok()) << value.status().ToString();
    auto bytes = EncodeBinary(writer, *value);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto resolved = DecodeResolved(writer, reader, *bytes);
    // A datum fails only where the schemas are incompatible, so the static
    // check must find the same problem (and may find more, see static_error).
    Status readable = CheckReadable(writer, reader);
    if (c.contains("static_error")) {
      EXPECT_NE(readable.message().find(c["static_error"].get<std::string>()), std::string::npos)
          << readable.ToString();
    } else {
      EXPECT_EQ(readable.ok(), !c.contains("error")) << readable.ToString();
    }
    if (c.contains("error")) {
      // The same problem, minus the datum-specific "at <path>: " prefix.
      std::string expected = c["error"].get<std::string>();
      if (expected.rfind("at ", 0) == 0) expected = expected.substr(3);
      if (size_t colon = expected.find(": "); colon != std::string::npos) {
        expected = expected.substr(colon + 2);
      }
      EXPECT_NE(readable.message().find(expected), std::string::npos) << readable.message();
      ASSERT_FALSE(resolved.ok());
      EXPECT_NE(resolved.status().message().find(c["error"].get<std::string>()), std::string::npos)
          << resolved.status().message();
      continue;
    }
    ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
    auto out = AvroToJson(reader, *resolved, AvroJsonMode::kAvro);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(json::parse(*out), c["expect"]);
    // The resolved value is a valid datum of the reader schema.
    EXPECT_TRUE(EncodeBinary(reader, *resolved).ok());
  }
}

TEST(AvroResolutionTest, CheckReadableListsEveryProblemAndHandlesRecursion) {
  auto writer = AvroSchema::Parse(R"({"type":"record","name":"N","fields":[
      {"name":"v","type":"long"},{"name":"next","type":["null","N"]},
      {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}}]})");
  auto reader = AvroSchema::Parse(R"({"type":"record","name":"N","fields":[
      {"name":"v","type":"int"},{"name":"next","type":["null","N"]},{"name":"w","type":"int"},
      {"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}}]})");
  ASSERT_TRUE(writer.ok() && reader.ok());
  Status s = CheckReadable(*writer, *reader);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("N.v: writer's long cannot be read as int"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("N.w: the writer's N lacks the field"), std::string::npos);
  EXPECT_NE(s.message().find("N.e: symbol \"B\" is not in the reader's enum E"), std::string::npos);
  EXPECT_TRUE(CheckReadable(*writer, *writer).ok());
}

}  // namespace
}  // namespace weir::schema
