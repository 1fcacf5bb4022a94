// EventCodec: parse, validate, key and encode one event of a declared type.
#include "publish/event_codec.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "weir/schema/json_schema_nlohmann.h"

namespace weir::publish {
namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::string> SplitFieldPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    parts.emplace_back(path.substr(start, dot - start));
    start = dot + 1;
  }
  return parts;
}

FieldError AvroErrorToField(const std::string& message) {
  constexpr std::string_view kPrefix = "avro json: at ";
  if (!message.starts_with(kPrefix)) return FieldError{"", "", message};
  const size_t colon = message.find(": ", kPrefix.size());
  if (colon == std::string::npos) return FieldError{"", "", message};
  std::string_view path = std::string_view(message).substr(kPrefix.size(), colon - kPrefix.size());
  // The path starts with the root's name; the rest is .field, [index] or
  // ["key"] steps.
  size_t i = 0;
  while (i < path.size() && path[i] != '.' && path[i] != '[') ++i;
  std::string pointer;
  while (i < path.size()) {
    if (path[i] == '.') {
      size_t end = i + 1;
      while (end < path.size() && path[end] != '.' && path[end] != '[') ++end;
      pointer += "/";
      pointer += path.substr(i + 1, end - i - 1);
      i = end;
    } else {  // [3] or ["key"]
      size_t end = path.find(']', i);
      if (end == std::string_view::npos) break;
      std::string_view step = path.substr(i + 1, end - i - 1);
      if (step.size() >= 2 && step.front() == '"') step = step.substr(1, step.size() - 2);
      pointer += "/";
      for (char c : step) {  // RFC 6901 escapes
        if (c == '~') {
          pointer += "~0";
        } else if (c == '/') {
          pointer += "~1";
        } else {
          pointer += c;
        }
      }
      i = end + 1;
    }
  }
  return FieldError{pointer, "", message.substr(colon + 2)};
}

