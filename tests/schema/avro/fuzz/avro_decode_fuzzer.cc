// avro_decode_fuzzer — libFuzzer target for weir's Avro binary decoder, schema
// resolution and the Confluent framing (include/weir/schema/avro.h).
//
// Input layout:
//   byte 0   picks a case: a writer schema and a reader schema (the same schema
//            for the single-schema cases), modulo the number of cases;
//   byte 1   option bits: 1 = small limits (max_depth 6, max_items 32, else
//            the default depth and 4096 items), 2 = allow trailing bytes;
//   the rest is a Confluent-framed message: magic byte 0, 4-byte big-endian
//            schema id, then the Avro binary datum.
//
// Besides "no crash, no sanitizer report, no allocation over -malloc_limit_mb",
// each input checks that
//   - the decoded value has no more values than the input's bytes and the
//     item budget pay for (no memory amplification);
//   - errors have the documented code (Corruption for bad bytes, InvalidArgument
//     for data the reader cannot accept) and name the byte offset;
//   - a framed message that unwraps wraps again to the same bytes;
//   - a datum that decodes re-encodes; the re-encoding is no longer than the
//     input, decodes to the same value (floats bit for bit) and re-encodes to
//     the same bytes;
//   - DecodeResolved fails exactly as DecodeBinary when the bytes are bad,
//     succeeds whenever CheckReadable(writer, reader) is OK, returns the
//     decoded value itself when writer and reader are one schema, and its value
//     round-trips through the reader schema in the same way;
//   - the Avro JSON encoding of a value reads back to the same value, and the
//     plain JSON conversion does not crash.
// A broken property prints what broke and calls abort(); libFuzzer then saves
// the input as a reproducer.
//
// "avro_decode_fuzzer --write-seeds DIR" writes the seed corpus (valid,
// framed encodings of sample datums of every case) to DIR and exits;
// tests/schema/avro/fuzz/corpus/ holds its output.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <variant>
#include <vector>

#include "weir/schema/avro.h"

