// Parsing of Avro schemas (JSON) into AvroNode graphs.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "schema/avro/avro_internal.h"
#include "weir/schema/avro.h"

namespace weir::schema {
namespace {

using nlohmann::json;

const std::map<std::string, AvroType, std::less<>>& Primitives() {
  static const auto* kPrimitives = new std::map<std::string, AvroType, std::less<>>{
      {"null", AvroType::kNull},   {"boolean", AvroType::kBoolean}, {"int", AvroType::kInt},
      {"long", AvroType::kLong},   {"float", AvroType::kFloat},     {"double", AvroType::kDouble},
      {"bytes", AvroType::kBytes}, {"string", AvroType::kString},
  };
  return *kPrimitives;
}

bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

bool IsValidFullName(std::string_view full) {
  size_t start = 0;
  while (true) {
    size_t dot = full.find('.', start);
    if (!IsValidName(full.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string Join(const std::string& ns, const std::string& name) {
  if (name.find('.') != std::string::npos || ns.empty()) return name;
  return ns + "." + name;
}

std::string NamespaceOf(const std::string& full_name) {
  size_t dot = full_name.rfind('.');
  return dot == std::string::npos ? std::string() : full_name.substr(0, dot);
}

struct PendingDefault {
  AvroField* field;
  json value;
  std::string path;
};

// Schemas nest records, arrays, maps and unions; deeper ones are refused
// rather than risking the stack.
constexpr int kMaxSchemaDepth = 200;

class Parser {
 public:
  Parser(AvroSchema::Arena* arena, const AvroNames* names) : arena_(arena), names_(names) {}

  Result<const AvroNode*> ParseRoot(const json& j) {
    WEIR_ASSIGN_OR_RETURN(const AvroNode* root, ParseType(j, "", "$"));
    for (PendingDefault& d : defaults_) {
      auto v = avro_internal::JsonToValue(*d.field->type, d.value, AvroJsonMode::kAvro,
                                          /*for_default=*/true, d.path);
      if (!v.ok()) {
        return Status::InvalidArgument(
            fmt::format("schema: invalid default for field {}: {}", d.path, v.status().message()));
      }
      d.field->default_value = std::make_shared<const AvroValue>(std::move(v).value());
      d.field->default_json = d.value.dump();
    }
    return root;
  }

 private:
  AvroNode* NewNode(AvroType type) {
    arena_->nodes.push_back(std::make_unique<AvroNode>());
    arena_->nodes.back()->type = type;
    return arena_->nodes.back().get();
  }

  static Status Error(const std::string& path, std::string_view what) {
    return Status::InvalidArgument(fmt::format("schema: at {}: {}", path, what));
  }

  Result<const AvroNode*> Lookup(const std::string& name, const std::string& ns,
                                 const std::string& path) {
    if (auto it = Primitives().find(name); it != Primitives().end()) {
      return static_cast<const AvroNode*>(NewNode(it->second));
    }
    std::vector<std::string> candidates{Join(ns, name)};
    if (candidates[0] != name) candidates.push_back(name);
    for (const std::string& full : candidates) {
      if (auto it = named_.find(full); it != named_.end()) return it->second;
      if (names_ != nullptr) {
        if (const AvroNode* n = names_->Find(full)) return n;
      }
    }
    return Error(path, fmt::format("unknown type \"{}\"", name));
  }

  Result<const AvroNode*> ParseType(const json& j, const std::string& ns, const std::string& path) {
    if (++depth_ > kMaxSchemaDepth) {
      return Error(path, fmt::format("schema nested deeper than {}", kMaxSchemaDepth));
    }
    Result<const AvroNode*> node = ParseTypeAtDepth(j, ns, path);
    --depth_;
    return node;
  }

  Result<const AvroNode*> ParseTypeAtDepth(const json& j, const std::string& ns,
                                           const std::string& path) {
    if (j.is_string()) return Lookup(j.get<std::string>(), ns, path);
    if (j.is_array()) return ParseUnion(j, ns, path);
    if (!j.is_object()) return Error(path, "a schema must be a string, an array or an object");
    auto type_it = j.find("type");
    if (type_it == j.end()) return Error(path, "missing \"type\"");
    if (!type_it->is_string()) return ParseType(*type_it, ns, path);
    const std::string type = type_it->get<std::string>();
    AvroNode* node = nullptr;
    if (auto it = Primitives().find(type); it != Primitives().end()) {
      node = NewNode(it->second);
    } else if (type == "record" || type == "error") {
      WEIR_ASSIGN_OR_RETURN(node, ParseRecord(j, ns, path));
    } else if (type == "enum") {
      WEIR_ASSIGN_OR_RETURN(node, ParseEnum(j, ns, path));
    } else if (type == "fixed") {
      WEIR_ASSIGN_OR_RETURN(node, ParseFixed(j, ns, path));
    } else if (type == "array" || type == "map") {
      const char* key = type == "array" ? "items" : "values";
      auto items = j.find(key);
      if (items == j.end()) return Error(path, fmt::format("{} without \"{}\"", type, key));
      node = NewNode(type == "array" ? AvroType::kArray : AvroType::kMap);
      WEIR_ASSIGN_OR_RETURN(node->items,
                            ParseType(*items, ns, path + (type == "array" ? "[]" : "{}")));
    } else {
      WEIR_ASSIGN_OR_RETURN(const AvroNode* ref, Lookup(type, ns, path));
      return ref;
    }
    ApplyLogicalType(j, node);
    return static_cast<const AvroNode*>(node);
  }

  // Sets node->logical when the schema names a valid logical type; invalid or
  // unknown logical types are ignored, as the specification requires.
  static void ApplyLogicalType(const json& j, AvroNode* node) {
    auto it = j.find("logicalType");
    if (it == j.end() || !it->is_string()) return;
    const std::string lt = it->get<std::string>();
    const AvroType t = node->type;
    if (lt == "decimal" && (t == AvroType::kBytes || t == AvroType::kFixed)) {
      auto p = j.find("precision");
      auto s = j.find("scale");
      if (p == j.end() || !p->is_number_integer()) return;
      int64_t precision = p->get<int64_t>();
      int64_t scale = 0;
      if (s != j.end()) {
        if (!s->is_number_integer()) return;
        scale = s->get<int64_t>();
      }
      if (precision <= 0 || scale < 0 || scale > precision || precision > 1000) return;
      if (t == AvroType::kFixed) {
        // Largest precision that fits: floor(log10(2^(8*size-1) - 1)).
        if (node->size == 0) return;
        double max_digits =
            std::floor(std::log10(2.0) * (8.0 * static_cast<double>(node->size) - 1));
        if (static_cast<double>(precision) > max_digits) return;
      }
      node->logical = AvroLogicalType::kDecimal;
      node->precision = static_cast<int>(precision);
      node->scale = static_cast<int>(scale);
    } else if (lt == "uuid" && t == AvroType::kString) {
      node->logical = AvroLogicalType::kUuid;
    } else if (lt == "date" && t == AvroType::kInt) {
      node->logical = AvroLogicalType::kDate;
    } else if (lt == "time-millis" && t == AvroType::kInt) {
      node->logical = AvroLogicalType::kTimeMillis;
    } else if (lt == "time-micros" && t == AvroType::kLong) {
      node->logical = AvroLogicalType::kTimeMicros;
    } else if (lt == "timestamp-millis" && t == AvroType::kLong) {
      node->logical = AvroLogicalType::kTimestampMillis;
    } else if (lt == "timestamp-micros" && t == AvroType::kLong) {
      node->logical = AvroLogicalType::kTimestampMicros;
    } else if (lt == "local-timestamp-millis" && t == AvroType::kLong) {
      node->logical = AvroLogicalType::kLocalTimestampMillis;
    } else if (lt == "local-timestamp-micros" && t == AvroType::kLong) {
      node->logical = AvroLogicalType::kLocalTimestampMicros;
    } else if (lt == "duration" && t == AvroType::kFixed && node->size == 12) {
      node->logical = AvroLogicalType::kDuration;
    }
  }

  Result<const AvroNode*> ParseUnion(const json& j, const std::string& ns,
                                     const std::string& path) {
    AvroNode* node = NewNode(AvroType::kUnion);
    std::vector<std::string> seen;
    for (size_t i = 0; i < j.size(); ++i) {
      std::string branch_path = fmt::format("{}<branch {}>", path, i);
      WEIR_ASSIGN_OR_RETURN(const AvroNode* b, ParseType(j[i], ns, branch_path));
      if (b->type == AvroType::kUnion) {
        return Error(branch_path, "a union may not immediately contain another union");
      }
      std::string key = avro_internal::BranchName(*b);
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        return Error(branch_path, fmt::format("union contains \"{}\" twice", key));
      }
      seen.push_back(key);
      node->branches.push_back(b);
    }
    if (node->branches.empty()) return Error(path, "a union needs at least one branch");
    return static_cast<const AvroNode*>(node);
  }

  // Reads name, namespace and aliases of a named type and registers it.
  Result<AvroNode*> StartNamed(const json& j, AvroType type, const std::string& ns,
                               const std::string& path) {
    auto name_it = j.find("name");
    if (name_it == j.end() || !name_it->is_string()) {
      return Error(path, fmt::format("{} without a \"name\"", AvroTypeName(type)));
    }
    std::string name = name_it->get<std::string>();
    std::string own_ns = ns;
    if (auto ns_it = j.find("namespace"); ns_it != j.end()) {
      if (!ns_it->is_string() && !ns_it->is_null())
        return Error(path, "\"namespace\" must be a string");
      own_ns = ns_it->is_string() ? ns_it->get<std::string>() : "";
      if (!own_ns.empty() && !IsValidFullName(own_ns)) {
        return Error(path, fmt::format("invalid namespace \"{}\"", own_ns));
      }
    }
    std::string full = Join(own_ns, name);
    if (!IsValidFullName(full)) return Error(path, fmt::format("invalid name \"{}\"", name));
    if (Primitives().count(full) != 0) {
      return Error(path, fmt::format("\"{}\" is a primitive type name", full));
    }
    if (named_.count(full) != 0 || (names_ != nullptr && names_->Find(full) != nullptr)) {
      return Error(path, fmt::format("type \"{}\" is defined twice", full));
    }
    AvroNode* node = NewNode(type);
    node->full_name = full;
    node->name = full.substr(full.rfind('.') == std::string::npos ? 0 : full.rfind('.') + 1);
    const std::string type_ns = NamespaceOf(full);
    if (auto a = j.find("aliases"); a != j.end()) {
      if (!a->is_array()) return Error(path, "\"aliases\" must be an array of names");
      for (const json& alias : *a) {
        if (!alias.is_string() || !IsValidFullName(alias.get<std::string>())) {
          return Error(path, fmt::format("invalid alias {}", alias.dump()));
        }
        node->aliases.push_back(Join(type_ns, alias.get<std::string>()));
      }
    }
    if (auto d = j.find("doc"); d != j.end() && d->is_string()) node->doc = d->get<std::string>();
    named_[full] = node;
    return node;
  }

  Result<AvroNode*> ParseRecord(const json& j, const std::string& ns, const std::string& path) {
    WEIR_ASSIGN_OR_RETURN(AvroNode * node, StartNamed(j, AvroType::kRecord, ns, path));
    const std::string rec_path = path == "$" ? node->name : path;
    const std::string type_ns = NamespaceOf(node->full_name);
    auto fields = j.find("fields");
    if (fields == j.end() || !fields->is_array()) {
      return Error(rec_path, "record without a \"fields\" array");
    }
    node->fields.reserve(fields->size());  // fields are pointed to by PendingDefault
    for (const json& f : *fields) {
      if (!f.is_object()) return Error(rec_path, "a field must be an object");
      auto name_it = f.find("name");
      if (name_it == f.end() || !name_it->is_string() ||
          !IsValidName(name_it->get<std::string>())) {
        return Error(rec_path, fmt::format("field without a valid \"name\": {}", f.dump()));
      }
      AvroField field;
      field.name = name_it->get<std::string>();
      const std::string field_path = rec_path + "." + field.name;
      if (node->FieldIndex(field.name) >= 0) return Error(field_path, "duplicate field name");
      auto type_it = f.find("type");
      if (type_it == f.end()) return Error(field_path, "field without a \"type\"");
      WEIR_ASSIGN_OR_RETURN(field.type, ParseType(*type_it, type_ns, field_path));
      if (auto a = f.find("aliases"); a != f.end()) {
        if (!a->is_array()) return Error(field_path, "\"aliases\" must be an array of names");
        for (const json& alias : *a) {
          if (!alias.is_string()) return Error(field_path, "\"aliases\" must be an array of names");
          field.aliases.push_back(alias.get<std::string>());
        }
      }
      if (auto d = f.find("doc"); d != f.end() && d->is_string()) field.doc = d->get<std::string>();
      if (auto o = f.find("order"); o != f.end()) {
        if (!o->is_string() || (*o != "ascending" && *o != "descending" && *o != "ignore")) {
          return Error(field_path, "\"order\" must be ascending, descending or ignore");
        }
        field.order = o->get<std::string>();
      }
      node->fields.push_back(std::move(field));
      if (auto d = f.find("default"); d != f.end()) {
        defaults_.push_back({&node->fields.back(), *d, field_path});
      }
    }
    return node;
  }

  Result<AvroNode*> ParseEnum(const json& j, const std::string& ns, const std::string& path) {
    WEIR_ASSIGN_OR_RETURN(AvroNode * node, StartNamed(j, AvroType::kEnum, ns, path));
    auto symbols = j.find("symbols");
    if (symbols == j.end() || !symbols->is_array()) {
      return Error(path, fmt::format("enum {} without a \"symbols\" array", node->full_name));
    }
    for (const json& s : *symbols) {
      if (!s.is_string() || !IsValidName(s.get<std::string>())) {
        return Error(path, fmt::format("enum {}: invalid symbol {}", node->full_name, s.dump()));
      }
      if (node->SymbolIndex(s.get<std::string>()) >= 0) {
        return Error(path, fmt::format("enum {}: duplicate symbol {}", node->full_name, s.dump()));
      }
      node->symbols.push_back(s.get<std::string>());
    }
    if (auto d = j.find("default"); d != j.end()) {
      if (!d->is_string() || node->SymbolIndex(d->get<std::string>()) < 0) {
        return Error(
            path, fmt::format("enum {}: default {} is not a symbol", node->full_name, d->dump()));
      }
      node->enum_default = d->get<std::string>();
    }
    return node;
  }

  Result<AvroNode*> ParseFixed(const json& j, const std::string& ns, const std::string& path) {
    WEIR_ASSIGN_OR_RETURN(AvroNode * node, StartNamed(j, AvroType::kFixed, ns, path));
    auto size = j.find("size");
    if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0 ||
        size->get<int64_t>() > (int64_t{1} << 30)) {
      return Error(path, fmt::format("fixed {} needs a \"size\" of 0..2^30", node->full_name));
    }
    node->size = static_cast<size_t>(size->get<int64_t>());
    return node;
  }

  AvroSchema::Arena* arena_;
  const AvroNames* names_;
  std::map<std::string, const AvroNode*, std::less<>> named_;
  std::vector<PendingDefault> defaults_;
  int depth_ = 0;
};

}  // namespace

std::string_view AvroTypeName(AvroType type) {
  switch (type) {
    case AvroType::kNull:
      return "null";
    case AvroType::kBoolean:
      return "boolean";
    case AvroType::kInt:
      return "int";
    case AvroType::kLong:
      return "long";
    case AvroType::kFloat:
      return "float";
    case AvroType::kDouble:
      return "double";
    case AvroType::kBytes:
      return "bytes";
    case AvroType::kString:
      return "string";
    case AvroType::kRecord:
      return "record";
    case AvroType::kEnum:
      return "enum";
    case AvroType::kArray:
      return "array";
    case AvroType::kMap:
      return "map";
    case AvroType::kUnion:
      return "union";
    case AvroType::kFixed:
      return "fixed";
  }
  return "?";
}

int AvroNode::FieldIndex(std::string_view field_name) const {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == field_name) return static_cast<int>(i);
  }
  return -1;
}

int AvroNode::SymbolIndex(std::string_view symbol) const {
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (symbols[i] == symbol) return static_cast<int>(i);
  }
  return -1;
}

