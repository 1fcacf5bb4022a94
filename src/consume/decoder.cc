#include "consume/decoder.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>

namespace weir::consume {
namespace {

constexpr std::string_view kEventTypeHeader = "weir-event-type";

bool IsUtf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

std::string Coordinates(const Record& r) {
  return fmt::format("{}/{}@{}", r.topic(), r.partition().value(), r.offset().value());
}

}  // namespace

Result<std::unique_ptr<RecordDecoder>> RecordDecoder::Create(const Topology& topology,
                                                             const ConsumerGroupSpec& group,
                                                             registry::Registry* registry) {
  std::unique_ptr<RecordDecoder> d(new RecordDecoder());
  bool any_avro = false;
  for (const EventTypeSpec& type : topology.event_types) {
    bool routed = false;
    for (const std::string& topic : group.topics) {
      routed = routed || type.mirror_topic == topic ||
               std::find(type.topics.begin(), type.topics.end(), topic) != type.topics.end();
    }
    if (!routed) continue;
    auto codec = publish::EventCodec::Compile(topology, type);
    if (!codec.ok()) return codec.status();
    any_avro = any_avro || type.format == EventFormat::kAvro;
    d->codecs_.emplace(type.name, std::move(*codec));
  }
  for (const auto& [name, codec] : d->codecs_) {
    const EventTypeSpec& type = codec.spec();
    for (const std::string& topic : group.topics) {
      if (type.mirror_topic == topic ||
          std::find(type.topics.begin(), type.topics.end(), topic) != type.topics.end()) {
        d->by_topic_[topic].push_back(&codec);
      }
    }
  }
  d->registry_ = registry;
  if (any_avro && registry == nullptr) {
    auto opened = registry::OpenRegistry(topology.registry, topology.folder);
    if (!opened.ok()) return opened.status();
    d->owned_registry_ = std::move(*opened);
    d->registry_ = d->owned_registry_.get();
  }
  return d;
}

std::vector<std::string> RecordDecoder::TypesOf(std::string_view topic) const {
  std::vector<std::string> out;
  auto it = by_topic_.find(topic);
  if (it == by_topic_.end()) return out;
  for (const publish::EventCodec* c : it->second) out.push_back(c->spec().name);
  return out;
}

const publish::EventCodec* RecordDecoder::TypeOf(const Record& r) const {
  if (const HeaderView* h = r.FindHeader(kEventTypeHeader); h != nullptr && h->value) {
    auto it = codecs_.find(*h->value);
    return it == codecs_.end() ? nullptr : &it->second;
  }
  auto it = by_topic_.find(r.topic());
  if (it == by_topic_.end() || it->second.size() != 1) return nullptr;
  return it->second.front();
}

Result<std::shared_ptr<const schema::AvroSchema>> RecordDecoder::WriterSchema(int32_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = writers_.find(id); it != writers_.end()) return it->second;
  auto s = registry_->GetAvroById(id);
  if (!s.ok()) return s.status();
  auto shared = std::make_shared<const schema::AvroSchema>(std::move(*s));
  writers_.emplace(id, shared);
  return shared;
}

bool RecordDecoder::Decode(const Record& r, const publish::EventCodec* type, std::string* storage,
                           std::string_view* json, DecodeError* error) const {
  const std::optional<std::string_view> value = r.value();
  auto fail = [&](ErrorClass c, std::string message) {
    error->error_class = c;
    error->message = fmt::format("{}: {}", Coordinates(r), message);
    return false;
  };
  if (type == nullptr) {
    if (!value) {
      *json = {};
      return true;
    }
    if (!IsUtf8(*value)) return fail(ErrorClass::kSchemaValidation, "value is not UTF-8 text");
    *json = *value;
    return true;
  }
  const std::string& type_name = type->spec().name;
  if (!value)
    return fail(ErrorClass::kSchemaValidation, fmt::format("{}: value is null", type_name));
  if (type->format() == EventFormat::kJson) {
    publish::EncodedEvent enc;
    publish::EventRefusal refusal;
    if (!type->Encode(*value, &enc, &refusal)) {
      return fail(ErrorClass::kSchemaValidation, refusal.status.message());
    }
    *json = *value;
    return true;
  }
  auto frame = schema::UnwrapConfluent(*value);
  if (!frame.ok()) {
    return fail(ErrorClass::kSchemaValidation,
                fmt::format("{}: not an Avro event in the Confluent wire format: {}", type_name,
                            frame.status().message()));
  }
  auto writer = WriterSchema(frame->schema_id);
  if (!writer.ok()) {
    // An id the registry does not know is a bad record; a registry that
    // cannot be reached is a transient failure.
    const bool missing = writer.status().code() == StatusCode::kNotFound ||
                         writer.status().code() == StatusCode::kInvalidArgument;
    return fail(missing ? ErrorClass::kSchemaValidation : ErrorClass::kProcessingFailure,
                fmt::format("{}: writer schema id {}: {}", type_name, frame->schema_id,
                            writer.status().message()));
  }
  auto datum = schema::DecodeResolved(**writer, *type->avro(), frame->payload);
  if (!datum.ok()) {
    return fail(ErrorClass::kSchemaValidation,
                fmt::format("{} (schema id {}): {}", type_name, frame->schema_id,
                            datum.status().message()));
  }
  auto text = schema::AvroToJson(*type->avro(), *datum);
  if (!text.ok()) return fail(ErrorClass::kSchemaValidation, text.status().message());
  *storage = std::move(*text);
  *json = *storage;
  return true;
}

bool ExtractFields(std::string_view json, const std::vector<std::vector<std::string>>& paths,
                   std::vector<std::string>* values, std::string* error) {
  thread_local simdjson::dom::parser parser;
  values->clear();
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    *error = "the event is not JSON";
    return false;
  }
  for (const std::vector<std::string>& path : paths) {
    simdjson::dom::element e = root;
    for (const std::string& part : path) {
      simdjson::dom::object obj;
      if (e.get_object().get(obj) != simdjson::SUCCESS ||
          obj.at_key(part).get(e) != simdjson::SUCCESS) {
        *error = fmt::format("field {} is missing", fmt::join(path, "."));
        return false;
      }
    }
    switch (e.type()) {
      case simdjson::dom::element_type::STRING:
        values->emplace_back(e.get_string().value_unsafe());
        break;
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE:
      case simdjson::dom::element_type::BOOL:
        values->push_back(simdjson::minify(e));
        break;
      default:
        *error = fmt::format("field {} is not a string, number or boolean", fmt::join(path, "."));
        return false;
    }
  }
  return true;
}

}  // namespace weir::consume