namespace weir::schema {
namespace {

// One fuzzing case: a writer schema, a reader schema, and datums of the
// writer in the Avro JSON encoding, used only for the seed corpus.
struct FuzzCase {
  const char* name;
  const char* writer;
  const char* reader;  // nullptr: the writer schema
  std::vector<const char*> seeds;
};

// Every Avro type, the logical types, recursive named types (through unions,
// arrays and maps), zero-byte items, and resolution pairs that promote, add,
// drop, rename and fail.
const std::vector<FuzzCase>& Cases() {
  static const auto* cases = new std::vector<FuzzCase>{
      {"everything",
       R"({"type":"record","name":"Everything","namespace":"weir.fuzz","fields":[
          {"name":"n","type":"null"},
          {"name":"b","type":"boolean"},
          {"name":"i","type":"int"},
          {"name":"l","type":"long"},
          {"name":"f","type":"float"},
          {"name":"d","type":"double"},
          {"name":"by","type":"bytes"},
          {"name":"s","type":"string"},
          {"name":"e","type":{"type":"enum","name":"Colour","symbols":["RED","GREEN","BLUE"]}},
          {"name":"fx","type":{"type":"fixed","name":"Hash","size":4}},
          {"name":"a","type":{"type":"array","items":"long"}},
          {"name":"m","type":{"type":"map","values":"string"}},
          {"name":"u","type":["null","string","long"]},
          {"name":"ue","type":["null","Colour"]},
          {"name":"nested","type":{"type":"array","items":{"type":"map","values":
            {"type":"record","name":"Inner","fields":[
              {"name":"x","type":"int"},
              {"name":"tags","type":{"type":"array","items":"string"}}]}}}},
          {"name":"opt","type":["null","Inner"],"default":null}]})",
       nullptr,
       {R"({"n":null,"b":true,"i":-7,"l":1234567890123,"f":1.5,"d":-2.25,"by":"\u0000\u00ff",
            "s":"hello","e":"GREEN","fx":"abcd","a":[1,-2,3],"m":{"k":"v","k2":""},
            "u":{"long":5},"ue":{"weir.fuzz.Colour":"BLUE"},
            "nested":[{"x":{"x":1,"tags":["t"]}}],
            "opt":{"weir.fuzz.Inner":{"x":2,"tags":[]}}})",
        R"({"n":null,"b":false,"i":0,"l":0,"f":0,"d":0,"by":"","s":"","e":"RED",
            "fx":"\u0000\u0000\u0000\u0000","a":[],"m":{},"u":null,"ue":null,"nested":[],
            "opt":null})"}},
      {"logical",
       R"({"type":"record","name":"Logical","namespace":"weir.fuzz","fields":[
          {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
          {"name":"decf","type":{"type":"fixed","name":"Dec8","size":8,"logicalType":"decimal",
                                 "precision":18,"scale":4}},
          {"name":"uuid","type":{"type":"string","logicalType":"uuid"}},
          {"name":"date","type":{"type":"int","logicalType":"date"}},
          {"name":"tms","type":{"type":"int","logicalType":"time-millis"}},
          {"name":"tus","type":{"type":"long","logicalType":"time-micros"}},
          {"name":"tsms","type":{"type":"long","logicalType":"timestamp-millis"}},
          {"name":"tsus","type":{"type":"long","logicalType":"timestamp-micros"}},
          {"name":"ltsms","type":{"type":"long","logicalType":"local-timestamp-millis"}},
          {"name":"ltsus","type":{"type":"long","logicalType":"local-timestamp-micros"}},
          {"name":"dur","type":{"type":"fixed","name":"Dur","size":12,"logicalType":"duration"}},
          {"name":"odate","type":["null",{"type":"int","logicalType":"date"}],"default":null}]})",
       nullptr,
       {R"({"dec":"\u0004\u00d2","decf":"\u0000\u0000\u0000\u0000\u0000\u0000\u0030\u0039",
            "uuid":"123e4567-e89b-12d3-a456-426614174000","date":19000,"tms":3600000,
            "tus":3600000000,"tsms":1700000000000,"tsus":1700000000000000,"ltsms":-1,
            "ltsus":0,"dur":"\u0001\u0000\u0000\u0000\u0002\u0000\u0000\u0000\u0003\u0000\u0000\u0000",
            "odate":{"int":1}})"}},
      {"linked_list",
       R"({"type":"record","name":"Node","namespace":"weir.fuzz","fields":[
          {"name":"value","type":"long"},
          {"name":"next","type":["null","Node"],"default":null}]})",
       nullptr,
       {R"({"value":1,"next":{"weir.fuzz.Node":{"value":2,"next":{"weir.fuzz.Node":
            {"value":3,"next":null}}}}})",
        R"({"value":-1,"next":null})"}},
      {"tree",
       R"({"type":"record","name":"Tree","namespace":"weir.fuzz","fields":[
          {"name":"label","type":"string"},
          {"name":"children","type":{"type":"array","items":"Tree"}},
          {"name":"meta","type":{"type":"map","values":"Tree"}}]})",
       nullptr,
       {R"({"label":"root","children":[{"label":"a","children":[],"meta":{}}],
            "meta":{"m":{"label":"b","children":[],"meta":{}}}})"}},
      {"nested_records",
       R"({"type":"record","name":"Order","namespace":"weir.fuzz","fields":[
          {"name":"id","type":{"type":"string","logicalType":"uuid"}},
          {"name":"customer","type":{"type":"record","name":"Customer","fields":[
            {"name":"name","type":"string"},
            {"name":"address","type":{"type":"record","name":"Address","fields":[
              {"name":"street","type":"string"},
              {"name":"zip","type":["null","int"]}]}}]}},
          {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
            {"name":"sku","type":"string"},
            {"name":"qty","type":"int"},
            {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,
                                    "scale":2}}]}}},
          {"name":"attrs","type":{"type":"map","values":["null","string","double"]}}]})",
       nullptr,
       {R"({"id":"123e4567-e89b-12d3-a456-426614174000",
            "customer":{"name":"Ann","address":{"street":"Main 1","zip":{"int":12345}}},
            "lines":[{"sku":"X1","qty":2,"price":"\u0001\u00f4"}],
            "attrs":{"a":null,"b":{"string":"s"},"c":{"double":0.5}}})"}},
      {"top_level_union",
       R"(["null","boolean","int","long","float","double","bytes","string",
          {"type":"array","items":"int"},{"type":"map","values":"long"},
          {"type":"fixed","name":"F3","size":3},{"type":"enum","name":"E","symbols":["X","Y"]}])",
       nullptr,
       {R"({"int":3})", R"({"map":{"k":1}})", R"({"F3":"abc"})"}},
      {"zero_byte_items",
       R"({"type":"record","name":"Zeros","namespace":"weir.fuzz","fields":[
          {"name":"nulls","type":{"type":"array","items":"null"}},
          {"name":"markers","type":{"type":"array","items":{"type":"record","name":"Marker",
            "fields":[
              {"name":"a","type":"null"},
              {"name":"b","type":{"type":"record","name":"Empty","fields":[]}},
              {"name":"c","type":{"type":"fixed","name":"Zero","size":0}}]}}},
          {"name":"empties","type":{"type":"map","values":"null"}}]})",
       nullptr,
       {R"({"nulls":[null,null,null],"markers":[{"a":null,"b":{},"c":""}],
            "empties":{"k":null}})"}},
      {"deep_containers",
       R"({"type":"array","items":{"type":"array","items":{"type":"map","values":
          {"type":"array","items":"int"}}}})",
       nullptr,
       {R"([[{"k":[1,2]}],[]])"}},
      {"enum",
       R"({"type":"enum","name":"Suit","symbols":["S","H","D","C"],"default":"S"})",
       nullptr,
       {R"("H")"}},
      {"evolve_record",
       R"({"type":"record","name":"Reading","namespace":"weir.fuzz","fields":[
          {"name":"id","type":"int"},
          {"name":"value","type":"float"},
          {"name":"unit","type":"string"},
          {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B","C","D"]}},
          {"name":"tags","type":{"type":"array","items":"int"}},
          {"name":"extra","type":{"type":"map","values":"long"}},
          {"name":"old_name","type":"string"},
          {"name":"note","type":["null","string"]},
          {"name":"gone","type":"long"}]})",
       R"({"type":"record","name":"Reading","namespace":"weir.fuzz","fields":[
          {"name":"id","type":"long"},
          {"name":"value","type":"double"},
          {"name":"unit","type":"bytes"},
          {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B","C"],
                                 "default":"A"}},
          {"name":"tags","type":{"type":"array","items":"double"}},
          {"name":"extra","type":{"type":"map","values":"float"}},
          {"name":"new_name","type":"string","aliases":["old_name"]},
          {"name":"note","type":["null","bytes","string"]},
          {"name":"added","type":["null","int"],"default":null},
          {"name":"added2","type":"string","default":"x"}]})",
       {R"({"id":1,"value":2.5,"unit":"kg","kind":"D","tags":[1,2],"extra":{"x":3},
            "old_name":"n","note":{"string":"hi"},"gone":9})"}},
      {"enum_without_default",
       R"({"type":"enum","name":"Kind","symbols":["A","B","C","D"]})",
       R"({"type":"enum","name":"Kind","symbols":["A","B"]})",
       {R"("A")", R"("D")"}},
      {"int_to_union", R"("int")", R"(["null","long","string"])", {"42"}},
      {"union_promotions",
       R"(["null","int","string","float"])",
       R"(["null","double","bytes"])",
       {R"({"int":1})", R"({"string":"s"})", R"({"float":1.5})", "null"}},
      {"union_to_plain", R"(["null","string"])", R"("string")", {R"({"string":"x"})", "null"}},
      {"linked_list_evolve",
       R"({"type":"record","name":"Node","namespace":"weir.fuzz","fields":[
          {"name":"value","type":"long"},
          {"name":"next","type":["null","Node"],"default":null}]})",
       R"({"type":"record","name":"Node","namespace":"weir.fuzz","fields":[
          {"name":"value","type":"double"},
          {"name":"next","type":["null","Node"],"default":null},
          {"name":"label","type":"string","default":""}]})",
       {R"({"value":1,"next":{"weir.fuzz.Node":{"value":2,"next":null}}})"}},
      {"renamed_record",
       R"({"type":"record","name":"Old","namespace":"weir.fuzz","fields":[
          {"name":"a","type":"int"}]})",
       R"({"type":"record","name":"New","namespace":"weir.fuzz","aliases":["weir.fuzz.Old"],
          "fields":[
          {"name":"a","type":"int"},
          {"name":"b","type":{"type":"array","items":"string"},"default":[]}]})",
       {R"({"a":1})"}},
      {"fixed_size_mismatch",
       R"({"type":"record","name":"R","fields":[
          {"name":"h","type":{"type":"fixed","name":"H","size":4}}]})",
       R"({"type":"record","name":"R","fields":[
          {"name":"h","type":{"type":"fixed","name":"H","size":8}}]})",
       {R"({"h":"abcd"})"}},
      {"missing_default",
       R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})",
       R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},
          {"name":"b","type":"int"}]})",
       {R"({"a":1})"}},
      {"map_values",
       R"({"type":"map","values":["null","int"]})",
       R"({"type":"map","values":["null","long","double"]})",
       {R"({"a":{"int":1},"b":null})"}},
  };
  return *cases;
}

