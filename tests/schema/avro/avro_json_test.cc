// JSON <-> Avro: the Avro JSON encoding and weir's plain JSON.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "schema/avro/avro_test_util.h"
#include "weir/schema/avro.h"

namespace weir::schema {
namespace {

using nlohmann::json;
using testing::ReadCaseFile;
using testing::ToHex;

AvroSchema Schema(std::string_view text) {
  auto s = AvroSchema::Parse(text);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : *AvroSchema::Parse("\"null\"");
}

// Plain JSON in -> plain JSON out.
std::string PlainRoundTrip(const AvroSchema& schema, std::string_view in) {
  auto v = JsonToAvro(schema, in);
  if (!v.ok()) return "ERROR " + v.status().message();
  auto bytes = EncodeBinary(schema, *v);
  if (!bytes.ok()) return "ENCODE ERROR " + bytes.status().message();
  auto decoded = DecodeBinary(schema, *bytes);
  if (!decoded.ok()) return "DECODE ERROR " + decoded.status().message();
  auto out = AvroToJson(schema, *decoded);
  return out.ok() ? *out : "ERROR " + out.status().message();
}

TEST(AvroJsonTest, AvroEncodingRoundTripsEveryType) {
  AvroSchema schema = Schema(ReadCaseFile("everything.avsc"));
  for (const char* file : {"everything.1.json", "everything.2.json"}) {
    SCOPED_TRACE(file);
    std::string text = ReadCaseFile(file);
    auto v = JsonToAvro(schema, text, AvroJsonMode::kAvro);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    auto out = AvroToJson(schema, *v, AvroJsonMode::kAvro);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(json::parse(*out), json::parse(text));
  }
}

TEST(AvroJsonTest, PlainUnionsPickTheFirstBranchThatAccepts) {
  AvroSchema schema = Schema(R"(["null","int","string",{"type":"record","name":"P","fields":
      [{"name":"x","type":"int"}]},{"type":"array","items":"string"}])");
  EXPECT_EQ(PlainRoundTrip(schema, "null"), "null");
  EXPECT_EQ(PlainRoundTrip(schema, "5"), "5");
  EXPECT_EQ(PlainRoundTrip(schema, "\"s\""), "\"s\"");
  EXPECT_EQ(PlainRoundTrip(schema, R"({"x":1})"), R"({"x":1})");
  EXPECT_EQ(PlainRoundTrip(schema, R"(["a"])"), R"(["a"])");
  auto v = JsonToAvro(schema, "5");
  EXPECT_EQ(v->get<AvroUnion>().branch, 1);
  auto bad = JsonToAvro(schema, "true");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("no branch of union [null, int, string, P, array] "
                                        "accepts a boolean"),
            std::string::npos)
      << bad.status().message();
}

TEST(AvroJsonTest, PlainLogicalTypesInNaturalForm) {
  AvroSchema schema = Schema(R"({"type":"record","name":"L","fields":[
      {"name":"uuid","type":{"type":"string","logicalType":"uuid"}},
      {"name":"date","type":{"type":"int","logicalType":"date"}},
      {"name":"tms","type":{"type":"int","logicalType":"time-millis"}},
      {"name":"tus","type":{"type":"long","logicalType":"time-micros"}},
      {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
      {"name":"tsu","type":{"type":"long","logicalType":"timestamp-micros"}},
      {"name":"lts","type":{"type":"long","logicalType":"local-timestamp-millis"}},
      {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
      {"name":"decf","type":{"type":"fixed","name":"D","size":4,"logicalType":"decimal",
                             "precision":9,"scale":3}}]})");
  EXPECT_EQ(PlainRoundTrip(schema, R"({"uuid":"0f8fad5b-d9cb-469f-a165-70867728950e",
      "date":"2024-01-02","tms":"12:34:56.789","tus":"23:59:59.999999",
      "ts":"2024-01-02T03:04:05.123Z","tsu":"2024-01-02T05:04:05.123456+02:00",
      "lts":"2024-01-02T03:04:05.123","dec":"-123.45","decf":1.5})"),
            R"({"uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","date":"2024-01-02",)"
            R"("tms":"12:34:56.789","tus":"23:59:59.999999","ts":"2024-01-02T03:04:05.123Z",)"
            R"("tsu":"2024-01-02T03:04:05.123456Z","lts":"2024-01-02T03:04:05.123",)"
            R"("dec":"-123.45","decf":"1.500"})");
  // Numbers are accepted for dates and timestamps too.
  EXPECT_EQ(PlainRoundTrip(schema, R"({"uuid":"0f8fad5b-d9cb-469f-a165-70867728950e",
      "date":-1,"tms":0,"tus":0,"ts":-1,"tsu":0,"lts":0,"dec":0,"decf":"-0.001"})"),
            R"({"uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","date":"1969-12-31",)"
            R"("tms":"00:00:00.000","tus":"00:00:00.000000","ts":"1969-12-31T23:59:59.999Z",)"
            R"("tsu":"1970-01-01T00:00:00.000000Z","lts":"1970-01-01T00:00:00.000",)"
            R"("dec":"0.00","decf":"-0.001"})");
}

