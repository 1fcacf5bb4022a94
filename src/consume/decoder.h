// consume/decoder.h — turns a consumed record into its event: finds the
// event type, checks and decodes the value, and reads fields out of it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "publish/event_codec.h"
#include "weir/record.h"
#include "weir/registry/registry.h"
#include "weir/schema/avro.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::consume {

// Why a record could not be decoded.
struct DecodeError {
  ErrorClass error_class = ErrorClass::kSchemaValidation;
  std::string message;
};

class RecordDecoder {
 public:
  // Compiles the event types routed to the topics of |group| (their topics
  // or mirror topics). |registry| decodes Avro; when null and some type is
  // Avro, the topology's registry is opened.
  static Result<std::unique_ptr<RecordDecoder>> Create(const Topology& topology,
                                                       const ConsumerGroupSpec& group,
                                                       registry::Registry* registry);

  // The event type of |r|: the one its "weir-event-type" header names, else
  // the only type routed to its topic; nullptr when neither gives one.
  const publish::EventCodec* TypeOf(const Record& r) const;

  // Decodes |r| as an event of |type| into JSON text, set in |json|: a view
  // of the record's value for JSON events and values without a type (which
  // must be UTF-8), of |storage| for decoded Avro. Returns false with the
  // reason: SCHEMA_VALIDATION for bytes that are not a valid event (a poison
  // pill), PROCESSING_FAILURE when the registry cannot be reached.
  bool Decode(const Record& r, const publish::EventCodec* type, std::string* storage,
              std::string_view* json, DecodeError* error) const;

  // The names of the event types that may arrive on |topic|.
  std::vector<std::string> TypesOf(std::string_view topic) const;

 private:
  RecordDecoder() = default;
  Result<std::shared_ptr<const schema::AvroSchema>> WriterSchema(int32_t id) const;

  std::map<std::string, publish::EventCodec, std::less<>> codecs_;
  // topic → the types routed to it.
  std::map<std::string, std::vector<const publish::EventCodec*>, std::less<>> by_topic_;
  std::unique_ptr<registry::Registry> owned_registry_;
  registry::Registry* registry_ = nullptr;
  mutable std::mutex mu_;
  mutable std::unordered_map<int32_t, std::shared_ptr<const schema::AvroSchema>> writers_;
};

// Reads the values at |paths| (each split with SplitFieldPath) of the JSON
// object |json|: strings as they are, numbers and booleans as written.
// Returns false, naming the first missing or non-scalar path in |error|;
// |values| then holds the values before it (none when |json| is not JSON).
bool ExtractFields(std::string_view json, const std::vector<std::vector<std::string>>& paths,
                   std::vector<std::string>* values, std::string* error);

}  // namespace weir::consume