struct ParsedCase {
  const FuzzCase* spec;
  AvroSchema writer;
  AvroSchema reader;
  bool same_schema;  // reader is the writer
  bool readable;     // CheckReadable(writer, reader) is OK
};

[[noreturn]] void Fail(const ParsedCase& c, std::string_view what) {
  std::fprintf(stderr, "avro_decode_fuzzer: case %s: %.*s\n", c.spec->name,
               static_cast<int>(what.size()), what.data());
  std::abort();
}

const std::vector<ParsedCase>& ParsedCases() {
  static const auto* parsed = [] {
    auto* out = new std::vector<ParsedCase>();
    for (const FuzzCase& spec : Cases()) {
      auto writer = AvroSchema::Parse(spec.writer);
      auto reader = AvroSchema::Parse(spec.reader != nullptr ? spec.reader : spec.writer);
      if (!writer.ok() || !reader.ok()) {
        std::fprintf(stderr, "avro_decode_fuzzer: case %s: bad schema: %s %s\n", spec.name,
                     writer.status().ToString().c_str(), reader.status().ToString().c_str());
        std::abort();
      }
      out->push_back(
          {&spec, *writer, *reader, spec.reader == nullptr, CheckReadable(*writer, *reader).ok()});
    }
    return out;
  }();
  return *parsed;
}

