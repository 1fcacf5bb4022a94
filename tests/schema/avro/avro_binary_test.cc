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

// Hostile inputs at the edges of the wire format: lengths and counts near
// INT64_MAX and INT64_MIN, negative lengths, union and enum indexes out of
// range or beyond 32 bits, truncation inside nested values. Each is a
// Corruption naming the byte offset and the field path, before any allocation
// sized by the declared length.
TEST(AvroBinaryTest, ExtremeLengthsCountsAndIndexesAreClearErrors) {
  struct Case {
    const char* name;
    const char* schema;
    const char* hex;
    const char* error;
  };
  const Case cases[] = {
      {"string length INT64_MAX", R"("string")", "feffffffffffffffff01",
       "at byte 0: string length 9223372036854775807 exceeds the 0 bytes remaining"},
      {"bytes length INT64_MAX", R"("bytes")", "feffffffffffffffff0141",
       "at byte 0: bytes length 9223372036854775807 exceeds the 1 bytes remaining"},
      {"negative string length", R"("string")", "09", "at byte 0: negative string length -5"},
      {"map key length INT64_MAX", R"({"type":"map","values":"int"})", "02feffffffffffffffff01",
       "at byte 1: map key length 9223372036854775807 exceeds the 0 bytes remaining"},
      {"negative map key length", R"({"type":"map","values":"int"})", "0201",
       "at byte 1: negative map key length -1"},
      {"array block count INT64_MAX", R"({"type":"array","items":"long"})", "feffffffffffffffff01",
       "at byte 0: array block declares 9223372036854775807 items, only 0 bytes remain"},
      {"map block count INT64_MAX", R"({"type":"map","values":"int"})", "feffffffffffffffff01",
       "at byte 0: map block declares 9223372036854775807 items, only 0 bytes remain"},
      {"array of nulls, block count INT64_MAX", R"({"type":"array","items":"null"})",
       "feffffffffffffffff01",
       "at byte 0: block of 9223372036854775807 items exceeds the limit of 1048576 items"},
      {"block count INT64_MIN", R"({"type":"array","items":"long"})", "ffffffffffffffffff01",
       "at byte 0: block count out of range"},
      {"block count -INT64_MAX, byte size INT64_MAX", R"({"type":"array","items":"long"})",
       "fdffffffffffffffff01feffffffffffffffff01",
       "at byte 0: block byte size 9223372036854775807 invalid"},
      {"block count -INT64_MAX, small byte size", R"({"type":"array","items":"long"})",
       "fdffffffffffffffff010200",
       "at byte 0: array block declares 9223372036854775807 items, only 1 bytes remain"},
      {"negative block byte size", R"({"type":"map","values":"int"})", "0301",
       "at byte 0: block byte size -1 invalid"},
      {"negative enum index", R"({"type":"enum","name":"E","symbols":["A","B"]})", "01",
       "at byte 0: enum index -1 out of range (enum E has 2 symbols)"},
      {"enum index beyond 32 bits", R"({"type":"enum","name":"E","symbols":["A","B"]})",
       "8080808010", "at byte 0: enum index 2147483648 out of range"},
      {"union index INT64_MAX", R"(["null","int"])", "feffffffffffffffff01",
       "at byte 0: union index 9223372036854775807 out of range (union has 2 branches)"},
      {"union index INT64_MIN", R"(["null","int"])", "ffffffffffffffffff01",
       "at byte 0: union index -9223372036854775808 out of range"},
      {"union index beyond 32 bits", R"(["null","int"])", "8080808010",
       "at byte 0: union index 2147483648 out of range"},
      {"truncated nested record",
       R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},
           {"name":"b","type":{"type":"record","name":"S","fields":[
             {"name":"c","type":"string"}]}}]})",
       "02", "at byte 1: truncated: string length expected (field path R.b.c)"},
      {"truncated union value", R"(["null","long"])", "02", "at byte 1: truncated: long expected"},
      {"truncated array item", R"({"type":"array","items":"string"})", "040241",
       "at byte 3: truncated: string length expected (field path $[1])"},
      {"truncated float", R"("float")", "0000", "at byte 0: truncated: float needs 4 bytes"},
      {"unterminated map", R"({"type":"map","values":"int"})", "02026b02",
       "at byte 4: truncated: block count expected (field path $)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto schema = AvroSchema::Parse(c.schema);
    ASSERT_TRUE(schema.ok()) << schema.status().ToString();
    auto decoded = DecodeBinary(*schema, FromHex(c.hex));
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
    EXPECT_NE(decoded.status().message().find(c.error), std::string::npos)
        << decoded.status().message();
    EXPECT_NE(decoded.status().message().find("(field path "), std::string::npos)
        << decoded.status().message();
  }
}

