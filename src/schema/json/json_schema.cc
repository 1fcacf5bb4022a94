#include "weir/schema/json_schema.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <unordered_map>
#include <utility>

#include "schema/json/metaschemas.h"
#include "schema/json/uri.h"
#include "weir/schema/json_schema_nlohmann.h"

namespace weir::schema {
namespace {

using Json = nlohmann::json;

enum class Draft : uint8_t { k7, k2020 };

Draft DraftFromSchemaUri(const std::string& uri, Draft fallback) {
  for (const char* old : {"draft-07", "draft-06", "draft-04"}) {
    if (uri.find(old) != std::string::npos) return Draft::k7;
  }
  for (const char* recent : {"draft/2020-12", "draft/2019-09"}) {
    if (uri.find(recent) != std::string::npos) return Draft::k2020;
  }
  return fallback;
}

// RFC 6901 escaping of one reference token.
std::string EscapeToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string UnescapeToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out.push_back(token[i + 1] == '0' ? '~' : '/');
      ++i;
    } else {
      out.push_back(token[i]);
    }
  }
  return out;
}

// Counts Unicode code points of UTF-8 text: every byte that does not continue
// a sequence starts one.
size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Patterns run on code points, not bytes, so that "." matches "é" and a range
// may name non-ASCII characters: std::wregex over UTF-32 (wchar_t on Linux).
static_assert(sizeof(wchar_t) == 4, "patterns need a 32-bit wchar_t");

// libstdc++'s default (depth-first) matcher recurses once per input character
// and overflows the stack on long strings (~50k characters for "^(a|b)*$"):
// untrusted events must not crash the process. Its breadth-first matcher
// (__polynomial) recurses only as deep as the pattern and runs in polynomial
// time; libstdc++ falls back to depth-first for back-references.
#if defined(__GLIBCXX__)
constexpr auto kRegexFlags = std::regex::ECMAScript | std::regex_constants::__polynomial;
#else
constexpr auto kRegexFlags = std::regex::ECMAScript;
#endif

// Decodes UTF-8; a malformed sequence becomes U+FFFD.
std::wstring Utf8ToCodePoints(std::string_view s) {
  std::wstring out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    int extra = c < 0x80           ? 0
                : (c >> 5) == 0x6  ? 1
                : (c >> 4) == 0xE  ? 2
                : (c >> 3) == 0x1E ? 3
                                   : -1;
    if (extra < 0 || i + extra >= s.size()) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    char32_t cp = extra == 0 ? c : (c & (0x3F >> extra));
    bool ok = true;
    for (int k = 1; k <= extra; ++k) {
      auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (next & 0x3F);
    }
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(static_cast<wchar_t>(cp));
    i += extra + 1;
  }
  return out;
}

bool IsInteger(const Json& v) {
  if (v.is_number_integer()) return true;  // signed and unsigned
  if (!v.is_number_float()) return false;
  double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

const char* TypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    default:
      return "unknown";
  }
}

bool HasType(const Json& v, const std::string& type) {
  if (type == "integer") return IsInteger(v);
  if (type == "number") return v.is_number();
  if (type == "string") return v.is_string();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  return false;
}

bool IsMultipleOf(const Json& value, const Json& divisor) {
  if (value.is_number_integer() && divisor.is_number_integer() && !value.is_number_unsigned() &&
      !divisor.is_number_unsigned()) {
    int64_t d = divisor.get<int64_t>();
    if (d == 0) return false;
    if (d == -1) return true;
    return value.get<int64_t>() % d == 0;
  }
  double d = divisor.get<double>();
  double q = value.get<double>() / d;
  if (!std::isfinite(q)) {
    // Overflow: an integer is still a multiple of 1/k for integral k.
    double k = 1 / d;
    return IsInteger(value) && std::isfinite(k) && std::floor(k) == k;
  }
  return std::fabs(q - std::round(q)) <= 1e-9 * std::max(1.0, std::fabs(q));
}

// Turns a parse exception into a message naming the byte offset.
Status ParseError(std::string_view what, const Json::exception& e, size_t byte) {
  std::string detail = e.what();
  size_t bracket = detail.find("] ");
  if (bracket != std::string::npos) detail = detail.substr(bracket + 2);
  return Status::InvalidArgument(
      fmt::format("{} is not valid JSON (error at byte {}): {}", what, byte, detail));
}

Result<Json> ParseJson(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text.data(), text.data() + text.size());
  } catch (const Json::parse_error& e) {
    return ParseError(what, e, e.byte);
  } catch (const Json::exception& e) {
    return ParseError(what, e, 0);
  }
}

// What the indexer knows about one schema (an object or a boolean).
struct SchemaNode {
  std::string base;      // absolute base URI for "$ref" in this schema, no fragment
  std::string location;  // "#/properties/a" or "<document uri>#/..."
  Draft draft = Draft::k2020;
  const Json* ref = nullptr;          // target of "$ref"
  const Json* dynamic_ref = nullptr;  // initial target of "$dynamicRef"
  std::string dynamic_anchor;         // set when "$dynamicRef" names a "$dynamicAnchor"
  // False when the document's meta-schema leaves out the 2020-12 validation
  // vocabulary: then only applicators (and core) apply.
  bool validation = true;
};

SchemaNode MakeNode(const std::string& base, const std::string& location, Draft draft) {
  SchemaNode node;
  node.base = base;
  node.location = location;
  node.draft = draft;
  return node;
}

// Everything Parse() builds; Validate() only reads it.
struct SchemaSet {
  Draft draft = Draft::k2020;
  int max_depth = 256;
  std::deque<Json> documents;  // [0] is the root; a deque keeps addresses stable
  std::unordered_map<const Json*, SchemaNode> nodes;
  std::unordered_map<std::string, const Json*> resources;  // URI without fragment
  std::unordered_map<std::string, const Json*> anchors;    // "uri#name"
  std::unordered_map<std::string, const Json*> dynamic_anchors;
  std::unordered_map<std::string, std::wregex> regexes;  // by source pattern
  bool needs_annotations = false;                        // unevaluated* appears
};