bool Contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

// How SameValue compares: exactly (floats bit for bit, so NaN equals itself
// and -0.0 differs from 0.0; map entries in order), or as the Avro JSON
// encoding keeps values (any NaN equals any NaN, map entries in any order).
enum class Compare { kExact, kAsJson };

template <typename F>
bool SameFloat(F a, F b, Compare how) {
  if (how == Compare::kAsJson && a != a && b != b) return true;
  using Bits = std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>;
  Bits x, y;
  std::memcpy(&x, &a, sizeof(F));
  std::memcpy(&y, &b, sizeof(F));
  return x == y;
}

bool SameValue(const AvroValue& a, const AvroValue& b, Compare how);

// Compares named values (record fields, map entries) pairwise.
template <typename Entries>
bool SameEntries(const Entries& x, const Entries& y, Compare how) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].first != y[i].first || !SameValue(x[i].second, y[i].second, how)) return false;
  }
  return true;
}

bool SameValue(const AvroValue& a, const AvroValue& b, Compare how) {
  if (a.storage().index() != b.storage().index()) return false;
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b.storage());
        if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
          return SameFloat(x, y, how);
        } else if constexpr (std::is_same_v<T, AvroRecord>) {
          return SameEntries(x.fields, y.fields, how);
        } else if constexpr (std::is_same_v<T, AvroMap>) {
          if (how == Compare::kExact) return SameEntries(x.entries, y.entries, how);
          auto by_key = [](const auto& p, const auto& q) { return p.first < q.first; };
          auto xs = x.entries;
          auto ys = y.entries;
          std::stable_sort(xs.begin(), xs.end(), by_key);
          std::stable_sort(ys.begin(), ys.end(), by_key);
          return SameEntries(xs, ys, how);
        } else if constexpr (std::is_same_v<T, AvroArray>) {
          if (x.items.size() != y.items.size()) return false;
          for (size_t i = 0; i < x.items.size(); ++i) {
            if (!SameValue(x.items[i], y.items[i], how)) return false;
          }
          return true;
        } else if constexpr (std::is_same_v<T, AvroUnion>) {
          return x.branch == y.branch && SameValue(*x.value, *y.value, how);
        } else {
          return x == y;
        }
      },
      a.storage());
}

