// weir/schema/avro.h — weir's own Apache Avro codec.
//
// Covers what weir needs from Avro (specification 1.11):
//   - schema parsing: every type, named types and references (also to types
//     parsed earlier, through AvroNames), defaults, aliases and the logical
//     types decimal, uuid, date, time-*, timestamp-*, local-timestamp-* and
//     duration; Parsing Canonical Form and its CRC-64-AVRO fingerprint;
//   - the binary encoding, whose decoder treats its input as hostile: every
//     declared length is checked against the bytes that remain before anything
//     is allocated, recursion depth and item counts are capped, and every
//     error names the byte offset and the path of the datum being decoded;
//   - schema resolution of a writer schema into a reader schema;
//   - conversion between JSON and Avro values, both in the Avro JSON encoding
//     and in the "plain" JSON that weir's users send;
//   - the Confluent wire format (magic byte 0, 4-byte big-endian schema id).
//
// Errors are values: InvalidArgument for bad schemas and bad JSON datums,
// Corruption for bad binary input. Messages name the place, e.g.
// "PlateEvent.vehicle.colour" or "PlateEvent.items[3]".
//
// Thread safety: AvroSchema and AvroValue are immutable after construction as
// far as this API is concerned; const methods and the free functions may be
// called from any number of threads at once. AvroNames is not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "weir/status.h"

namespace weir::schema {

enum class AvroType : uint8_t {
  kNull,
  kBoolean,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kBytes,
  kString,
  kRecord,
  kEnum,
  kArray,
  kMap,
  kUnion,
  kFixed,
};

// Returns the Avro name of |type|: "null", "record", ...
std::string_view AvroTypeName(AvroType type);

enum class AvroLogicalType : uint8_t {
  kNone,
  kDecimal,               // bytes or fixed; precision and scale
  kUuid,                  // string
  kDate,                  // int: days since 1970-01-01
  kTimeMillis,            // int: milliseconds after midnight
  kTimeMicros,            // long: microseconds after midnight
  kTimestampMillis,       // long: milliseconds since the UTC epoch
  kTimestampMicros,       // long: microseconds since the UTC epoch
  kLocalTimestampMillis,  // long: milliseconds, local time
  kLocalTimestampMicros,  // long: microseconds, local time
  kDuration,              // fixed(12): months, days, milliseconds
};

struct AvroNode;
class AvroValue;

// One field of a record schema.
struct AvroField {
  std::string name;
  std::vector<std::string> aliases;
  std::string doc;
  std::string order;  // "ascending" (default), "descending" or "ignore"
  const AvroNode* type = nullptr;
  // The default, already converted to a value of |type|; also kept as the
  // JSON text written in the schema.
  std::shared_ptr<const AvroValue> default_value;
  std::string default_json;
};

// One node of a parsed schema. Nodes are owned by the AvroSchema (or
// AvroNames) that parsed them and live as long as any schema referring to
// them. Named types may be referenced from several places and may be
// recursive, so the node graph can contain cycles.
struct AvroNode {
  AvroType type = AvroType::kNull;
  AvroLogicalType logical = AvroLogicalType::kNone;
  int precision = 0;  // decimal
  int scale = 0;      // decimal
  // Named types (record, enum, fixed).
  std::string full_name;             // "com.example.PlateEvent"
  std::string name;                  // "PlateEvent"
  std::vector<std::string> aliases;  // full names
  std::string doc;
  // record
  std::vector<AvroField> fields;
  // enum
  std::vector<std::string> symbols;
  std::optional<std::string> enum_default;
  // array items or map values
  const AvroNode* items = nullptr;
  // union
  std::vector<const AvroNode*> branches;
  // fixed
  size_t size = 0;

  // Index of the field named |field_name| in |fields|, or -1.
  int FieldIndex(std::string_view field_name) const;
  // Index of |symbol| in |symbols|, or -1.
  int SymbolIndex(std::string_view symbol) const;
};

class AvroNames;

// A parsed Avro schema. Copies are cheap and share the parsed nodes.
class AvroSchema {
 public:
  // Parses the schema in |json_text|. Type names that the text does not
  // define are looked up in |names|, when given; the new schema's named types
  // are NOT added to |names| (call AvroNames::Add for that).
  static Result<AvroSchema> Parse(std::string_view json_text, const AvroNames* names = nullptr);