// Indexes documents and resolves references. Lives only during Parse().
class SchemaBuilder {
 public:
  SchemaBuilder(SchemaSet* impl, const JsonSchemaOptions& options)
      : impl_(impl), options_(options) {}

  Status Build(Json root) {
    Draft fallback = Draft::k2020;
    if (options_.draft == JsonSchemaDraft::kDraft7) fallback = Draft::k7;
    Draft draft = fallback;
    if (options_.draft == JsonSchemaDraft::kAuto && root.is_object()) {
      auto s = root.find("$schema");
      if (s != root.end() && s->is_string()) draft = DraftFromSchemaUri(*s, fallback);
    }
    if (!root.is_object() && !root.is_boolean()) {
      return Status::InvalidArgument(
          fmt::format("a schema must be an object or a boolean, not {}", TypeName(root)));
    }
    impl_->draft = draft;
    impl_->max_depth = options_.max_depth;
    impl_->documents.push_back(std::move(root));
    const Json& doc = impl_->documents.back();
    impl_->resources[options_.base_uri] = &doc;
    Index(doc, options_.base_uri, "#", draft, /*explicit_draft=*/true);
    WEIR_RETURN_IF_ERROR(first_error_);
    WEIR_RETURN_IF_ERROR(ResolveAllPending());
    for (size_t i = 0; i < dialects_.size(); ++i) {
      WEIR_RETURN_IF_ERROR(ApplyVocabularies(dialects_[i].first, dialects_[i].second));
      WEIR_RETURN_IF_ERROR(ResolveAllPending());
    }
    return first_error_;
  }

 private:
  // Records |schema| and every subschema under a keyword of |draft| that
  // holds schemas. |base| is the base URI of the enclosing schema.
  void Index(const Json& schema, std::string base, const std::string& location, Draft draft,
             bool explicit_draft = false) {
    if (impl_->nodes.count(&schema) != 0) return;
    if (schema.is_boolean()) {
      impl_->nodes.emplace(&schema, MakeNode(base, location, draft));
      return;
    }
    if (!schema.is_object()) return;
    auto schema_uri = schema.find("$schema");
    if (!explicit_draft && schema_uri != schema.end() && schema_uri->is_string()) {
      draft = DraftFromSchemaUri(*schema_uri, draft);
    }
    if (draft == Draft::k2020 && !location.empty() && location.back() == '#' &&
        schema_uri != schema.end() && schema_uri->is_string() &&
        !json::IsStandardMetaschema(json::ResolveUri("", schema_uri->get<std::string>()))) {
      dialects_.emplace_back(location, json::ResolveUri(base, schema_uri->get<std::string>()));
    }
    bool has_ref = schema.contains("$ref");
    auto id = schema.find("$id");
    if (id != schema.end() && id->is_string() && !(draft == Draft::k7 && has_ref)) {
      const std::string& text = id->get_ref<const std::string&>();
      if (draft == Draft::k7 && !text.empty() && text[0] == '#') {
        impl_->anchors[base + text] = &schema;
      } else {
        std::string fragment;
        json::SplitFragment(json::ResolveUri(base, text), &base, &fragment);
        impl_->resources[base] = &schema;
        if (!fragment.empty() && draft == Draft::k7)
          impl_->anchors[base + "#" + fragment] = &schema;
      }
    }
    if (draft == Draft::k2020) {
      auto anchor = schema.find("$anchor");
      if (anchor != schema.end() && anchor->is_string()) {
        impl_->anchors[base + "#" + anchor->get<std::string>()] = &schema;
      }
      auto dynamic = schema.find("$dynamicAnchor");
      if (dynamic != schema.end() && dynamic->is_string()) {
        std::string key = base + "#" + dynamic->get<std::string>();
        impl_->anchors.emplace(key, &schema);
        impl_->dynamic_anchors[key] = &schema;
      }
      auto dynamic_ref = schema.find("$dynamicRef");
      if (dynamic_ref != schema.end() && dynamic_ref->is_string()) {
        pending_.emplace_back(&schema, true);
      }
      if (schema.contains("unevaluatedProperties") || schema.contains("unevaluatedItems")) {
        impl_->needs_annotations = true;
      }
    }
    if (has_ref && schema["$ref"].is_string()) pending_.emplace_back(&schema, false);
    auto pattern = schema.find("pattern");
    if (pattern != schema.end() && pattern->is_string()) CompileRegex(*pattern, location);
    auto pattern_properties = schema.find("patternProperties");
    if (pattern_properties != schema.end() && pattern_properties->is_object()) {
      for (const auto& [key, unused] : pattern_properties->items()) CompileRegex(key, location);
    }
    impl_->nodes.emplace(&schema, MakeNode(base, location, draft));

    auto one = [&](const char* keyword) {
      auto it = schema.find(keyword);
      if (it != schema.end()) Index(*it, base, location + "/" + keyword, draft);
    };
    auto array = [&](const char* keyword) {
      auto it = schema.find(keyword);
      if (it == schema.end() || !it->is_array()) return;
      for (size_t i = 0; i < it->size(); ++i) {
        Index((*it)[i], base, fmt::format("{}/{}/{}", location, keyword, i), draft);
      }
    };
    auto map = [&](const char* keyword) {
      auto it = schema.find(keyword);
      if (it == schema.end() || !it->is_object()) return;
      for (const auto& [key, sub] : it->items()) {
        Index(sub, base, fmt::format("{}/{}/{}", location, keyword, EscapeToken(key)), draft);
      }
    };
    for (const char* keyword :
         {"additionalProperties", "propertyNames", "if", "then", "else", "not", "contains"}) {
      one(keyword);
    }
    for (const char* keyword : {"allOf", "anyOf", "oneOf"}) array(keyword);
    for (const char* keyword : {"properties", "patternProperties"}) map(keyword);
    if (draft == Draft::k7) {
      auto items = schema.find("items");
      if (items != schema.end() && items->is_array()) {
        array("items");
      } else {
        one("items");
      }
      one("additionalItems");
      map("definitions");
      map("dependencies");
    } else {
      array("prefixItems");
      for (const char* keyword : {"items", "unevaluatedItems", "unevaluatedProperties"}) {
        one(keyword);
      }
      map("$defs");
      map("dependentSchemas");
    }
  }