// Number of values in the tree |v|.
int64_t CountValues(const AvroValue& v) {
  return std::visit(
      [](const auto& x) -> int64_t {
        using T = std::decay_t<decltype(x)>;
        int64_t n = 1;
        if constexpr (std::is_same_v<T, AvroRecord>) {
          for (const auto& [name, value] : x.fields) n += CountValues(value);
        } else if constexpr (std::is_same_v<T, AvroMap>) {
          for (const auto& [key, value] : x.entries) n += CountValues(value);
        } else if constexpr (std::is_same_v<T, AvroArray>) {
          for (const AvroValue& item : x.items) n += CountValues(item);
        } else if constexpr (std::is_same_v<T, AvroUnion>) {
          n += CountValues(*x.value);
        }
        return n;
      },
      v.storage());
}

// True when some map in |v| has a key twice (the binary encoding allows it,
// a JSON object keeps one of them).
bool HasDuplicateMapKeys(const AvroValue& v) {
  return std::visit(
      [](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, AvroMap>) {
          std::unordered_set<std::string_view> keys;
          for (const auto& [key, value] : x.entries) {
            if (!keys.insert(key).second || HasDuplicateMapKeys(value)) return true;
          }
          return false;
        } else if constexpr (std::is_same_v<T, AvroRecord>) {
          for (const auto& [name, value] : x.fields) {
            if (HasDuplicateMapKeys(value)) return true;
          }
          return false;
        } else if constexpr (std::is_same_v<T, AvroArray>) {
          for (const AvroValue& item : x.items) {
            if (HasDuplicateMapKeys(item)) return true;
          }
          return false;
        } else if constexpr (std::is_same_v<T, AvroUnion>) {
          return HasDuplicateMapKeys(*x.value);
        } else {
          return false;
        }
      },
      v.storage());
}

