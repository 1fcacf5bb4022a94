// schema/avro/json_fast_encoder.h — JSON events straight to Avro binary, the
// Publisher's hot path. Internal to weir (used by src/publish).
//
// JsonToAvro() + EncodeBinary() build a tree of AvroValues from an
// nlohmann::json document: exact and with good error messages, but about
// ten microseconds for a 500-byte event. This encoder walks a simdjson
// document and the schema together and writes the binary datum directly.
//
// It is a fast path, never a second definition of the format: it either
// produces exactly the bytes JsonToAvro(kPlain) + EncodeBinary would, or
// gives up (returns false), and the caller takes the exact path, which also
// produces the error message. It gives up on anything it is not certain
// about: logical types given as strings, decimals, numbers whose integer or
// floating kind JSON leaves open (-0, 1e2), objects with duplicate keys,
// nesting deeper than 200, and any value the schema refuses.
// tests/schema/avro/avro_fast_encoder_test.cc checks the equivalence.
//
// Thread safety: Encode() is const and may run on many threads at once.
#pragma once

#include <simdjson.h>

#include <string>
#include <unordered_map>

#include "weir/schema/avro.h"

namespace weir::schema {

class AvroJsonFastEncoder {
 public:
  // |schema| must outlive the encoder.
  explicit AvroJsonFastEncoder(const AvroSchema& schema);

  // Appends the datum of |doc| to |out| and returns true, or returns false
  // (|out| may then hold a partial datum) when the exact path must decide.
  bool Encode(simdjson::dom::element doc, std::string* out) const;

 private:
  enum class Verdict : uint8_t { kOk, kReject, kAbort };
  Verdict EncodeNode(const AvroNode& node, simdjson::dom::element e, std::string* out,
                     int depth) const;

  const AvroSchema& schema_;
  // The encoded default of every field that has one.
  std::unordered_map<const AvroField*, std::string> defaults_;
};

}  // namespace weir::schema
