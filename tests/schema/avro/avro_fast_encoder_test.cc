// AvroJsonFastEncoder must agree with the exact path (JsonToAvro in plain mode
// + EncodeBinary): whenever it encodes, the exact path accepts the event and
// writes the same bytes. Checked on the example schemas and on a schema with
// every type, over thousands of random mutations of valid events.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "schema/avro/json_fast_encoder.h"
#include "support/test_support.h"

namespace weir::schema {
namespace {

using nlohmann::ordered_json;

struct Counts {
  int fast = 0;
  int exact_ok = 0;
  int total = 0;
};

void CheckAgreement(const AvroSchema& schema, const AvroJsonFastEncoder& fast,
                    simdjson::dom::parser& parser, const std::string& text, Counts* counts) {
  ++counts->total;
  auto exact_value = JsonToAvro(schema, text, AvroJsonMode::kPlain);
  Result<std::string> exact = exact_value.ok() ? EncodeBinary(schema, *exact_value)
                                               : Result<std::string>(exact_value.status());
  counts->exact_ok += exact.ok() ? 1 : 0;
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc) != simdjson::SUCCESS) return;  // the exact path decides
  std::string out;
  if (!fast.Encode(doc, &out)) return;
  ++counts->fast;
  ASSERT_TRUE(exact.ok()) << "the fast path accepted what the exact path refuses: " << text << "\n"
                          << exact.status().ToString();
  ASSERT_EQ(out, *exact) << text;
}

// Random JSON values of every kind, including the ambiguous ones.
const std::vector<std::string>& Candidates() {
  static const std::vector<std::string> kValues = {"null",
                                                   "true",
                                                   "false",
                                                   "0",
                                                   "-1",
                                                   "27",
                                                   "2147483647",
                                                   "2147483648",
                                                   "-2147483649",
                                                   "9223372036854775807",
                                                   "9223372036854775808",
                                                   "18446744073709551616",
                                                   "-0",
                                                   "1e2",
                                                   "3.0",
                                                   "1.5",
                                                   "-2.25e-3",
                                                   "\"NaN\"",
                                                   "\"Infinity\"",
                                                   "\"x\"",
                                                   "\"\"",
                                                   "\"GREEN\"",
                                                   "\"BLUE\"",
                                                   "\"0f8fad5b-d9cb-469f-a165-70867728950e\"",
                                                   "\"2024-01-02\"",
                                                   "\"12:34:56.789\"",
                                                   "\"2024-01-02T03:04:05.123Z\"",
                                                   "\"12.50\"",
                                                   "\"abcd\"",
                                                   "\"\\u00e9\\n\"",
                                                   "[]",
                                                   "[1, 2]",
                                                   "[\"a\"]",
                                                   "{}",
                                                   "{\"x\": 1}",
                                                   "{\"x\": 1, \"tags\": []}",
                                                   "{\"v\": 1, \"next\": null}",
                                                   "{\"k\": \"v\"}"};
  return kValues;
}

// Picks a random object or array inside |j| (possibly |j| itself).
ordered_json* RandomContainer(ordered_json* j, std::mt19937& rng) {
  ordered_json* cur = j;
  for (int steps = 0; steps < 4; ++steps) {
    std::vector<ordered_json*> kids;
    for (auto& v : *cur) {
      if (v.is_object() || v.is_array()) kids.push_back(&v);
    }
    if (kids.empty() || rng() % 3 == 0) break;
    cur = kids[rng() % kids.size()];
  }
  return cur;
}

std::string Mutate(const ordered_json& base, std::mt19937& rng) {
  ordered_json j = base;
  const int edits = 1 + static_cast<int>(rng() % 3);
  for (int e = 0; e < edits; ++e) {
    ordered_json* c = RandomContainer(&j, rng);
    const auto& cand = Candidates();
    ordered_json value = ordered_json::parse(cand[rng() % cand.size()]);
    if (c->is_object()) {
      const int op = static_cast<int>(rng() % 4);
      if (c->empty() || op == 0) {
        (*c)[rng() % 2 == 0 ? "unknown" : "x"] = value;
      } else {
        auto it = c->begin();
        std::advance(it, static_cast<long>(rng() % c->size()));
        if (op == 1) {
          c->erase(it.key());
        } else {
          it.value() = value;
        }
      }
    } else if (c->is_array()) {
      if (c->empty() || rng() % 2 == 0) {
        c->push_back(value);
      } else {
        (*c)[rng() % c->size()] = value;
      }
    }
  }
  std::string text = j.dump();
  if (rng() % 20 == 0) {
    // A duplicated key: nlohmann keeps the last, simdjson finds the first.
    const size_t colon = text.find("\":");
    const size_t start = text.rfind('"', colon - 1);
    if (colon != std::string::npos && start != std::string::npos && text[0] == '{') {
      text.insert(1, text.substr(start, colon + 2 - start) + "null,");
    }
  }
  return text;
}