// Checks that |value|, a datum of |schema| decoded from |input| with
// |options|, survives binary and JSON round trips.
void CheckRoundTrips(const ParsedCase& c, const AvroSchema& schema, const AvroValue& value,
                     std::string_view input, const AvroDecodeOptions& options) {
  auto encoded = EncodeBinary(schema, value);
  if (!encoded.ok()) Fail(c, "decoded value does not encode: " + encoded.status().ToString());
  // The encoder writes the shortest form: one block per array or map, minimal
  // varints.
  if (encoded->size() > input.size()) Fail(c, "re-encoding is longer than the input");
  AvroDecodeOptions strict = options;
  strict.allow_trailing_bytes = false;
  auto again = DecodeBinary(schema, *encoded, strict);
  if (!again.ok()) Fail(c, "re-encoded value does not decode: " + again.status().ToString());
  if (!SameValue(value, *again, Compare::kExact)) {
    Fail(c, "re-encoded value decodes to a different value");
  }
  auto encoded_again = EncodeBinary(schema, *again);
  if (!encoded_again.ok() || *encoded_again != *encoded) Fail(c, "second encoding differs");

  // The Avro JSON encoding is lossless but for NaN payloads, the order of
  // map entries and repeated map keys.
  auto json = AvroToJson(schema, value, AvroJsonMode::kAvro);
  if (!json.ok()) {
    if (json.status().code() != StatusCode::kInvalidArgument) {
      Fail(c, "AvroToJson failed with an unexpected code: " + json.status().ToString());
    }
  } else {
    auto from_json = JsonToAvro(schema, *json, AvroJsonMode::kAvro);
    if (!from_json.ok()) {
      Fail(c, "Avro JSON does not read back: " + *json + ": " + from_json.status().ToString());
    }
    if (!HasDuplicateMapKeys(value) && !SameValue(value, *from_json, Compare::kAsJson)) {
      Fail(c, "Avro JSON reads back as a different value: " + *json);
    }
    auto json_again = AvroToJson(schema, *from_json, AvroJsonMode::kAvro);
    if (!json_again.ok() || nlohmann::json::parse(*json_again) != nlohmann::json::parse(*json)) {
      Fail(c, "Avro JSON is not stable: " + *json);
    }
  }
  // Plain JSON is lossy by design (union branches, natural forms); it must
  // only not crash and give JSON that reads back or a clear error.
  auto plain = AvroToJson(schema, value, AvroJsonMode::kPlain);
  if (plain.ok()) {
    auto from_plain = JsonToAvro(schema, *plain, AvroJsonMode::kPlain);
    if (!from_plain.ok() && from_plain.status().code() != StatusCode::kInvalidArgument) {
      Fail(c, "plain JSON read back failed with an unexpected code");
    }
  } else if (plain.status().code() != StatusCode::kInvalidArgument) {
    Fail(c, "plain AvroToJson failed with an unexpected code: " + plain.status().ToString());
  }
}

void CheckFramedMessage(const ParsedCase& c, std::string_view framed,
                        const AvroDecodeOptions& options) {
  auto frame = UnwrapConfluent(framed);
  if (!frame.ok()) {
    if (frame.status().code() != StatusCode::kCorruption ||
        !Contains(frame.status().message(), "at byte 0")) {
      Fail(c, "bad Confluent frame error: " + frame.status().ToString());
    }
    return;
  }
  if (WrapConfluent(frame->schema_id, frame->payload) != framed) {
    Fail(c, "Confluent frame does not wrap back to the input");
  }
  const std::string_view payload = frame->payload;

  auto decoded = DecodeBinary(c.writer, payload, options);
  auto resolved = DecodeResolved(c.writer, c.reader, payload, options);
  if (!decoded.ok()) {
    const Status& s = decoded.status();
    if (s.code() != StatusCode::kCorruption || !Contains(s.message(), "avro decode: at byte ") ||
        !Contains(s.message(), "(field path ")) {
      Fail(c, "bad decode error: " + s.ToString());
    }
    if (resolved.ok() || resolved.status().code() != s.code() ||
        resolved.status().message() != s.message()) {
      Fail(c, "DecodeResolved does not fail as DecodeBinary: " + resolved.status().ToString());
    }
    return;
  }
  // What the input does not pay for in bytes (items that take none) the item
  // budget must bound; no schema here has more than kValuesPerByte values per
  // byte of encoding.
  constexpr int64_t kValuesPerByte = 64;
  if (CountValues(*decoded) >
      options.max_items + kValuesPerByte * static_cast<int64_t>(payload.size() + 1)) {
    Fail(c, "the decoded value has more values than the input and the item budget allow");
  }
  CheckRoundTrips(c, c.writer, *decoded, payload, options);

  if (!resolved.ok()) {
    const Status& s = resolved.status();
    if (c.readable) Fail(c, "CheckReadable passed but resolution failed: " + s.ToString());
    if (s.code() != StatusCode::kInvalidArgument ||
        !Contains(s.message(), "avro resolution: at ")) {
      Fail(c, "bad resolution error: " + s.ToString());
    }
    return;
  }
  if (c.same_schema && !SameValue(*decoded, *resolved, Compare::kExact)) {
    Fail(c, "resolving a schema into itself changed the value");
  }
  if (!c.same_schema) {
    // The resolved value is a datum of the reader; its encoding is not tied to
    // the input's length, so check it against its own encoding.
    auto encoded = EncodeBinary(c.reader, *resolved);
    if (!encoded.ok()) Fail(c, "resolved value does not encode: " + encoded.status().ToString());
    // Resolution may wrap values in reader unions (one more level each) and
    // add defaults, so the writer's limits do not bound the reader's datum.
    AvroDecodeOptions reader_options;
    reader_options.max_depth = 2 * options.max_depth + 2;
    reader_options.max_items = int64_t{1} << 40;
    CheckRoundTrips(c, c.reader, *resolved, *encoded, reader_options);
  }
}