Result<AvroSchema> AvroSchema::Parse(std::string_view json_text, const AvroNames* names) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("schema: not valid JSON");
  auto arena = std::make_shared<Arena>();
  if (names != nullptr) {
    // Keep every schema the names come from alive; references may point into any.
    for (const AvroSchema& s : names->schemas_) arena->deps.push_back(s.arena_);
  }
  Parser parser(arena.get(), names);
  WEIR_ASSIGN_OR_RETURN(const AvroNode* root, parser.ParseRoot(j));
  return AvroSchema(std::move(arena), root);
}

Status AvroNames::Add(const AvroSchema& schema) {
  std::vector<std::pair<std::string, const AvroNode*>> found;
  std::vector<const AvroNode*> stack{&schema.root()};
  std::vector<const AvroNode*> visited;
  while (!stack.empty()) {
    const AvroNode* n = stack.back();
    stack.pop_back();
    if (std::find(visited.begin(), visited.end(), n) != visited.end()) continue;
    visited.push_back(n);
    if (!n->full_name.empty()) {
      const AvroNode* known = Find(n->full_name);
      if (known != nullptr && known != n) {
        return Status::AlreadyExists(
            fmt::format("Avro type \"{}\" is already known", n->full_name));
      }
      if (known == nullptr) found.emplace_back(n->full_name, n);
    }
    for (const AvroField& f : n->fields) stack.push_back(f.type);
    for (const AvroNode* b : n->branches) stack.push_back(b);
    if (n->items != nullptr) stack.push_back(n->items);
  }
  schemas_.push_back(schema);
  types_.insert(types_.end(), found.begin(), found.end());
  return Status::Ok();
}

const AvroNode* AvroNames::Find(std::string_view full_name) const {
  for (const auto& [name, node] : types_) {
    if (name == full_name) return node;
  }
  return nullptr;
}

namespace avro_internal {

std::string PathRoot(const AvroNode& root) {
  return root.type == AvroType::kRecord ? root.name : std::string("$");
}

std::string BranchName(const AvroNode& node) {
  if (!node.full_name.empty()) return node.full_name;
  return std::string(AvroTypeName(node.type));
}

std::string Describe(const AvroNode& node) {
  if (!node.full_name.empty()) {
    return fmt::format("{} {}", AvroTypeName(node.type), node.full_name);
  }
  return std::string(AvroTypeName(node.type));
}

}  // namespace avro_internal
}  // namespace weir::schema