TEST(AvroJsonTest, DecimalBytesMatchTheSpecification) {
  AvroSchema schema =
      Schema(R"({"type":"bytes","logicalType":"decimal","precision":20,"scale":2})");
  auto bytes = [&](std::string_view text) {
    auto v = JsonToAvro(schema, text);
    return v.ok() ? ToHex(v->get<AvroBytes>().data) : v.status().message();
  };
  EXPECT_EQ(bytes("\"543.21\""), "00d431");
  EXPECT_EQ(bytes("\"-123.45\""), "cfc7");
  EXPECT_EQ(bytes("0"), "00");
  EXPECT_EQ(bytes("\"1e2\""), "2710");
  EXPECT_EQ(bytes("\"123456789012345678.99\""), "00ab54a98ceb1f0adb");
  EXPECT_NE(bytes("\"1.234\"").find("more than 2 digits after the point"), std::string::npos);
  EXPECT_NE(bytes("\"1234567890123456789\"").find("more than 20 significant digits"),
            std::string::npos);
  EXPECT_NE(bytes("\"12a\"").find("unexpected characters"), std::string::npos);
}

TEST(AvroJsonTest, ErrorsNameThePath) {
  AvroSchema schema = Schema(R"({"type":"record","name":"PlateEvent","fields":[
      {"name":"vehicle","type":{"type":"record","name":"Vehicle","fields":[
          {"name":"colour","type":{"type":"enum","name":"Colour","symbols":["RED"]}}]}},
      {"name":"items","type":{"type":"array","items":"int"}},
      {"name":"tags","type":{"type":"map","values":"string"}}]})");
  struct Case {
    const char* json;
    const char* error;
  } cases[] = {
      {R"({"vehicle":{"colour":"PINK"},"items":[],"tags":{}})",
       "at PlateEvent.vehicle.colour: the string \"PINK\" is not a symbol of enum Colour"},
      {R"({"vehicle":{"colour":"RED"},"items":[1,2,3,"x"],"tags":{}})",
       "at PlateEvent.items[3]: expected int, got the string \"x\""},
      {R"({"vehicle":{"colour":"RED"},"items":[],"tags":{"k":1}})",
       "at PlateEvent.tags[\"k\"]: expected string, got the integer 1"},
      {R"({"vehicle":{},"items":[],"tags":{}})",
       "at PlateEvent.vehicle.colour: missing required field"},
      {R"({"vehicle":{"colour":"RED"},"items":[],"tags":{},"extra":1})",
       "at PlateEvent.extra: record PlateEvent has no such field"},
      {R"({"vehicle":{"colour":"RED"},"items":[4294967296],"tags":{}})",
       "at PlateEvent.items[0]: 4294967296 does not fit an int"},
      {"[1", "not valid JSON"},
  };
  for (const Case& c : cases) {
    auto v = JsonToAvro(schema, c.json);
    ASSERT_FALSE(v.ok()) << c.json;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(v.status().message().find(c.error), std::string::npos)
        << c.json << " gave: " << v.status().message();
  }
}

TEST(AvroJsonTest, PlainLogicalErrors) {
  AvroSchema schema = Schema(R"({"type":"record","name":"L","fields":[
      {"name":"u","type":{"type":"string","logicalType":"uuid"},"default":""},
      {"name":"d","type":{"type":"int","logicalType":"date"},"default":0},
      {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"},"default":0}]})");
  auto err = [&](std::string_view text) {
    auto v = JsonToAvro(schema, text);
    return v.ok() ? std::string("ok") : v.status().message();
  };
  EXPECT_NE(err(R"({"u":"not-a-uuid"})").find("at L.u: the string \"not-a-uuid\" is not a UUID"),
            std::string::npos);
  EXPECT_NE(err(R"({"d":"2023-02-30"})").find("at L.d: date must be YYYY-MM-DD"),
            std::string::npos);
  EXPECT_NE(err(R"({"t":"yesterday"})")
                .find("at L.t: the string \"yesterday\" is not a valid "
                      "timestamp"),
            std::string::npos);
  EXPECT_EQ(err(R"({"t":"2024-02-29T00:00:00Z"})"), "ok");
}

TEST(AvroJsonTest, AvroModeUnionsAndBytes) {
  AvroSchema schema = Schema(R"(["null","bytes",{"type":"fixed","name":"ns.F","size":1}])");
  auto v = JsonToAvro(schema, R"({"ns.F":"\u00e9"})", AvroJsonMode::kAvro);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->get<AvroUnion>().branch, 2);
  EXPECT_EQ(v->get<AvroUnion>().value->get<AvroFixed>().data, "\xe9");
  EXPECT_EQ(*AvroToJson(schema, *v, AvroJsonMode::kAvro), R"({"ns.F":"é"})");
  auto bad = JsonToAvro(schema, R"({"bytes":"€"})", AvroJsonMode::kAvro);
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(JsonToAvro(schema, R"("plain")", AvroJsonMode::kAvro).ok());
  // Plain mode: bytes are the UTF-8 of the string; invalid UTF-8 comes back as code points.
  auto plain = JsonToAvro(schema, R"("€")");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->get<AvroUnion>().value->get<AvroBytes>().data, "\xe2\x82\xac");
}

TEST(AvroJsonTest, FloatSpecialValues) {
  AvroSchema schema = Schema(R"({"type":"array","items":"double"})");
  EXPECT_EQ(PlainRoundTrip(schema, R"(["NaN","Infinity","-Infinity",0.5])"),
            R"(["NaN","Infinity","-Infinity",0.5])");
}

}  // namespace
}  // namespace weir::schema