  void CompileRegex(const std::string& pattern, const std::string& location) {
    if (impl_->regexes.count(pattern) != 0) return;
    try {
      impl_->regexes.emplace(pattern, std::wregex(Utf8ToCodePoints(pattern), kRegexFlags));
    } catch (const std::regex_error& e) {
      if (first_error_.ok()) {
        first_error_ = Status::Unsupported(
            fmt::format("{}: pattern \"{}\" is not supported by std::regex (ECMAScript): {}",
                        location, pattern, e.what()));
      }
    }
  }

  Status ResolveAllPending() {
    for (; next_pending_ < pending_.size(); ++next_pending_) {
      auto [schema, dynamic] = pending_[next_pending_];
      WEIR_RETURN_IF_ERROR(ResolvePending(schema, dynamic));
    }
    return Status::Ok();
  }

  // Reads "$vocabulary" of the meta-schema |metaschema_uri| that the document
  // at |location| (e.g. "#") declares in "$schema", and switches the
  // validation vocabulary off for that document when the meta-schema omits it.
  Status ApplyVocabularies(const std::string& location, const std::string& metaschema_uri) {
    WEIR_ASSIGN_OR_RETURN(const Json* meta,
                          Lookup(metaschema_uri, Draft::k2020, location + "/$schema"));
    auto vocabularies = meta->is_object() ? meta->find("$vocabulary") : meta->end();
    if (!meta->is_object() || vocabularies == meta->end() || !vocabularies->is_object()) {
      return Status::Ok();
    }
    const std::string prefix = "https://json-schema.org/draft/2020-12/vocab/";
    bool validation = false;
    for (const auto& [uri, required] : vocabularies->items()) {
      if (uri == prefix + "validation") {
        validation = true;
      } else if (uri.rfind(prefix, 0) != 0 && required.is_boolean() && required.get<bool>()) {
        return Status::Unsupported(fmt::format(
            "{}/$schema: meta-schema \"{}\" requires vocabulary \"{}\", which weir does not know",
            location, metaschema_uri, uri));
      }
    }
    if (validation) return Status::Ok();
    for (auto& [unused, node] : impl_->nodes) {
      if (node.location.rfind(location, 0) == 0 && node.location.find('#') == location.size() - 1) {
        node.validation = false;
      }
    }
    return Status::Ok();
  }

  Status ResolvePending(const Json* schema, bool dynamic) {
    const char* keyword = dynamic ? "$dynamicRef" : "$ref";
    std::string uri;
    std::string from;
    Draft draft;
    {
      const SchemaNode& node = impl_->nodes.at(schema);
      uri = json::ResolveUri(node.base, (*schema)[keyword].get<std::string>());
      from = node.location + "/" + keyword;
      draft = node.draft;
    }
    WEIR_ASSIGN_OR_RETURN(const Json* target, Lookup(uri, draft, from));
    SchemaNode& node = impl_->nodes.at(schema);  // Lookup may have rehashed the map
    if (!dynamic) {
      node.ref = target;
      return Status::Ok();
    }
    node.dynamic_ref = target;
    std::string document;
    std::string fragment;
    json::SplitFragment(uri, &document, &fragment);
    if (!fragment.empty() && fragment[0] != '/' &&
        impl_->dynamic_anchors.count(document + "#" + fragment) != 0) {
      node.dynamic_anchor = fragment;
    }
    return Status::Ok();
  }

  // Finds the schema named by the absolute |uri|, loading its document when
  // needed. |from| names the referencing keyword for error messages.
  Result<const Json*> Lookup(const std::string& uri, Draft draft, const std::string& from) {
    std::string document;
    std::string fragment;
    json::SplitFragment(uri, &document, &fragment);
    fragment = json::PercentDecode(fragment);
    auto resource = impl_->resources.find(document);
    if (resource == impl_->resources.end()) {
      WEIR_RETURN_IF_ERROR(Load(document, draft, from));
      resource = impl_->resources.find(document);
    }
    const Json* target = resource->second;
    if (fragment.empty()) return target;
    if (fragment[0] != '/') {
      auto anchor = impl_->anchors.find(document + "#" + fragment);
      if (anchor == impl_->anchors.end()) {
        return Status::NotFound(
            fmt::format("{}: \"{}\" names no anchor in \"{}\"", from, uri, document));
      }
      return anchor->second;
    }
    // A JSON pointer: walk it, following the base URI through any "$id".
    const SchemaNode& start = impl_->nodes.at(target);
    std::string base = start.base;
    std::string location = start.location;
    Draft target_draft = start.draft;
    size_t pos = 1;
    while (pos <= fragment.size()) {
      size_t slash = fragment.find('/', pos);
      if (slash == std::string::npos) slash = fragment.size();
      std::string token = UnescapeToken(std::string_view(fragment).substr(pos, slash - pos));
      pos = slash + 1;
      const Json* next = nullptr;
      if (target->is_object()) {
        auto it = target->find(token);
        if (it != target->end()) next = &*it;
      } else if (target->is_array() && !token.empty() && token.size() <= 18 &&
                 token.find_first_not_of("0123456789") == std::string::npos &&
                 std::stoull(token) < target->size()) {
        next = &(*target)[std::stoull(token)];
      }
      if (next == nullptr) {
        return Status::NotFound(fmt::format("{}: \"{}\" points to nothing", from, uri));
      }
      target = next;
      location += "/" + EscapeToken(token);
      auto known = impl_->nodes.find(target);
      if (known != impl_->nodes.end()) {
        base = known->second.base;
        location = known->second.location;
        target_draft = known->second.draft;
      }
    }
    if (impl_->nodes.count(target) == 0) Index(*target, base, location, target_draft);
    if (!target->is_object() && !target->is_boolean()) {
      return Status::InvalidArgument(
          fmt::format("{}: \"{}\" points to a {}, not a schema", from, uri, TypeName(*target)));
    }
    WEIR_RETURN_IF_ERROR(first_error_);
    return target;
  }