  const AvroNode& root() const { return *root_; }

  // Parsing Canonical Form, per the specification.
  std::string CanonicalForm() const;
  // CRC-64-AVRO (Rabin) fingerprint of CanonicalForm().
  uint64_t Fingerprint() const;
  // The schema as JSON with full names, defaults, aliases, docs and logical
  // types (properties weir does not model are dropped).
  std::string ToJson() const;

  // Internal: the arena that owns the nodes.
  struct Arena;
  AvroSchema(std::shared_ptr<const Arena> arena, const AvroNode* root)
      : arena_(std::move(arena)), root_(root) {}

 private:
  std::shared_ptr<const Arena> arena_;
  const AvroNode* root_;
};

// Named types known before a schema is parsed, e.g. those of the schemas a
// Schema Registry subject references.
class AvroNames {
 public:
  // Makes the named types of |schema| visible to later parses. Fails if a
  // different type of the same full name is already known.
  Status Add(const AvroSchema& schema);
  // The named type |full_name|, or nullptr.
  const AvroNode* Find(std::string_view full_name) const;

 private:
  friend class AvroSchema;
  std::vector<AvroSchema> schemas_;  // keeps the nodes alive
  std::vector<std::pair<std::string, const AvroNode*>> types_;
};

// ---------------------------------------------------------------------------
// Values.

struct AvroBytes {
  std::string data;
  bool operator==(const AvroBytes&) const = default;
};
struct AvroFixed {
  std::string data;
  bool operator==(const AvroFixed&) const = default;
};
struct AvroEnum {
  int32_t index = 0;
  std::string symbol;
  bool operator==(const AvroEnum&) const = default;
};
// Record fields in schema order, each with its name.
struct AvroRecord {
  std::vector<std::pair<std::string, AvroValue>> fields;
  bool operator==(const AvroRecord&) const;
  // The value of field |name|, or nullptr.
  const AvroValue* Find(std::string_view name) const;
};
struct AvroArray {
  std::vector<AvroValue> items;
  bool operator==(const AvroArray&) const;
};
// Map entries in wire order.
struct AvroMap {
  std::vector<std::pair<std::string, AvroValue>> entries;
  bool operator==(const AvroMap&) const;
};
// The chosen branch of a union and its value.
struct AvroUnion {
  AvroUnion(int32_t branch, AvroValue value);
  AvroUnion(const AvroUnion& other);
  AvroUnion(AvroUnion&& other) noexcept = default;
  AvroUnion& operator=(const AvroUnion& other);
  AvroUnion& operator=(AvroUnion&& other) noexcept = default;
  ~AvroUnion();
  bool operator==(const AvroUnion& other) const;

  int32_t branch = 0;
  std::unique_ptr<AvroValue> value;  // never null
};

// A generic Avro datum: a tree of values whose shape follows a schema.
class AvroValue {
 public:
  using Storage =
      std::variant<std::monostate, bool, int32_t, int64_t, float, double, AvroBytes, std::string,
                   AvroRecord, AvroEnum, AvroArray, AvroMap, AvroUnion, AvroFixed>;

  AvroValue() = default;  // null
  // Wraps one of the Storage alternatives, e.g. AvroValue(int32_t{7}) for an
  // int, AvroValue(int64_t{7}) for a long, AvroValue(std::string("s")).
  template <typename T>
  requires(!std::is_same_v<std::decay_t<T>, AvroValue>) explicit AvroValue(T v)
      : v_(std::move(v)) {}

  // The Avro type of the value; the order of Storage follows AvroType.
  AvroType type() const { return static_cast<AvroType>(v_.index()); }
  const Storage& storage() const { return v_; }
  Storage& storage() { return v_; }
  template <typename T>
  const T& get() const {
    return std::get<T>(v_);
  }
  template <typename T>
  T& get() {
    return std::get<T>(v_);
  }
  bool operator==(const AvroValue& other) const { return v_ == other.v_; }