namespace {

std::string PointerOf(const std::vector<std::string>& path) {
  std::string p;
  for (const std::string& part : path) p += "/" + part;
  return p;
}

Result<std::string> ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("cannot read {}", path.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The key or id as record bytes: strings as they are, numbers and booleans
// as their JSON text, enums as their symbol.
std::optional<std::string> ScalarText(const schema::AvroValue& v) {
  using schema::AvroValue;
  if (const auto* u = std::get_if<schema::AvroUnion>(&v.storage())) return ScalarText(*u->value);
  if (const auto* s = std::get_if<std::string>(&v.storage())) return *s;
  if (const auto* e = std::get_if<schema::AvroEnum>(&v.storage())) return e->symbol;
  if (const auto* i = std::get_if<int32_t>(&v.storage())) return std::to_string(*i);
  if (const auto* l = std::get_if<int64_t>(&v.storage())) return std::to_string(*l);
  if (const auto* b = std::get_if<bool>(&v.storage())) return std::string(*b ? "true" : "false");
  if (const auto* b = std::get_if<schema::AvroBytes>(&v.storage())) return b->data;
  if (const auto* f = std::get_if<schema::AvroFixed>(&v.storage())) return f->data;
  if (const auto* d = std::get_if<double>(&v.storage())) return json(*d).dump();
  if (const auto* fl = std::get_if<float>(&v.storage())) return json(*fl).dump();
  return std::nullopt;  // null, records, arrays, maps
}

const schema::AvroValue* AvroAt(const schema::AvroValue& root,
                                const std::vector<std::string>& path) {
  const schema::AvroValue* cur = &root;
  for (const std::string& part : path) {
    while (const auto* u = std::get_if<schema::AvroUnion>(&cur->storage())) cur = u->value.get();
    const auto* rec = std::get_if<schema::AvroRecord>(&cur->storage());
    if (rec == nullptr) return nullptr;
    cur = rec->Find(part);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

std::optional<std::string> JsonScalarText(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number() || j.is_boolean()) return j.dump();
  return std::nullopt;
}

const json* JsonAt(const json& root, const std::vector<std::string>& path) {
  const json* cur = &root;
  for (const std::string& part : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

// Checks that |path| names a field of |node| (through records and unions).
bool AvroHasPath(const schema::AvroNode* node, const std::vector<std::string>& path) {
  for (const std::string& part : path) {
    const schema::AvroNode* rec = nullptr;
    if (node->type == schema::AvroType::kRecord) {
      rec = node;
    } else if (node->type == schema::AvroType::kUnion) {
      for (const schema::AvroNode* b : node->branches) {
        if (b->type == schema::AvroType::kRecord && b->FieldIndex(part) >= 0) rec = b;
      }
    }
    if (rec == nullptr) return false;
    int idx = rec->FieldIndex(part);
    if (idx < 0) return false;
    node = rec->fields[static_cast<size_t>(idx)].type;
  }
  return true;
}

// True when |path| is empty, or leads through record fields only to a
// string, enum, int or long field.
bool PlainScalarPath(const schema::AvroNode* node, const std::vector<std::string>& path) {
  if (path.empty()) return true;
  for (const std::string& part : path) {
    if (node->type != schema::AvroType::kRecord) return false;
    const int idx = node->FieldIndex(part);
    if (idx < 0) return false;
    node = node->fields[static_cast<size_t>(idx)].type;
  }
  switch (node->type) {
    case schema::AvroType::kString:
    case schema::AvroType::kEnum:
    case schema::AvroType::kInt:
    case schema::AvroType::kLong:
      return true;
    default:
      return false;
  }
}

// The scalar at |path| of |doc| as key text; false when it is not there.
bool FastScalar(simdjson::dom::element doc, const std::vector<std::string>& path,
                std::optional<std::string>* out) {
  simdjson::dom::element cur = doc;
  for (const std::string& part : path) {
    if (cur.at_key(part).get(cur) != simdjson::SUCCESS) return false;
  }
  std::string_view s;
  int64_t i = 0;
  if (cur.get_string().get(s) == simdjson::SUCCESS) {
    out->emplace(s);
    return true;
  }
  if (cur.get_int64().get(i) == simdjson::SUCCESS) {
    out->emplace(std::to_string(i));
    return true;
  }
  return false;
}

}  // namespace

Result<EventCodec> EventCodec::Compile(const Topology& topology, const EventTypeSpec& spec) {
  EventCodec c;
  c.spec_ = spec;
  c.key_field_ = spec.key_field;
  if (c.key_field_.empty() && !spec.topics.empty()) {
    if (const TopicSpec* t = topology.FindTopic(spec.topics.front())) c.key_field_ = t->key_field;
  }
  if (!c.key_field_.empty()) c.key_path_ = SplitFieldPath(c.key_field_);
  if (!spec.id_field.empty()) c.id_path_ = SplitFieldPath(spec.id_field);
  if (spec.schema.empty()) return c;

  const std::string where = spec.where.ToString();
  fs::path file = fs::path(topology.folder) / spec.schema;
  auto text = ReadText(file);
  if (!text.ok()) {
    return Status::NotFound(fmt::format("{}: event type {}: schema file {} cannot be read", where,
                                        spec.name, file.string()));
  }
  c.schema_text_ = std::move(*text);
  if (spec.format == EventFormat::kAvro) {
    auto avro = schema::AvroSchema::Parse(c.schema_text_);
    if (!avro.ok()) {
      return Status::InvalidArgument(fmt::format("{}: event type {}: {}: {}", where, spec.name,
                                                 file.string(), avro.status().message()));
    }
    c.avro_ = std::make_shared<const schema::AvroSchema>(std::move(*avro));
    for (const auto& [what, field, path] :
         {std::tuple{"key", c.key_field_, c.key_path_}, {"id", spec.id_field, c.id_path_}}) {
      if (!path.empty() && !AvroHasPath(&c.avro_->root(), path)) {
        return Status::InvalidArgument(
            fmt::format("{}: event type {}: {} field \"{}\" is not a field of {} ({})", where,
                        spec.name, what, field, c.avro_->root().full_name, file.string()));
      }
    }
    c.fast_ = std::make_shared<const schema::AvroJsonFastEncoder>(*c.avro_);
    c.fast_fields_ = PlainScalarPath(&c.avro_->root(), c.key_path_) &&
                     PlainScalarPath(&c.avro_->root(), c.id_path_);
    return c;
  }
  schema::JsonSchemaOptions options;
  const fs::path folder = file.parent_path();
  options.base_uri = "file://" + fs::absolute(file).lexically_normal().string();
  options.resolver = [folder](const std::string& uri) -> Result<std::string> {
    std::string path = uri;
    if (path.starts_with("file://")) {
      path = path.substr(7);
    } else {
      path = (folder / path.substr(path.rfind('/') + 1)).string();
    }
    return ReadText(path);
  };
  auto js = schema::JsonSchema::Parse(c.schema_text_, options);
  if (!js.ok()) {
    return Status::InvalidArgument(fmt::format("{}: event type {}: {}: {}", where, spec.name,
                                               file.string(), js.status().message()));
  }
  c.json_schema_ = std::make_shared<const schema::JsonSchema>(std::move(*js));
  return c;
}

bool EventCodec::Refuse(std::vector<FieldError> fields, EventRefusal* refusal) const {
  std::string msg = fmt::format("event type {}: invalid event", spec_.name);
  for (const FieldError& f : fields) {
    msg += fmt::format("\n  {}: {}{}", f.pointer.empty() ? "(event)" : f.pointer,
                       f.keyword.empty() ? "" : f.keyword + ": ", f.message);
  }
  refusal->status = Status::InvalidArgument(std::move(msg));
  refusal->fields = std::move(fields);
  return false;
}

bool EventCodec::RefuseMissing(const char* what, const std::vector<std::string>& path,
                               const std::string& field, EventRefusal* refusal) const {
  return Refuse({FieldError{PointerOf(path), "required",
                            fmt::format("the {} field {} is missing or not a string, number or "
                                        "boolean",
                                        what, field)}},
                refusal);
}

bool EventCodec::Encode(std::string_view text, EncodedEvent* out, EventRefusal* refusal) const {
  out->key.reset();
  out->id.reset();
  out->avro_body.clear();
  if (avro_) {
    if (fast_fields_ && EncodeAvroFast(text, out)) return true;
    return EncodeAvroExact(text, out, refusal);
  }
  return EncodeJson(text, out, refusal);
}

bool EventCodec::EncodeAvroFast(std::string_view text, EncodedEvent* out) const {
  // One parser per thread: it keeps its buffers between events.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(doc) !=
      simdjson::SUCCESS) {
    return false;
  }
  if (!key_path_.empty() && !FastScalar(doc, key_path_, &out->key)) return false;
  if (!id_path_.empty() && !FastScalar(doc, id_path_, &out->id)) return false;
  // One allocation: the binary form is almost always shorter than the JSON.
  out->avro_body.reserve(schema::kConfluentHeaderSize + text.size());
  out->avro_body.assign(schema::kConfluentHeaderSize, '\0');
  return fast_->Encode(doc, &out->avro_body);
}

bool EventCodec::EncodeAvroExact(std::string_view text, EncodedEvent* out,
                                 EventRefusal* refusal) const {
  out->key.reset();
  out->id.reset();
  out->avro_body.clear();
  {
    auto value = schema::JsonToAvro(*avro_, text, schema::AvroJsonMode::kPlain);
    if (!value.ok()) return Refuse({AvroErrorToField(value.status().message())}, refusal);
    if (!key_path_.empty()) {
      const schema::AvroValue* k = AvroAt(*value, key_path_);
      if (k == nullptr || !(out->key = ScalarText(*k)))
        return RefuseMissing("key", key_path_, key_field_, refusal);
    }
    if (!id_path_.empty()) {
      const schema::AvroValue* id = AvroAt(*value, id_path_);
      if (id == nullptr || !(out->id = ScalarText(*id))) {
        return RefuseMissing("id", id_path_, spec_.id_field, refusal);
      }
    }
    auto body = schema::EncodeBinary(*avro_, *value);
    if (!body.ok()) return Refuse({AvroErrorToField(body.status().message())}, refusal);
    out->avro_body.assign(schema::kConfluentHeaderSize, '\0');
    out->avro_body += *body;
    return true;
  }
}

bool EventCodec::EncodeJson(std::string_view text, EncodedEvent* out, EventRefusal* refusal) const {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    return Refuse({FieldError{"", "", fmt::format("not valid JSON (at byte {})", e.byte)}},
                  refusal);
  }
  if (json_schema_) {
    schema::ValidationResult r = schema::JsonSchemaAccess::Validate(*json_schema_, doc);
    if (!r.ok()) {
      std::vector<FieldError> fields;
      for (const schema::ValidationError& e : r.errors()) {
        fields.push_back(FieldError{e.instance_pointer, e.keyword, e.message});
      }
      return Refuse(std::move(fields), refusal);
    }
  } else if (!doc.is_object()) {
    return Refuse({FieldError{"", "type", "an event must be a JSON object"}}, refusal);
  }
  if (!key_path_.empty()) {
    const json* k = JsonAt(doc, key_path_);
    if (k == nullptr || !(out->key = JsonScalarText(*k))) {
      return RefuseMissing("key", key_path_, key_field_, refusal);
    }
  }
  if (!id_path_.empty()) {
    const json* id = JsonAt(doc, id_path_);
    if (id == nullptr || !(out->id = JsonScalarText(*id))) {
      return RefuseMissing("id", id_path_, spec_.id_field, refusal);
    }
  }
  return true;
}

}  // namespace weir::publish