  Status Load(const std::string& document, Draft draft, const std::string& from) {
    std::optional<std::string_view> builtin = json::BuiltinMetaschema(document);
    if (!builtin && !options_.resolver) {
      return Status::NotFound(fmt::format(
          "{}: \"{}\" is not part of the schema and no resolver was given", from, document));
    }
    Result<std::string> text =
        builtin ? Result<std::string>(std::string(*builtin)) : options_.resolver(document);
    if (!text.ok()) {
      return Status::NotFound(
          fmt::format("{}: cannot load \"{}\": {}", from, document, text.status().ToString()));
    }
    WEIR_ASSIGN_OR_RETURN(Json parsed, ParseJson(*text, fmt::format("schema \"{}\"", document)));
    if (!parsed.is_object() && !parsed.is_boolean()) {
      return Status::InvalidArgument(
          fmt::format("{}: \"{}\" is a {}, not a schema", from, document, TypeName(parsed)));
    }
    impl_->documents.push_back(std::move(parsed));
    const Json& root = impl_->documents.back();
    impl_->resources[document] = &root;
    Index(root, document, document + "#", draft);
    return first_error_;
  }

  SchemaSet* impl_;
  const JsonSchemaOptions& options_;
  std::vector<std::pair<const Json*, bool>> pending_;  // schema, is $dynamicRef
  size_t next_pending_ = 0;
  // Documents whose "$schema" names a custom meta-schema: location, its URI.
  std::vector<std::pair<std::string, std::string>> dialects_;
  Status first_error_;
};

// Which properties and items of the instance the schema has evaluated so
// far: what unevaluatedProperties and unevaluatedItems need.
struct Annotations {
  bool all_properties = false;
  std::set<std::string> properties;
  bool all_items = false;
  size_t items_prefix = 0;
  std::set<size_t> items;

  void Merge(const Annotations& other) {
    all_properties = all_properties || other.all_properties;
    properties.insert(other.properties.begin(), other.properties.end());
    all_items = all_items || other.all_items;
    items_prefix = std::max(items_prefix, other.items_prefix);
    items.insert(other.items.begin(), other.items.end());
  }
};

// One validation of one instance. Not thread-safe; cheap to create.
class Validator {
 public:
  // |errors| may be null: report nothing. |fail_fast|: stop at the first failure.
  Validator(const SchemaSet& impl, std::vector<ValidationError>* errors, bool fail_fast)
      : impl_(impl), errors_(errors), fail_fast_(fail_fast) {}

  bool Run(const Json& instance) {
    return Eval(instance, impl_.documents.front(), nullptr, "false");
  }

 private:
  // Appends "/token" to the instance path for its lifetime.
  class PathGuard {
   public:
    PathGuard(std::string* path, std::string_view token) : path_(path), size_(path->size()) {
      path_->push_back('/');
      path_->append(EscapeToken(token));
    }
    PathGuard(std::string* path, size_t index) : path_(path), size_(path->size()) {
      fmt::format_to(std::back_inserter(*path_), "/{}", index);
    }
    ~PathGuard() { path_->resize(size_); }
    PathGuard(const PathGuard&) = delete;
    PathGuard& operator=(const PathGuard&) = delete;

   private:
    std::string* path_;
    size_t size_;
  };

  void Report(const SchemaNode& node, std::string_view keyword, std::string message) {
    if (errors_ == nullptr) return;
    errors_->push_back(ValidationError{path_, std::string(keyword),
                                       fmt::format("{}/{}", node.location, keyword),
                                       std::move(message)});
  }

  // Evaluates |schema| against |instance| without reporting errors, e.g. for
  // one branch of anyOf.
  bool Quiet(const Json& instance, const Json& schema, Annotations* annotations) {
    std::vector<ValidationError>* errors = errors_;
    bool fail_fast = fail_fast_;
    errors_ = nullptr;
    fail_fast_ = true;
    bool valid = Eval(instance, schema, annotations, "false");
    errors_ = errors;
    fail_fast_ = fail_fast;
    return valid;
  }

  // |false_keyword| names the failure when |schema| is the literal false
  // (e.g. "additionalProperties"). |annotations| may be null.
  bool Eval(const Json& instance, const Json& schema, Annotations* annotations,
            std::string_view false_keyword) {
    auto found = impl_.nodes.find(&schema);
    if (schema.is_boolean()) {
      if (schema.get<bool>()) return true;
      if (errors_ != nullptr) {
        std::string location = found != impl_.nodes.end() ? found->second.location : "";
        errors_->push_back(ValidationError{path_, std::string(false_keyword), location,
                                           "no value is allowed here (schema is false)"});
      }
      return false;
    }
    if (found == impl_.nodes.end() || !schema.is_object()) return true;
    const SchemaNode& node = found->second;
    if (depth_ >= impl_.max_depth) {
      Report(node, "$ref", fmt::format("evaluation is nested deeper than {} levels", depth_));
      return false;
    }
    ++depth_;
    bool pushed = scope_.empty() || *scope_.back() != node.base;
    if (pushed) scope_.push_back(&node.base);
    bool valid;
    if (impl_.needs_annotations) {
      Annotations local;
      valid = EvalKeywords(instance, schema, node, &local);
      if (valid && annotations != nullptr) annotations->Merge(local);
    } else {
      valid = EvalKeywords(instance, schema, node, nullptr);
    }
    if (pushed) scope_.pop_back();
    --depth_;
    return valid;
  }