 private:
  Storage v_;
};

// ---------------------------------------------------------------------------
// Binary encoding.

// Encodes |value| as a datum of |schema|. Fails, naming the path, when the
// value does not have the schema's shape.
Result<std::string> EncodeBinary(const AvroSchema& schema, const AvroValue& value);

struct AvroDecodeOptions {
  int max_depth = 64;  // nesting of records, arrays, maps, unions
  // Array and map entries in one datum; an entry that takes no bytes (null,
  // an empty record, fixed(0)) counts once for every value it holds.
  int64_t max_items = int64_t{1} << 20;
  bool allow_trailing_bytes = false;  // else bytes after the datum are an error
};

// Decodes one datum of |schema| from |bytes|. Errors are Corruption and name
// the byte offset and the path.
Result<AvroValue> DecodeBinary(const AvroSchema& schema, std::string_view bytes,
                               const AvroDecodeOptions& options = {});

// Decodes a datum written with |writer| and returns it as a value of
// |reader|, resolving the two schemas per the specification (fields matched
// by name or alias, reader defaults for fields the writer lacks, numeric
// promotion, enum symbols and union branches matched by name). Bad bytes are
// Corruption (with byte offset and path); a datum the reader cannot accept is
// InvalidArgument naming the reader's path. The datum is decoded with the
// writer schema first and then converted, so it is checked in full before
// resolution starts.
Result<AvroValue> DecodeResolved(const AvroSchema& writer, const AvroSchema& reader,
                                 std::string_view bytes, const AvroDecodeOptions& options = {});

// Checks, without data, that every datum written with |writer| can be read as
// |reader| (the Schema Registry's BACKWARD check for one pair). The error
// lists each incompatibility with its path, e.g. "PlateEvent.vehicle.colour:
// the reader's field has no default and the writer lacks it".
Status CheckReadable(const AvroSchema& writer, const AvroSchema& reader);

// Converts |value| (of |writer|) into a value of |reader|, as DecodeResolved.
Result<AvroValue> ResolveValue(const AvroSchema& writer, const AvroSchema& reader,
                               const AvroValue& value);

// ---------------------------------------------------------------------------
// JSON.

enum class AvroJsonMode : uint8_t {
  // The Avro JSON encoding: non-null union values wrapped as {"type": value},
  // bytes and fixed as strings of code points U+0000..U+00FF, logical types
  // as their underlying values.
  kAvro,
  // Ordinary JSON events: union values given plainly (the first branch that
  // accepts the value wins), bytes and fixed as UTF-8 strings, logical types
  // in natural form — uuid strings, dates as "YYYY-MM-DD" or days, times as
  // "HH:MM:SS[.ffffff]" or numbers, timestamps as numbers or ISO-8601
  // strings, decimals as numbers or strings. Written back in natural form.
  kPlain,
};

// Converts the JSON text of one datum into a value of |schema|.
Result<AvroValue> JsonToAvro(const AvroSchema& schema, std::string_view json_text,
                             AvroJsonMode mode = AvroJsonMode::kPlain);

// Converts |value|, of |schema|, to JSON text.
Result<std::string> AvroToJson(const AvroSchema& schema, const AvroValue& value,
                               AvroJsonMode mode = AvroJsonMode::kPlain);

// ---------------------------------------------------------------------------
// Confluent wire format: 0x00, 4-byte big-endian schema id, Avro binary.

inline constexpr size_t kConfluentHeaderSize = 5;

// Returns the framed message.
std::string WrapConfluent(int32_t schema_id, std::string_view avro_bytes);

struct ConfluentFrame {
  int32_t schema_id = 0;
  std::string_view payload;  // points into the unwrapped input
};

// Splits a framed message. The payload view lives as long as |bytes|.
Result<ConfluentFrame> UnwrapConfluent(std::string_view bytes);

}  // namespace weir::schema
