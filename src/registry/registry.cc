// The parts of the registry API that do not depend on where schemas live:
// names, subject naming, schema normalisation and OpenRegistry().
#include "weir/registry/registry.h"

#include <fmt/format.h>

#include <charconv>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "registry/registry_internal.h"
#include "weir/schema/json_schema.h"
#include "weir/topology.h"

namespace weir::registry {

std::string_view SchemaTypeName(SchemaType type) {
  return type == SchemaType::kJson ? "JSON" : "AVRO";
}

Result<SchemaType> ParseSchemaType(std::string_view name) {
  if (name.empty() || name == "AVRO") return SchemaType::kAvro;
  if (name == "JSON") return SchemaType::kJson;
  return Status::InvalidArgument(
      fmt::format("unsupported schema type \"{}\" (weir's registry holds AVRO and JSON)", name));
}

Result<SchemaType> SchemaTypeOfFile(std::string_view path) {
  std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".avsc") return SchemaType::kAvro;
  if (ext == ".json") return SchemaType::kJson;
  return Status::InvalidArgument(fmt::format(
      "{}: cannot tell the schema type from the extension (expected .avsc for Avro or .json "
      "for JSON Schema)",
      path));
}

std::string Incompatibility::ToString() const {
  std::string out = version > 0 ? fmt::format("version {}", version) : std::string("schema");
  if (!direction.empty()) out += fmt::format(" ({})", direction);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  out += kind;
  if (!message.empty()) out += ": " + message;
  return out;
}

std::string TopicValueSubject(std::string_view topic) { return std::string(topic) + "-value"; }
std::string TopicKeySubject(std::string_view topic) { return std::string(topic) + "-key"; }

Result<schema::AvroSchema> Registry::GetAvroById(int32_t id) {
  WEIR_ASSIGN_OR_RETURN(Schema s, GetById(id));
  if (s.type != SchemaType::kAvro) {
    return Status::InvalidArgument(fmt::format("{}: schema id {} is a {} schema, not Avro",
                                               Describe(), id, SchemaTypeName(s.type)));
  }
  auto parsed = schema::AvroSchema::Parse(s.text);
  if (!parsed.ok()) {
    return Status::Corruption(fmt::format("{}: schema id {} does not parse as Avro: {}", Describe(),
                                          id, parsed.status().message()));
  }
  return std::move(parsed).value();
}

namespace {

// The meta-schema a JSON schema declares with "$schema" (2020-12 when it
// declares none), when weir has it; nullptr for other drafts or when the
// meta-schemas are not installed (then only Parse() checks the schema).
const schema::JsonSchema* MetaSchemaFor(const nlohmann::ordered_json& doc) {
  static const auto load = [](const char* uri) -> const schema::JsonSchema* {
    auto meta = schema::JsonSchema::Parse(fmt::format(R"({{"$ref": "{}"}})", uri));
    // Built once and never destroyed, so no thread sees it torn down at exit.
    return meta.ok() ? new schema::JsonSchema(std::move(meta).value()) : nullptr;
  };
  static const schema::JsonSchema* const draft7 = load("http://json-schema.org/draft-07/schema#");
  static const schema::JsonSchema* const draft2020 =
      load("https://json-schema.org/draft/2020-12/schema");
  std::string declared;
  if (doc.is_object()) {
    auto it = doc.find("$schema");
    if (it != doc.end() && it->is_string()) declared = it->get<std::string>();
  }
  if (declared.empty() || declared.find("2020-12") != std::string::npos) return draft2020;
  if (declared.find("draft-07") != std::string::npos) return draft7;
  return nullptr;
}

}  // namespace

Result<Schema> NormalizeSchema(const Schema& schema) {
  if (schema.type == SchemaType::kAvro) {
    auto parsed = schema::AvroSchema::Parse(schema.text);
    if (!parsed.ok()) {
      return Status::InvalidArgument("invalid Avro schema: " + parsed.status().message());
    }
    return Schema{SchemaType::kAvro, parsed->ToJson()};
  }
  // Member order is kept (ordered_json): it means nothing to a validator but
  // a great deal to the person reading the stored schema.
  auto doc = nlohmann::ordered_json::parse(schema.text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    return Status::InvalidArgument("invalid JSON schema: the text is not JSON");
  // References to other documents (the seeds' "$ref": "https://.../x.json")
  // stay as written: the registry holds no references (Confluent's
  // "references" are refused), so it checks this document alone and whoever
  // validates with it resolves the others.
  schema::JsonSchemaOptions options;
  options.resolver = [](const std::string&) -> Result<std::string> { return std::string("{}"); };
  auto parsed = schema::JsonSchema::Parse(schema.text, options);
  if (!parsed.ok()) {
    return Status::InvalidArgument("invalid JSON schema: " + parsed.status().message());
  }
  // JsonSchema::Parse() accepts keywords with values of the wrong kind
  // ({"type": 12}); the draft's meta-schema does not.
  if (const schema::JsonSchema* meta = MetaSchemaFor(doc)) {
    schema::ValidationResult result = meta->Validate(schema.text);
    if (!result.ok()) {
      return Status::InvalidArgument(
          "invalid JSON schema: it does not match its draft's "
          "meta-schema: " +
          result.ToStatus().message());
    }
  }
  return Schema{SchemaType::kJson, doc.dump()};
}

Status ValidateSubject(std::string_view subject) {
  if (subject.empty()) return Status::InvalidArgument("the subject name is empty");
  if (subject.size() > 255) {
    return Status::InvalidArgument(
        fmt::format("subject \"{}...\" is longer than 255 bytes", subject.substr(0, 40)));
  }
  for (char c : subject) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return Status::InvalidArgument("subject names may not hold control characters");
    }
  }
  return Status::Ok();
}

Result<Schema> NormalizeForSubject(std::string_view subject, const Schema& schema) {
  WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
  auto normalized = NormalizeSchema(schema);
  if (!normalized.ok()) {
    return normalized.status().WithContext(fmt::format("subject '{}'", subject));
  }
  return normalized;
}

std::optional<int32_t> ParseVersion(std::string_view text) {
  if (text == "latest" || text == "-1") return kLatestVersion;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || text[0] == '-' ||
      text[0] == '+') {
    return std::nullopt;
  }
  if (v < 1 || v > std::numeric_limits<int32_t>::max()) return std::nullopt;
  return static_cast<int32_t>(v);
}

std::string VersionName(int32_t version) {
  return version == kLatestVersion ? std::string("latest") : std::to_string(version);
}

Result<std::unique_ptr<Registry>> OpenRegistry(const RegistrySpec& spec,
                                               const std::string& topology_folder) {
  if (!spec.url.empty()) {
    return OpenConfluentRegistry(spec.url, spec.username, spec.password.value);
  }
  auto level = schema::ParseAvroCompatibility(spec.compatibility);
  if (!level.ok()) return level.status().WithContext("registry.compatibility");
  std::filesystem::path folder(spec.folder);
  if (folder.is_relative()) folder = std::filesystem::path(topology_folder) / folder;
  return OpenLocalRegistry(folder.lexically_normal().string(), *level);
}

}  // namespace weir::registry