  bool EvalRef(const Json& instance, const Json& target, const SchemaNode& node,
               std::string_view keyword, Annotations* annotations) {
    for (const auto& [schema, value] : ref_stack_) {
      if (schema == &target && value == &instance) {
        Report(node, keyword, "infinite $ref loop: the same schema again on the same value");
        return false;
      }
    }
    ref_stack_.emplace_back(&target, &instance);
    bool valid = Eval(instance, target, annotations, keyword);
    ref_stack_.pop_back();
    return valid;
  }

  bool EvalKeywords(const Json& instance, const Json& schema, const SchemaNode& node,
                    Annotations* ann);
  bool EvalNumber(const Json& instance, const Json& schema, const SchemaNode& node);
  bool EvalString(const Json& instance, const Json& schema, const SchemaNode& node);
  bool EvalArray(const Json& instance, const Json& schema, const SchemaNode& node,
                 Annotations* ann);
  bool EvalObject(const Json& instance, const Json& schema, const SchemaNode& node,
                  Annotations* ann);
  bool EvalApplicators(const Json& instance, const Json& schema, const SchemaNode& node,
                       Annotations* ann);

  bool Search(const std::string& pattern, const std::string& text) const {
    auto regex = impl_.regexes.find(pattern);
    if (regex == impl_.regexes.end()) return true;
    try {
      return std::regex_search(Utf8ToCodePoints(text), regex->second);
    } catch (const std::regex_error&) {
      return false;  // std::regex ran out of stack or steps on this input
    }
  }

  const SchemaSet& impl_;
  std::vector<ValidationError>* errors_;
  bool fail_fast_;
  std::string path_;
  std::vector<const std::string*> scope_;  // dynamic scope: base URIs entered
  std::vector<std::pair<const Json*, const Json*>> ref_stack_;
  int depth_ = 0;
};

// Inside Eval* functions: records a failure of |keyword| and returns when
// stopping at the first failure. The message is only formatted when wanted.
#define WEIR_JSON_FAIL(keyword, ...)                                         \
  do {                                                                       \
    valid = false;                                                           \
    if (errors_ != nullptr) Report(node, keyword, fmt::format(__VA_ARGS__)); \
    if (fail_fast_) return false;                                            \
  } while (0)

// Inside Eval* functions: a subschema evaluation that reported its own errors.
#define WEIR_JSON_SUB(expr)         \
  do {                              \
    if (!(expr)) {                  \
      valid = false;                \
      if (fail_fast_) return false; \
    }                               \
  } while (0)

bool Validator::EvalKeywords(const Json& instance, const Json& schema, const SchemaNode& node,
                             Annotations* ann) {
  bool valid = true;
  if (node.ref != nullptr) {
    WEIR_JSON_SUB(EvalRef(instance, *node.ref, node, "$ref", ann));
    if (node.draft == Draft::k7) return valid;  // draft 7 ignores siblings of $ref
  }
  if (node.dynamic_ref != nullptr) {
    const Json* target = node.dynamic_ref;
    if (!node.dynamic_anchor.empty()) {
      for (const std::string* resource : scope_) {
        auto anchor = impl_.dynamic_anchors.find(*resource + "#" + node.dynamic_anchor);
        if (anchor != impl_.dynamic_anchors.end()) {
          target = anchor->second;
          break;
        }
      }
    }
    WEIR_JSON_SUB(EvalRef(instance, *target, node, "$dynamicRef", ann));
  }

  if (node.validation) {
    auto type = schema.find("type");
    if (type != schema.end()) {
      bool match = false;
      if (type->is_string()) {
        match = HasType(instance, type->get_ref<const std::string&>());
      } else if (type->is_array()) {
        for (const Json& t : *type) match = match || (t.is_string() && HasType(instance, t));
      }
      if (!match)
        WEIR_JSON_FAIL("type", "value is {}, expected {}", TypeName(instance), type->dump());
    }
    auto enumeration = schema.find("enum");
    if (enumeration != schema.end() && enumeration->is_array()) {
      bool match = false;
      for (const Json& v : *enumeration) match = match || v == instance;
      if (!match) {
        WEIR_JSON_FAIL("enum", "value {} is not one of {}", instance.dump(), enumeration->dump());
      }
    }
    auto constant = schema.find("const");
    if (constant != schema.end() && *constant != instance) {
      WEIR_JSON_FAIL("const", "value {} is not {}", instance.dump(), constant->dump());
    }
    if (instance.is_number()) {
      WEIR_JSON_SUB(EvalNumber(instance, schema, node));
    } else if (instance.is_string()) {
      WEIR_JSON_SUB(EvalString(instance, schema, node));
    }
  }
  if (instance.is_array()) {
    WEIR_JSON_SUB(EvalArray(instance, schema, node, ann));
  } else if (instance.is_object()) {
    WEIR_JSON_SUB(EvalObject(instance, schema, node, ann));
  }
  WEIR_JSON_SUB(EvalApplicators(instance, schema, node, ann));

  // unevaluated* come last: they see what every other keyword evaluated.
  if (node.draft == Draft::k2020 && ann != nullptr) {
    auto unevaluated_items = schema.find("unevaluatedItems");
    if (instance.is_array() && unevaluated_items != schema.end() && !ann->all_items) {
      for (size_t i = ann->items_prefix; i < instance.size(); ++i) {
        if (ann->items.count(i) != 0) continue;
        PathGuard guard(&path_, i);
        WEIR_JSON_SUB(Eval(instance[i], *unevaluated_items, nullptr, "unevaluatedItems"));
      }
      ann->all_items = true;
    }
    auto unevaluated_properties = schema.find("unevaluatedProperties");
    if (instance.is_object() && unevaluated_properties != schema.end() && !ann->all_properties) {
      for (const auto& [key, value] : instance.items()) {
        if (ann->properties.count(key) != 0) continue;
        PathGuard guard(&path_, key);
        WEIR_JSON_SUB(Eval(value, *unevaluated_properties, nullptr, "unevaluatedProperties"));
      }
      ann->all_properties = true;
    }
  }
  return valid;
}