void Fuzz(const std::string& schema_text, const std::vector<std::string>& plain_samples,
          Counts* counts) {
  auto schema = AvroSchema::Parse(schema_text);
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  AvroJsonFastEncoder fast(*schema);
  simdjson::dom::parser parser;
  std::mt19937 rng(20261123);
  for (const std::string& sample : plain_samples) {
    CheckAgreement(*schema, fast, parser, sample, counts);
    const ordered_json base = ordered_json::parse(sample);
    for (int i = 0; i < 5000 && !::testing::Test::HasFatalFailure(); ++i) {
      CheckAgreement(*schema, fast, parser, Mutate(base, rng), counts);
    }
  }
}

TEST(AvroFastEncoderTest, AgreesWithTheExactPathOnPlateEvents) {
  const std::string schema =
      testing::ReadFile(testing::SourcePath("examples/alpr/schemas/plate_event.avsc"));
  const std::string sample =
      testing::ReadFile(testing::SourcePath("examples/alpr/schemas/samples/PlateEvent.json"));
  auto parsed = AvroSchema::Parse(schema);
  ASSERT_TRUE(parsed.ok());
  AvroJsonFastEncoder fast(*parsed);
  simdjson::dom::parser parser;
  std::string out;
  ASSERT_TRUE(fast.Encode(parser.parse(sample).value(), &out)) << "the sample takes the fast path";
  Counts counts;
  Fuzz(schema, {sample}, &counts);
  EXPECT_GT(counts.fast, 100) << "mutations that still encode take the fast path";
  EXPECT_LT(counts.exact_ok, counts.total) << "the mutations include refused events";
}

TEST(AvroFastEncoderTest, AgreesWithTheExactPathOnEveryType) {
  const std::string schema_text =
      testing::ReadFile(testing::SourcePath("tests/schema/avro/cases/everything.avsc"));
  auto schema = AvroSchema::Parse(schema_text);
  ASSERT_TRUE(schema.ok());
  // The cases are in the Avro JSON encoding; turn them into plain JSON.
  std::vector<std::string> samples;
  for (const char* name : {"everything.1.json", "everything.2.json"}) {
    auto v = JsonToAvro(
        *schema,
        testing::ReadFile(testing::SourcePath(std::string("tests/schema/avro/cases/") + name)),
        AvroJsonMode::kAvro);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    auto plain = AvroToJson(*schema, *v, AvroJsonMode::kPlain);
    ASSERT_TRUE(plain.ok());
    samples.push_back(*plain);
  }
  Counts counts;
  Fuzz(schema_text, samples, &counts);
  EXPECT_GT(counts.exact_ok, 0);
}

TEST(AvroFastEncoderTest, DefaultsAndUnionsTakeTheFastPath) {
  const std::string schema_text = R"({"type": "record", "name": "R", "fields": [
    {"name": "a", "type": "int"},
    {"name": "b", "type": ["null", "string"], "default": null},
    {"name": "c", "type": {"type": "map", "values": "long"}, "default": {"z": 1, "a": 2}},
    {"name": "d", "type": ["int", "string", {"type": "array", "items": "double"}]}]})";
  auto schema = AvroSchema::Parse(schema_text);
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  AvroJsonFastEncoder fast(*schema);
  simdjson::dom::parser parser;
  Counts counts;
  for (const char* text :
       {R"({"a": 1, "d": 5})", R"({"a": 1, "b": "x", "d": "s"})", R"({"a": 1, "d": [1, 2.5]})",
        R"({"a": 1, "c": {"y": 3, "b": 4}, "d": 1})", R"({"a": 1, "d": true})",
        R"({"a": 1, "b": 3, "d": 1})"}) {
    CheckAgreement(*schema, fast, parser, text, &counts);
  }
  EXPECT_EQ(counts.exact_ok, 4);
  EXPECT_EQ(counts.fast, 4);
}

}  // namespace
}  // namespace weir::schema