// Regression (found by avro_decode_fuzzer): items that take no bytes (null,
// empty records, zero-size fixed, records of such) were charged once each
// against the item budget, whatever they decode to, so a few bytes declaring
// a million such records made the decoder allocate a million records of
// several values each. Each item is now charged for every value in it.
TEST(AvroBinaryTest, ZeroByteItemsAreChargedForEveryValue) {
  AvroSchema schema = *AvroSchema::Parse(
      R"({"type":"array","items":{"type":"record","name":"Marker","fields":[
          {"name":"a","type":"null"},
          {"name":"b","type":{"type":"record","name":"Empty","fields":[]}},
          {"name":"c","type":{"type":"fixed","name":"Zero","size":0}}]}})");
  AvroDecodeOptions options;
  options.max_items = 1000;  // each Marker is 4 values: itself, a, b and c
  auto fits = DecodeBinary(schema, FromHex("f40300"), options);  // 250 items
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(fits->get<AvroArray>().items.size(), 250u);
  auto too_many = DecodeBinary(schema, FromHex("f60300"), options);  // 251 items
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), StatusCode::kCorruption);
  EXPECT_NE(too_many.status().message().find(
                "at byte 0: block of 251 items of 4 values each exceeds the limit of 1000 items"),
            std::string::npos)
      << too_many.status().message();
  // With the default budget: 300000 such records from four bytes.
  auto huge = DecodeBinary(schema, FromHex("c0cf2400"));
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("block of 300000 items of 4 values each"),
            std::string::npos)
      << huge.status().message();
}

// Records whose fields are records that take bytes take bytes too, so a
// block of them cannot outnumber the bytes left.
TEST(AvroBinaryTest, BlockOfNestedRecordsIsCheckedAgainstTheBytesLeft) {
  AvroSchema schema = *AvroSchema::Parse(
      R"({"type":"array","items":{"type":"record","name":"Outer","fields":[
          {"name":"inner","type":{"type":"record","name":"Inner","fields":[
            {"name":"x","type":"int"}]}}]}})");
  auto decoded = DecodeBinary(schema, FromHex("d00f02"));  // 1000 items, 1 byte
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find(
                "at byte 0: array block declares 1000 items, only 1 bytes remain"),
            std::string::npos)
      << decoded.status().message();
}

// Regression: each block reserved room for exactly its own items, so input
// made of many one-item blocks reallocated (and moved every item decoded so
// far) once per block, quadratic in the input size.
TEST(AvroBinaryTest, ManyOneItemBlocksDecode) {
  constexpr int kBlocks = 100000;
  std::string array_bytes;
  std::string map_bytes;
  for (int i = 0; i < kBlocks; ++i) {
    array_bytes += FromHex("0202");    // one item: 1
    map_bytes += FromHex("02026b02");  // one entry: "k" -> 1
  }
  array_bytes.push_back('\0');
  map_bytes.push_back('\0');
  auto array = DecodeBinary(*AvroSchema::Parse(R"({"type":"array","items":"int"})"), array_bytes);
  ASSERT_TRUE(array.ok()) << array.status().ToString();
  EXPECT_EQ(array->get<AvroArray>().items.size(), static_cast<size_t>(kBlocks));
  auto map = DecodeBinary(*AvroSchema::Parse(R"({"type":"map","values":"int"})"), map_bytes);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->get<AvroMap>().entries.size(), static_cast<size_t>(kBlocks));
}