bool Validator::EvalNumber(const Json& instance, const Json& schema, const SchemaNode& node) {
  bool valid = true;
  double x = instance.get<double>();
  auto multiple_of = schema.find("multipleOf");
  if (multiple_of != schema.end() && multiple_of->is_number() &&
      !IsMultipleOf(instance, *multiple_of)) {
    WEIR_JSON_FAIL("multipleOf", "{} is not a multiple of {}", instance.dump(),
                   multiple_of->dump());
  }
  auto bound = [&](const char* keyword) -> const Json* {
    auto it = schema.find(keyword);
    return it != schema.end() && it->is_number() ? &*it : nullptr;
  };
  if (const Json* m = bound("maximum"); m != nullptr && !(x <= m->get<double>())) {
    WEIR_JSON_FAIL("maximum", "{} is greater than {}", instance.dump(), m->dump());
  }
  if (const Json* m = bound("exclusiveMaximum"); m != nullptr && !(x < m->get<double>())) {
    WEIR_JSON_FAIL("exclusiveMaximum", "{} is not less than {}", instance.dump(), m->dump());
  }
  if (const Json* m = bound("minimum"); m != nullptr && !(x >= m->get<double>())) {
    WEIR_JSON_FAIL("minimum", "{} is less than {}", instance.dump(), m->dump());
  }
  if (const Json* m = bound("exclusiveMinimum"); m != nullptr && !(x > m->get<double>())) {
    WEIR_JSON_FAIL("exclusiveMinimum", "{} is not greater than {}", instance.dump(), m->dump());
  }
  return valid;
}

bool Validator::EvalString(const Json& instance, const Json& schema, const SchemaNode& node) {
  bool valid = true;
  const std::string& s = instance.get_ref<const std::string&>();
  auto max_length = schema.find("maxLength");
  auto min_length = schema.find("minLength");
  if (max_length != schema.end() || min_length != schema.end()) {
    size_t length = CodePoints(s);
    if (max_length != schema.end() && max_length->is_number() &&
        static_cast<double>(length) > max_length->get<double>()) {
      WEIR_JSON_FAIL("maxLength", "string has {} characters, more than {}", length,
                     max_length->dump());
    }
    if (min_length != schema.end() && min_length->is_number() &&
        static_cast<double>(length) < min_length->get<double>()) {
      WEIR_JSON_FAIL("minLength", "string has {} characters, fewer than {}", length,
                     min_length->dump());
    }
  }
  auto pattern = schema.find("pattern");
  if (pattern != schema.end() && pattern->is_string() &&
      !Search(pattern->get_ref<const std::string&>(), s)) {
    WEIR_JSON_FAIL("pattern", "string does not match pattern {}", pattern->dump());
  }
  return valid;
}

bool Validator::EvalArray(const Json& instance, const Json& schema, const SchemaNode& node,
                          Annotations* ann) {
  bool valid = true;
  size_t n = instance.size();
  auto items = schema.find("items");
  if (node.draft == Draft::k7) {
    if (items != schema.end() && items->is_array()) {
      size_t tuple = std::min(n, items->size());
      for (size_t i = 0; i < tuple; ++i) {
        PathGuard guard(&path_, i);
        WEIR_JSON_SUB(Eval(instance[i], (*items)[i], nullptr, "items"));
      }
      auto additional = schema.find("additionalItems");
      if (additional != schema.end()) {
        for (size_t i = tuple; i < n; ++i) {
          PathGuard guard(&path_, i);
          WEIR_JSON_SUB(Eval(instance[i], *additional, nullptr, "additionalItems"));
        }
      }
    } else if (items != schema.end()) {
      for (size_t i = 0; i < n; ++i) {
        PathGuard guard(&path_, i);
        WEIR_JSON_SUB(Eval(instance[i], *items, nullptr, "items"));
      }
    }
  } else {
    size_t prefix = 0;
    auto prefix_items = schema.find("prefixItems");
    if (prefix_items != schema.end() && prefix_items->is_array()) {
      prefix = std::min(n, prefix_items->size());
      for (size_t i = 0; i < prefix; ++i) {
        PathGuard guard(&path_, i);
        WEIR_JSON_SUB(Eval(instance[i], (*prefix_items)[i], nullptr, "prefixItems"));
      }
      if (ann != nullptr) ann->items_prefix = std::max(ann->items_prefix, prefix);
    }
    if (items != schema.end()) {
      for (size_t i = prefix; i < n; ++i) {
        PathGuard guard(&path_, i);
        WEIR_JSON_SUB(Eval(instance[i], *items, nullptr, "items"));
      }
      if (ann != nullptr) ann->all_items = true;
    }
  }
  auto max_items = node.validation ? schema.find("maxItems") : schema.end();
  if (max_items != schema.end() && max_items->is_number() &&
      static_cast<double>(n) > max_items->get<double>()) {
    WEIR_JSON_FAIL("maxItems", "array has {} items, more than {}", n, max_items->dump());
  }
  auto min_items = node.validation ? schema.find("minItems") : schema.end();
  if (min_items != schema.end() && min_items->is_number() &&
      static_cast<double>(n) < min_items->get<double>()) {
    WEIR_JSON_FAIL("minItems", "array has {} items, fewer than {}", n, min_items->dump());
  }
  auto unique = node.validation ? schema.find("uniqueItems") : schema.end();
  if (unique != schema.end() && unique->is_boolean() && unique->get<bool>()) {
    // nlohmann's == compares numbers by value (1 == 1.0) and recurses.
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = i + 1; j < n; ++j) {
        if (instance[i] == instance[j]) {
          WEIR_JSON_FAIL("uniqueItems", "items {} and {} are equal", i, j);
          i = n;
          break;
        }
      }
    }
  }
  auto contains = schema.find("contains");
  if (contains != schema.end()) {
    size_t matches = 0;
    for (size_t i = 0; i < n; ++i) {
      if (Quiet(instance[i], *contains, nullptr)) {
        ++matches;
        if (ann != nullptr) ann->items.insert(i);
      }
    }
    double min_contains = 1;
    double max_contains = -1;
    if (node.draft == Draft::k2020 && node.validation) {
      auto min = schema.find("minContains");
      if (min != schema.end() && min->is_number()) min_contains = min->get<double>();
      auto max = schema.find("maxContains");
      if (max != schema.end() && max->is_number()) max_contains = max->get<double>();
    }
    if (static_cast<double>(matches) < min_contains) {
      WEIR_JSON_FAIL(min_contains == 1 ? "contains" : "minContains",
                     "{} items match contains, fewer than {}", matches, min_contains);
    }
    if (max_contains >= 0 && static_cast<double>(matches) > max_contains) {
      WEIR_JSON_FAIL("maxContains", "{} items match contains, more than {}", matches, max_contains);
    }
  }
  return valid;
}

