// Binary encoding: table-driven cases (cases/binary.json), hostile input
// (cases/hostile.json) and the Confluent framing.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "schema/avro/avro_test_util.h"
#include "weir/schema/avro.h"

namespace weir::schema {
namespace {

using nlohmann::json;
using testing::FromHex;
using testing::MustParse;
using testing::ReadCaseFile;
using testing::ToHex;

TEST(AvroBinaryTest, EncodesAndDecodesTableCases) {
  json cases = json::parse(ReadCaseFile("binary.json"));
  ASSERT_GT(cases.size(), 20u);
  for (const json& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    AvroSchema schema = MustParse(c["schema"]);
    auto value = JsonToAvro(schema, c["datum"].dump(), AvroJsonMode::kAvro);
    ASSERT_TRUE(value.ok()) << value.status().ToString();
    auto bytes = EncodeBinary(schema, *value);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    EXPECT_EQ(ToHex(*bytes), c["hex"].get<std::string>());
    auto decoded = DecodeBinary(schema, FromHex(c["hex"].get<std::string>()));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, *value);
    auto back = AvroToJson(schema, *decoded, AvroJsonMode::kAvro);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(json::parse(*back), c["datum"]);
  }
}

TEST(AvroBinaryTest, HostileInputIsAClearError) {
  json cases = json::parse(ReadCaseFile("hostile.json"));
  ASSERT_GT(cases.size(), 20u);
  for (const json& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    AvroSchema schema = MustParse(c["schema"]);
    auto decoded = DecodeBinary(schema, FromHex(c["hex"].get<std::string>()));
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
    EXPECT_NE(decoded.status().message().find(c["error"].get<std::string>()), std::string::npos)
        << decoded.status().message();
    EXPECT_NE(decoded.status().message().find("at byte "), std::string::npos);
  }
}

TEST(AvroBinaryTest, EveryTruncationAndMutationIsHandled) {
  AvroSchema schema = *AvroSchema::Parse(ReadCaseFile("everything.avsc"));
  auto value = JsonToAvro(schema, ReadCaseFile("everything.1.json"), AvroJsonMode::kAvro);
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  const std::string good = *EncodeBinary(schema, *value);
  for (size_t n = 0; n < good.size(); ++n) {
    auto decoded = DecodeBinary(schema, std::string_view(good).substr(0, n));
    ASSERT_FALSE(decoded.ok()) << "prefix of " << n << " bytes";
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  }
  // Deterministic pseudo-random byte changes: errors or values, never a crash.
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int failures = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string bytes = good;
    for (int k = 0, changes = 1 + static_cast<int>(next() % 4); k < changes; ++k) {
      bytes[next() % bytes.size()] = static_cast<char>(next() & 0xff);
    }
    auto decoded = DecodeBinary(schema, bytes);
    if (!decoded.ok()) {
      ++failures;
      EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
    } else {
      // What decodes must encode again.
      EXPECT_TRUE(EncodeBinary(schema, *decoded).ok());
    }
  }
  EXPECT_GT(failures, 0);
  // Pure garbage.
  for (int round = 0; round < 5000; ++round) {
    std::string bytes(next() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(next() & 0xff);
    auto decoded = DecodeBinary(schema, bytes);
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
    }
  }
}

TEST(AvroBinaryTest, DeepRecursionIsCapped) {
  AvroSchema schema = *AvroSchema::Parse(
      R"({"type":"record","name":"N","fields":[{"name":"next","type":["null","N"]}]})");
  std::string deep(1000, '\x02');
  deep.push_back('\0');
  auto decoded = DecodeBinary(schema, deep);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("nesting deeper than 64"), std::string::npos)
      << decoded.status().message();
  // Within the limit, it decodes.
  std::string shallow(10, '\x02');
  shallow.push_back('\0');
  EXPECT_TRUE(DecodeBinary(schema, shallow).ok());
}

TEST(AvroBinaryTest, TrailingBytesCanBeAllowed) {
  AvroSchema schema = *AvroSchema::Parse(R"("int")");
  AvroDecodeOptions options;
  options.allow_trailing_bytes = true;
  auto decoded = DecodeBinary(schema, std::string("\x02\x00", 2), options);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->get<int32_t>(), 1);
}

TEST(AvroBinaryTest, NegativeBlockCountsAreRead) {
  AvroSchema schema = *AvroSchema::Parse(R"({"type":"array","items":"long"})");
  // Block of -2 items with a byte size of 2, then the end.
  auto decoded = DecodeBinary(schema, FromHex("0304063600"));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->get<AvroArray>().items.size(), 2u);
  EXPECT_EQ(decoded->get<AvroArray>().items[1].get<int64_t>(), 27);
}

TEST(AvroBinaryTest, EncodeErrorsNameThePath) {
  AvroSchema schema = *AvroSchema::Parse(
      R"({"type":"record","name":"PlateEvent","fields":[{"name":"vehicle","type":
          {"type":"record","name":"Vehicle","fields":[{"name":"colour","type":"string"}]}}]})");
  AvroRecord vehicle;
  vehicle.fields.emplace_back("colour", AvroValue(int32_t{3}));
  AvroRecord event;
  event.fields.emplace_back("vehicle", AvroValue(std::move(vehicle)));
  auto bytes = EncodeBinary(schema, AvroValue(std::move(event)));
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().message(),
            "avro encode: at PlateEvent.vehicle.colour: schema wants string, the value is int");
}

TEST(AvroBinaryTest, DecodeResolvedReadsOldDataWithNewSchema) {
  AvroSchema writer =
      *AvroSchema::Parse(R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})");
  AvroSchema reader = *AvroSchema::Parse(
      R"({"type":"record","name":"R","fields":[{"name":"a","type":"long"},
          {"name":"b","type":"string","default":"none"}]})");
  auto v = DecodeResolved(writer, reader, FromHex("36"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*AvroToJson(reader, *v), R"({"a":27,"b":"none"})");
}

TEST(AvroConfluentTest, WrapsAndUnwraps) {
  std::string framed = WrapConfluent(0x01020304, "payload");
  EXPECT_EQ(ToHex(framed.substr(0, 5)), "0001020304");
  auto frame = UnwrapConfluent(framed);
  ASSERT_TRUE(frame.ok());
  EXPECT_EQ(frame->schema_id, 0x01020304);
  EXPECT_EQ(frame->payload, "payload");
  EXPECT_EQ(UnwrapConfluent(WrapConfluent(7, ""))->payload, "");
}

TEST(AvroConfluentTest, RejectsShortInputAndWrongMagic) {
  auto short_input = UnwrapConfluent(std::string("\0\0\0", 3));
  ASSERT_FALSE(short_input.ok());
  EXPECT_EQ(short_input.status().code(), StatusCode::kCorruption);
  EXPECT_NE(short_input.status().message().find("3 bytes is shorter than the 5-byte header"),
            std::string::npos);
  auto wrong_magic = UnwrapConfluent(std::string("\x01\x00\x00\x00\x01rest", 9));
  ASSERT_FALSE(wrong_magic.ok());
  EXPECT_NE(wrong_magic.status().message().find("magic byte is 1, expected 0"), std::string::npos);
}

}  // namespace
}  // namespace weir::schema
