// publish/event_codec.h — one event type, compiled: its schema, its key and
// id fields, and how its events are checked and encoded. Internal to the
// publish area (the consumer runtime will share it for decoding).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/avro/json_fast_encoder.h"
#include "weir/publish/publisher.h"
#include "weir/schema/avro.h"
#include "weir/schema/json_schema.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::publish {

// An event that passed every check, ready to be framed per topic.
struct EncodedEvent {
  std::optional<std::string> key;  // nullopt when the type has no key field
  std::optional<std::string> id;   // the dedup id, when the type has one
  // Avro: kConfluentHeaderSize bytes of room for the Confluent header, then
  // the binary datum; the Publisher writes each topic's schema id into the
  // room. JSON: empty; the input bytes are the value.
  std::string avro_body;
};

// Why an event was refused: a message and the fields at fault.
struct EventRefusal {
  Status status;
  std::vector<FieldError> fields;
};

class EventCodec {
 public:
  // Compiles |spec| of |topology|: reads and parses its schema file (relative
  // to the topology's folder; a JSON Schema "$ref" to another document is
  // read from the file of that name beside it), and checks that the key and
  // id field paths exist in an Avro schema. Errors name the schema file and
  // the weir.yaml location of the event type.
  static Result<EventCodec> Compile(const Topology& topology, const EventTypeSpec& spec);

  // Parses, validates and takes the key and id out of |json|.
  // On refusal, the error names the event type and each field.
  bool Encode(std::string_view json, EncodedEvent* out, EventRefusal* refusal) const;

  const EventTypeSpec& spec() const { return spec_; }
  EventFormat format() const { return spec_.format; }
  // The schema text as written in its file ("" when the type has none).
  const std::string& schema_text() const { return schema_text_; }
  // The key field path used: the type's, else its first topic's.
  const std::string& key_field() const { return key_field_; }
  const schema::AvroSchema* avro() const { return avro_.get(); }

 private:
  EventTypeSpec spec_;
  std::string key_field_;
  std::vector<std::string> key_path_;
  std::vector<std::string> id_path_;
  std::string schema_text_;
  bool Refuse(std::vector<FieldError> fields, EventRefusal* refusal) const;
  bool RefuseMissing(const char* what, const std::vector<std::string>& path,
                     const std::string& field, EventRefusal* refusal) const;
  bool EncodeJson(std::string_view json, EncodedEvent* out, EventRefusal* refusal) const;
  // The exact path and error messages; the fast path when it may be used.
  bool EncodeAvroExact(std::string_view json, EncodedEvent* out, EventRefusal* refusal) const;
  bool EncodeAvroFast(std::string_view json, EncodedEvent* out) const;

  // Shared so that a compiled codec can be copied and moved: the fast
  // encoder points into the schema.
  std::shared_ptr<const schema::AvroSchema> avro_;
  std::shared_ptr<const schema::AvroJsonFastEncoder> fast_;
  // The key and id are plain fields (no unions on the way) of string, enum,
  // int or long type, so the fast path can read them from the JSON.
  bool fast_fields_ = false;
  std::shared_ptr<const schema::JsonSchema> json_schema_;
};

// Splits "a.b.c" into its parts.
std::vector<std::string> SplitFieldPath(std::string_view path);

// "avro json: at PlateEvent.vehicle.colour: what" → {"/vehicle/colour",
// "what"}; other messages are kept whole with pointer "".
FieldError AvroErrorToField(const std::string& message);

}  // namespace weir::publish