bool Validator::EvalObject(const Json& instance, const Json& schema, const SchemaNode& node,
                           Annotations* ann) {
  bool valid = true;
  size_t n = instance.size();
  auto max_properties = node.validation ? schema.find("maxProperties") : schema.end();
  if (max_properties != schema.end() && max_properties->is_number() &&
      static_cast<double>(n) > max_properties->get<double>()) {
    WEIR_JSON_FAIL("maxProperties", "object has {} properties, more than {}", n,
                   max_properties->dump());
  }
  auto min_properties = node.validation ? schema.find("minProperties") : schema.end();
  if (min_properties != schema.end() && min_properties->is_number() &&
      static_cast<double>(n) < min_properties->get<double>()) {
    WEIR_JSON_FAIL("minProperties", "object has {} properties, fewer than {}", n,
                   min_properties->dump());
  }
  auto required = node.validation ? schema.find("required") : schema.end();
  if (required != schema.end() && required->is_array()) {
    for (const Json& name : *required) {
      if (name.is_string() && !instance.contains(name.get_ref<const std::string&>())) {
        WEIR_JSON_FAIL("required", "required property {} is missing", name.dump());
      }
    }
  }
  auto properties = schema.find("properties");
  if (properties != schema.end() && properties->is_object()) {
    for (const auto& [key, sub] : properties->items()) {
      auto value = instance.find(key);
      if (value == instance.end()) continue;
      PathGuard guard(&path_, key);
      WEIR_JSON_SUB(Eval(*value, sub, nullptr, "properties"));
      if (ann != nullptr) ann->properties.insert(key);
    }
  }
  auto pattern_properties = schema.find("patternProperties");
  if (pattern_properties != schema.end() && !pattern_properties->is_object()) {
    pattern_properties = schema.end();
  }
  if (pattern_properties != schema.end()) {
    for (const auto& [key, value] : instance.items()) {
      for (const auto& [pattern, sub] : pattern_properties->items()) {
        if (!Search(pattern, key)) continue;
        PathGuard guard(&path_, key);
        WEIR_JSON_SUB(Eval(value, sub, nullptr, "patternProperties"));
        if (ann != nullptr) ann->properties.insert(key);
      }
    }
  }
  auto additional = schema.find("additionalProperties");
  if (additional != schema.end()) {
    for (const auto& [key, value] : instance.items()) {
      if (properties != schema.end() && properties->is_object() && properties->contains(key)) {
        continue;
      }
      bool matched = false;
      if (pattern_properties != schema.end()) {
        for (const auto& [pattern, unused] : pattern_properties->items()) {
          if (Search(pattern, key)) {
            matched = true;
            break;
          }
        }
      }
      if (matched) continue;
      PathGuard guard(&path_, key);
      WEIR_JSON_SUB(Eval(value, *additional, nullptr, "additionalProperties"));
    }
    if (ann != nullptr) ann->all_properties = true;
  }
  auto dependent = [&](const char* keyword, bool names, bool schemas) -> bool {
    auto deps = schema.find(keyword);
    if (deps == schema.end() || !deps->is_object()) return true;
    for (const auto& [key, dep] : deps->items()) {
      if (!instance.contains(key)) continue;
      if (names && dep.is_array()) {
        for (const Json& name : dep) {
          if (name.is_string() && !instance.contains(name.get_ref<const std::string&>())) {
            WEIR_JSON_FAIL(keyword, "property {} is required when {} is present", name.dump(),
                           Json(key).dump());
          }
        }
      } else if (schemas && (dep.is_object() || dep.is_boolean())) {
        WEIR_JSON_SUB(Eval(instance, dep, ann, keyword));
      }
    }
    return true;
  };
  if (node.draft == Draft::k7) {
    WEIR_JSON_SUB(dependent("dependencies", true, true));
  } else {
    if (node.validation) WEIR_JSON_SUB(dependent("dependentRequired", true, false));
    WEIR_JSON_SUB(dependent("dependentSchemas", false, true));
  }
  auto property_names = schema.find("propertyNames");
  if (property_names != schema.end()) {
    for (const auto& [key, unused] : instance.items()) {
      if (!Quiet(Json(key), *property_names, nullptr)) {
        WEIR_JSON_FAIL("propertyNames", "property name {} does not match propertyNames",
                       Json(key).dump());
      }
    }
  }
  return valid;
}