// Regression (found by avro_decode_fuzzer): a decoded map key that is not
// UTF-8 was silently replaced by U+FFFD when the value was written as JSON,
// while a string value that is not UTF-8 is an error. Both are errors now.
TEST(AvroBinaryTest, DecodedMapKeyThatIsNotUtf8IsAJsonError) {
  AvroSchema schema = *AvroSchema::Parse(R"({"type":"map","values":"int"})");
  auto decoded = DecodeBinary(schema, FromHex("0202ff0200"));  // {"\xff": 1}
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  for (AvroJsonMode mode : {AvroJsonMode::kAvro, AvroJsonMode::kPlain}) {
    auto json_text = AvroToJson(schema, *decoded, mode);
    ASSERT_FALSE(json_text.ok()) << *json_text;
    EXPECT_EQ(json_text.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(json_text.status().message(), "avro json: at $: map key is not valid UTF-8");
  }
}

// Regression (found by avro_decode_fuzzer): strings were checked for the
// shape of UTF-8 only, so overlong forms, surrogates and code points above
// U+10FFFF passed and the JSON writer then replaced them with U+FFFD, changing
// the data silently. They are errors now; well-formed text still converts.
TEST(AvroBinaryTest, DecodedStringThatIsNotWellFormedUtf8IsAJsonError) {
  AvroSchema schema = *AvroSchema::Parse(R"("string")");
  for (const char* hex : {"04c082", "06eda080", "08f4908080", "04e282", "0280"}) {
    SCOPED_TRACE(hex);
    auto decoded = DecodeBinary(schema, FromHex(hex));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    auto json_text = AvroToJson(schema, *decoded, AvroJsonMode::kAvro);
    ASSERT_FALSE(json_text.ok()) << *json_text;
    EXPECT_EQ(json_text.status().message(), "avro json: at $: string is not valid UTF-8");
  }
  // "é€😀" and U+10FFFF.
  for (const char* hex : {"12c3a9e282acf09f9880", "08f48fbfbf"}) {
    SCOPED_TRACE(hex);
    auto decoded = DecodeBinary(schema, FromHex(hex));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    auto json_text = AvroToJson(schema, *decoded, AvroJsonMode::kAvro);
    ASSERT_TRUE(json_text.ok()) << json_text.status().ToString();
    EXPECT_EQ(*json_text, "\"" + decoded->get<std::string>() + "\"");
  }
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

TEST(AvroConfluentTest, HostileFramesAreClearErrors) {
  struct Case {
    std::string bytes;
    const char* error;
  };
  const Case cases[] = {
      {"", "at byte 0: 0 bytes is shorter than the 5-byte header"},
      {std::string(1, '\xff'), "at byte 0: 1 bytes is shorter than the 5-byte header"},
      {std::string(4, '\0'), "at byte 0: 4 bytes is shorter than the 5-byte header"},
      {R"({"plate":"AB12CDE"})", "at byte 0: magic byte is 123, expected 0"},
      {std::string("\xff\x00\x00\x00\x01\x02", 6), "at byte 0: magic byte is 255, expected 0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(ToHex(c.bytes));
    auto frame = UnwrapConfluent(c.bytes);
    ASSERT_FALSE(frame.ok());
    EXPECT_EQ(frame.status().code(), StatusCode::kCorruption);
    EXPECT_NE(frame.status().message().find(c.error), std::string::npos)
        << frame.status().message();
  }
  // A header without a datum unwraps; decoding the empty payload then fails
  // at the payload's first byte.
  auto frame = UnwrapConfluent(std::string("\0\0\0\0\x07", 5));
  ASSERT_TRUE(frame.ok());
  EXPECT_EQ(frame->schema_id, 7);
  auto decoded = DecodeBinary(*AvroSchema::Parse(R"("int")"), frame->payload);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("at byte 0: truncated: int expected"),
            std::string::npos);
}

}  // namespace
}  // namespace weir::schema