void WriteSeeds(const char* dir) {
  const auto& cases = ParsedCases();
  int written = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const ParsedCase& c = cases[i];
    for (size_t k = 0; k < c.spec->seeds.size(); ++k) {
      auto value = JsonToAvro(c.writer, c.spec->seeds[k], AvroJsonMode::kAvro);
      if (!value.ok()) Fail(c, "bad seed datum: " + value.status().ToString());
      auto bytes = EncodeBinary(c.writer, *value);
      if (!bytes.ok()) Fail(c, "seed does not encode: " + bytes.status().ToString());
      std::string input;
      input.push_back(static_cast<char>(i));
      input.push_back('\0');
      input += WrapConfluent(static_cast<int32_t>(100 + i), *bytes);
      const std::string path =
          std::string(dir) + "/" + c.spec->name + "-" + std::to_string(k + 1) + ".bin";
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(input.data(), static_cast<std::streamsize>(input.size()));
      if (!out.good()) {
        std::fprintf(stderr, "avro_decode_fuzzer: cannot write %s\n", path.c_str());
        std::exit(1);
      }
      ++written;
    }
  }
  std::fprintf(stderr, "avro_decode_fuzzer: wrote %d seeds to %s\n", written, dir);
}

}  // namespace
}  // namespace weir::schema

// ASan keeps freed memory in a quarantine (256 MB by default) to catch uses
// after free; a smaller one leaves room under -rss_limit_mb=512 for the
// largest datums the item budget allows.
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=64"; }

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (*argc == 3 && std::strcmp((*argv)[1], "--write-seeds") == 0) {
    weir::schema::WriteSeeds((*argv)[2]);
    std::exit(0);
  }
  weir::schema::ParsedCases();  // parse once, before the first input
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using weir::schema::AvroDecodeOptions;
  if (size < 2) return -1;
  const auto& cases = weir::schema::ParsedCases();
  const weir::schema::ParsedCase& c = cases[data[0] % cases.size()];
  AvroDecodeOptions options;
  // A smaller item budget than the default (1M) keeps the largest datums
  // quick to check; the budget's arithmetic is the same.
  options.max_items = int64_t{1} << 12;
  if ((data[1] & 1) != 0) {
    options.max_depth = 6;
    options.max_items = 32;
  }
  options.allow_trailing_bytes = (data[1] & 2) != 0;
  weir::schema::CheckFramedMessage(
      c, std::string_view(reinterpret_cast<const char*>(data) + 2, size - 2), options);
  return 0;
}