bool Validator::EvalApplicators(const Json& instance, const Json& schema, const SchemaNode& node,
                                Annotations* ann) {
  bool valid = true;
  auto all_of = schema.find("allOf");
  if (all_of != schema.end() && all_of->is_array()) {
    for (const Json& sub : *all_of) WEIR_JSON_SUB(Eval(instance, sub, ann, "allOf"));
  }
  auto any_of = schema.find("anyOf");
  if (any_of != schema.end() && any_of->is_array()) {
    bool match = false;
    for (const Json& sub : *any_of) {
      if (Quiet(instance, sub, ann)) {
        match = true;
        if (ann == nullptr) break;  // more matches only add annotations
      }
    }
    if (!match) {
      WEIR_JSON_FAIL("anyOf", "value matches none of the {} schemas in anyOf", any_of->size());
    }
  }
  auto one_of = schema.find("oneOf");
  if (one_of != schema.end() && one_of->is_array()) {
    std::vector<size_t> matches;
    Annotations matched;
    for (size_t i = 0; i < one_of->size() && matches.size() < 2; ++i) {
      if (Quiet(instance, (*one_of)[i], ann != nullptr ? &matched : nullptr)) {
        matches.push_back(i);
      }
    }
    if (matches.empty()) {
      WEIR_JSON_FAIL("oneOf", "value matches none of the {} schemas in oneOf", one_of->size());
    } else if (matches.size() > 1) {
      WEIR_JSON_FAIL("oneOf", "value matches oneOf schemas {} and {}, not exactly one", matches[0],
                     matches[1]);
    } else if (ann != nullptr) {
      ann->Merge(matched);
    }
  }
  auto negated = schema.find("not");
  if (negated != schema.end() && Quiet(instance, *negated, nullptr)) {
    WEIR_JSON_FAIL("not", "value matches the schema in not");
  }
  auto condition = schema.find("if");
  if (condition != schema.end()) {
    auto then_schema = schema.find("then");
    auto else_schema = schema.find("else");
    if (then_schema != schema.end() || else_schema != schema.end() || ann != nullptr) {
      if (Quiet(instance, *condition, ann)) {
        if (then_schema != schema.end()) WEIR_JSON_SUB(Eval(instance, *then_schema, ann, "then"));
      } else if (else_schema != schema.end()) {
        WEIR_JSON_SUB(Eval(instance, *else_schema, ann, "else"));
      }
    }
  }
  return valid;
}

#undef WEIR_JSON_FAIL
#undef WEIR_JSON_SUB

ValidationResult ValidateParsed(const SchemaSet& impl, const Json& instance) {
  std::vector<ValidationError> errors;
  Validator validator(impl, &errors, /*fail_fast=*/false);
  if (!validator.Run(instance) && errors.empty()) {
    errors.push_back(ValidationError{"", "", "#", "value is invalid"});
  }
  return ValidationResult(std::move(errors));
}

bool IsValidParsed(const SchemaSet& impl, const Json& instance) {
  Validator validator(impl, nullptr, /*fail_fast=*/true);
  return validator.Run(instance);
}

}  // namespace

// The pimpl is the schema set; a separate name keeps SchemaSet out of the header.
struct JsonSchema::Impl : SchemaSet {};

Status ValidationResult::ToStatus() const {
  if (errors_.empty()) return Status::Ok();
  std::string message;
  for (const ValidationError& e : errors_) {
    if (!message.empty()) message += "\n";
    if (e.keyword.empty()) {
      message += e.message;
    } else {
      message +=
          fmt::format("{}: {}: {} ({})", e.instance_pointer.empty() ? "(root)" : e.instance_pointer,
                      e.keyword, e.message, e.schema_pointer);
    }
  }
  return Status::InvalidArgument(std::move(message));
}

JsonSchema::JsonSchema(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsonSchema::JsonSchema(JsonSchema&&) noexcept = default;
JsonSchema& JsonSchema::operator=(JsonSchema&&) noexcept = default;
JsonSchema::~JsonSchema() = default;

Result<JsonSchema> JsonSchema::Parse(std::string_view schema_json,
                                     const JsonSchemaOptions& options) {
  WEIR_ASSIGN_OR_RETURN(Json document, ParseJson(schema_json, "schema"));
  auto impl = std::make_unique<Impl>();
  SchemaBuilder builder(impl.get(), options);
  WEIR_RETURN_IF_ERROR(builder.Build(std::move(document)));
  return JsonSchema(std::move(impl));
}

ValidationResult JsonSchema::Validate(std::string_view instance_json) const {
  Result<Json> instance = ParseJson(instance_json, "instance");
  if (!instance.ok()) {
    return ValidationResult({ValidationError{"", "", "", instance.status().message()}});
  }
  return ValidateParsed(*impl_, *instance);
}

bool JsonSchema::IsValid(std::string_view instance_json) const {
  Result<Json> instance = ParseJson(instance_json, "instance");
  return instance.ok() && IsValidParsed(*impl_, *instance);
}

JsonSchemaDraft JsonSchema::draft() const {
  return impl_->draft == Draft::k7 ? JsonSchemaDraft::kDraft7 : JsonSchemaDraft::kDraft2020_12;
}

Result<JsonSchema> JsonSchemaAccess::Parse(const nlohmann::json& schema,
                                           const JsonSchemaOptions& options) {
  auto impl = std::make_unique<JsonSchema::Impl>();
  SchemaBuilder builder(impl.get(), options);
  WEIR_RETURN_IF_ERROR(builder.Build(schema));
  return JsonSchema(std::move(impl));
}

ValidationResult JsonSchemaAccess::Validate(const JsonSchema& schema,
                                            const nlohmann::json& instance) {
  return ValidateParsed(*schema.impl_, instance);
}

bool JsonSchemaAccess::IsValid(const JsonSchema& schema, const nlohmann::json& instance) {
  return IsValidParsed(*schema.impl_, instance);
}

}  // namespace weir::schema
