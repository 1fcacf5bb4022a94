// A client of the Confluent Schema Registry REST API (also served by
// `weir serve`, see rest_api.h). Requests carry the API's content type;
// error bodies {"error_code", "message"} become Status values that keep the
// registry's code and message; the password is handed to cpp-httplib's basic
// auth and appears in nothing weir prints.
#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <nlohmann/json.hpp>

#include "registry/registry_internal.h"

namespace weir::registry {
namespace {

using nlohmann::json;

constexpr const char* kContentType = "application/vnd.schemaregistry.v1+json";
constexpr const char* kAccept =
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, "
    "application/json";

// Percent-encodes one path segment (RFC 3986 unreserved characters stay).
std::string EncodeSegment(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

struct Endpoint {
  std::string scheme_host_port;  // "https://host:8081"
  std::string prefix;            // "" or "/path" (no trailing slash)
  std::string username;
  std::string password;
};

Result<Endpoint> ParseUrl(const std::string& url) {
  Endpoint e;
  std::string_view rest(url);
  std::string scheme;
  if (rest.starts_with("http://")) {
    scheme = "http";
  } else if (rest.starts_with("https://")) {
    scheme = "https";
  } else {
    // The url may hold user:password@, so it is not echoed.
    return Status::InvalidArgument("schema registry url must start with http:// or https://");
  }
  rest.remove_prefix(scheme.size() + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    size_t colon = userinfo.find(':');
    e.username = std::string(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) e.password = std::string(userinfo.substr(colon + 1));
  }
  if (authority.empty()) {
    return Status::InvalidArgument("schema registry url has no host");
  }
  while (path.ends_with('/')) path.remove_suffix(1);
  e.scheme_host_port = scheme + "://" + std::string(authority);
  e.prefix = std::string(path);
  return e;
}

// The Status code for a registry error code (or an HTTP status when the body
// has none).
StatusCode CodeFor(int http_status, int error_code) {
  int major = error_code >= 1000 ? error_code / 100 : error_code;
  if (major == 0) major = http_status;
  switch (major) {
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kRefused;
    case 400:
    case 401:
    case 403:
    case 422:
      return StatusCode::kInvalidArgument;
    case 408:
    case 504:
      return StatusCode::kTimeout;
    default:
      return major >= 500 ? StatusCode::kUnavailable : StatusCode::kInvalidArgument;
  }
}

// Extracts `key:'value'` or `key: 123` from one of the registry's verbose
// compatibility messages, which look like
//   {errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'...',
//    additionalInfo:'colour', oldSchemaVersion: 1, ...}
// (weir's own server writes location and direction too).
std::string MessageField(std::string_view msg, std::string_view key) {
  std::string pattern = std::string(key) + ":";
  size_t pos = msg.find(pattern);
  while (pos != std::string_view::npos && pos > 0 &&
         std::isalnum(static_cast<unsigned char>(msg[pos - 1])) != 0) {
    pos = msg.find(pattern, pos + 1);
  }
  if (pos == std::string_view::npos) return {};
  pos += pattern.size();
  while (pos < msg.size() && msg[pos] == ' ') ++pos;
  if (pos < msg.size() && msg[pos] == '\'') {
    ++pos;
    // The value ends at the quote that closes it: one followed by ", key:" or
    // "}"; descriptions may quote names themselves.
    for (size_t end = msg.find('\'', pos); end != std::string_view::npos;
         end = msg.find('\'', end + 1)) {
      std::string_view after = msg.substr(end + 1);
      if (after.empty() || after.starts_with("}")) return std::string(msg.substr(pos, end - pos));
      if (after.starts_with(", ")) {
        size_t colon = after.find(':');
        size_t quote = after.find('\'');
        if (colon != std::string_view::npos && (quote == std::string_view::npos || colon < quote) &&
            after.substr(2, colon - 2).find(' ') == std::string_view::npos) {
          return std::string(msg.substr(pos, end - pos));
        }
      }
    }
    return {};
  }
  size_t end = pos;
  while (end < msg.size() && std::isdigit(static_cast<unsigned char>(msg[end])) != 0) ++end;
  return std::string(msg.substr(pos, end - pos));
}

Incompatibility ParseMessage(const std::string& msg) {
  Incompatibility inc;
  std::string kind = MessageField(msg, "errorType");
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  inc.kind = kind.empty() ? "incompatible" : kind;
  inc.path = MessageField(msg, "location");
  inc.direction = MessageField(msg, "direction");
  std::string description = MessageField(msg, "description");
  inc.message = description.empty() ? msg : description;
  std::string version = MessageField(msg, "oldSchemaVersion");
  if (!version.empty())
    std::from_chars(version.data(), version.data() + version.size(), inc.version);
  return inc;
}

class ConfluentRegistry final : public Registry {
 public:
  ConfluentRegistry(Endpoint endpoint, const ConfluentOptions& options)
      : endpoint_(std::move(endpoint)), client_(endpoint_.scheme_host_port) {
    client_.set_url_encode(false);  // paths are encoded here, segment by segment
    client_.set_keep_alive(true);
    client_.set_tcp_nodelay(true);  // small requests: no Nagle delay behind a delayed ACK
    client_.set_connection_timeout(options.connect_timeout);
    client_.set_read_timeout(options.request_timeout);
    client_.set_write_timeout(options.request_timeout);
    if (!endpoint_.username.empty()) {
      client_.set_basic_auth(endpoint_.username, endpoint_.password);
    }
    connect_timeout_ms_ = options.connect_timeout.count();
    request_timeout_ms_ = options.request_timeout.count();
  }

  std::string Describe() const override {
    return "schema registry " + endpoint_.scheme_host_port + endpoint_.prefix;
  }

  Result<RegisteredSchema> Register(std::string_view subject, const Schema& schema) override {
    WEIR_RETURN_IF_ERROR(Validate(subject, schema));
    auto r = Call("POST", SubjectPath(subject) + "/versions", Body(schema));
    if (!r.ok() && r.status().code() == StatusCode::kRefused) {
      // Name every incompatibility, as the local registry does.
      std::string msg = r.status().message();
      auto details = CheckCompatibility(subject, schema, kAllVersions);
      if (details.ok()) {
        for (const Incompatibility& i : *details) msg += "\n  " + i.ToString();
      }
      return Status::Refused(std::move(msg));
    }
    if (!r.ok()) return r.status();
    if (!r->is_object() || !(*r)["id"].is_number_integer()) {
      return Unexpected("POST /subjects/.../versions", *r);
    }
    int32_t id = (*r)["id"].get<int32_t>();
    // The answer has only the id; the version comes from a lookup.
    auto found = LookUp(subject, schema);
    if (!found.ok()) {
      return found.status().WithContext(
          fmt::format("subject '{}': registered as schema id {}, but looking the version up failed",
                      subject, id));
    }
    return found;
  }

  Result<RegisteredSchema> LookUp(std::string_view subject, const Schema& schema) override {
    WEIR_RETURN_IF_ERROR(Validate(subject, schema));
    WEIR_ASSIGN_OR_RETURN(json r, Call("POST", SubjectPath(subject), Body(schema)));
    return ToRegistered(r, subject);
  }

  Result<Schema> GetById(int32_t id) override {
    WEIR_ASSIGN_OR_RETURN(json r, Call("GET", fmt::format("/schemas/ids/{}", id)));
    if (!r.is_object() || !r["schema"].is_string()) return Unexpected("GET /schemas/ids", r);
    Schema s;
    s.text = r["schema"].get<std::string>();
    WEIR_ASSIGN_OR_RETURN(s.type, TypeOf(r));
    return s;
  }

  Result<RegisteredSchema> GetVersion(std::string_view subject, int32_t version) override {
    WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
    WEIR_ASSIGN_OR_RETURN(json r,
                          Call("GET", SubjectPath(subject) + "/versions/" + VersionName(version)));
    return ToRegistered(r, subject);
  }

  Result<std::vector<std::string>> ListSubjects() override {
    WEIR_ASSIGN_OR_RETURN(json r, Call("GET", "/subjects"));
    std::vector<std::string> out;
    if (!r.is_array()) return Unexpected("GET /subjects", r);
    for (const json& s : r) {
      if (!s.is_string()) return Unexpected("GET /subjects", r);
      out.push_back(s.get<std::string>());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<std::vector<int32_t>> ListVersions(std::string_view subject) override {
    WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
    WEIR_ASSIGN_OR_RETURN(json r, Call("GET", SubjectPath(subject) + "/versions"));
    return IntList(r, "GET /subjects/.../versions");
  }

  Result<std::vector<Incompatibility>> CheckCompatibility(std::string_view subject,
                                                          const Schema& schema,
                                                          int32_t version) override {
    WEIR_RETURN_IF_ERROR(Validate(subject, schema));
    std::string path = "/compatibility" + SubjectPath(subject) + "/versions";
    if (version != kAllVersions) path += "/" + VersionName(version);
    auto r = Call("POST", path + "?verbose=true", Body(schema));
    if (!r.ok()) {
      // A subject without versions accepts anything, as Register() would.
      if (version == kAllVersions && r.status().code() == StatusCode::kNotFound) {
        return std::vector<Incompatibility>{};
      }
      return r.status();
    }
    if (!r->is_object() || !(*r)["is_compatible"].is_boolean()) {
      return Unexpected("POST /compatibility", *r);
    }
    std::vector<Incompatibility> out;
    if ((*r)["is_compatible"].get<bool>()) return out;
    if (auto m = r->find("messages"); m != r->end() && m->is_array()) {
      for (const json& msg : *m) {
        if (msg.is_string()) out.push_back(ParseMessage(msg.get<std::string>()));
      }
    }
    if (out.empty()) {
      out.push_back({"incompatible", "", "the registry reports the schema incompatible", 0, ""});
    }
    return out;
  }

  Result<CompatibilityLevel> GetCompatibility(std::string_view subject) override {
    if (!subject.empty()) {
      WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
      auto r = Call("GET", "/config/" + EncodeSegment(subject) + "?defaultToGlobal=true");
      if (r.ok()) return LevelOf(*r);
      // Registries that predate defaultToGlobal answer 404 for subjects
      // without a level of their own.
      if (r.status().code() != StatusCode::kNotFound) return r.status();
    }
    WEIR_ASSIGN_OR_RETURN(json r, Call("GET", "/config"));
    return LevelOf(r);
  }

  Status SetCompatibility(std::string_view subject, CompatibilityLevel level) override {
    std::string path = "/config";
    if (!subject.empty()) {
      WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
      path += "/" + EncodeSegment(subject);
    }
    json body = {{"compatibility", std::string(schema::AvroCompatibilityName(level))}};
    return Call("PUT", path, body).status();
  }

  Result<std::vector<int32_t>> DeleteSubject(std::string_view subject) override {
    WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
    WEIR_ASSIGN_OR_RETURN(json r, Call("DELETE", SubjectPath(subject)));
    return IntList(r, "DELETE /subjects/...");
  }

  Result<int32_t> DeleteVersion(std::string_view subject, int32_t version) override {
    WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
    WEIR_ASSIGN_OR_RETURN(
        json r, Call("DELETE", SubjectPath(subject) + "/versions/" + VersionName(version)));
    if (!r.is_number_integer()) return Unexpected("DELETE /subjects/.../versions/...", r);
    return r.get<int32_t>();
  }

 private:
  static std::string SubjectPath(std::string_view subject) {
    return "/subjects/" + EncodeSegment(subject);
  }

  // Checks the schema here first, so that a typo gets weir's message (with
  // its path) rather than a round trip; the text is sent as written.
  static Status Validate(std::string_view subject, const Schema& schema) {
    return NormalizeForSubject(subject, schema).status();
  }

  static json Body(const Schema& schema) {
    json body = {{"schema", schema.text}};
    if (schema.type != SchemaType::kAvro) body["schemaType"] = SchemaTypeName(schema.type);
    return body;
  }

  Status Unexpected(std::string_view what, const json& body) const {
    std::string text = body.dump();
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    return Status::Corruption(fmt::format("{}: {}: unexpected answer: {}", Describe(), what, text));
  }

  Result<SchemaType> TypeOf(const json& r) const {
    auto t = r.find("schemaType");
    if (t == r.end() || t->is_null()) return SchemaType::kAvro;
    if (!t->is_string()) return Unexpected("schemaType", r);
    auto type = ParseSchemaType(t->get<std::string>());
    if (!type.ok()) return type.status().WithContext(Describe());
    return *type;
  }

  Result<RegisteredSchema> ToRegistered(const json& r, std::string_view subject) const {
    if (!r.is_object() || !r["id"].is_number_integer() || !r["version"].is_number_integer() ||
        !r["schema"].is_string()) {
      return Unexpected(fmt::format("subject '{}'", subject), r);
    }
    RegisteredSchema out;
    out.subject = r.value("subject", std::string(subject));
    out.id = r["id"].get<int32_t>();
    out.version = r["version"].get<int32_t>();
    out.schema.text = r["schema"].get<std::string>();
    WEIR_ASSIGN_OR_RETURN(out.schema.type, TypeOf(r));
    return out;
  }

  Result<std::vector<int32_t>> IntList(const json& r, std::string_view what) const {
    if (!r.is_array()) return Unexpected(what, r);
    std::vector<int32_t> out;
    for (const json& v : r) {
      if (!v.is_number_integer()) return Unexpected(what, r);
      out.push_back(v.get<int32_t>());
    }
    return out;
  }

  Result<CompatibilityLevel> LevelOf(const json& r) const {
    std::string name;
    if (r.is_object()) {
      // GET answers "compatibilityLevel"; some versions answer "compatibility".
      for (const char* key : {"compatibilityLevel", "compatibility"}) {
        if (r.contains(key) && r[key].is_string()) name = r[key].get<std::string>();
      }
    }
    if (name.empty()) return Unexpected("GET /config", r);
    auto level = schema::ParseAvroCompatibility(name);
    if (!level.ok()) return level.status().WithContext(Describe());
    return *level;
  }

  // One request. Returns the parsed JSON body of a 2xx answer; every other
  // outcome is a Status naming the registry, the method and the path.
  Result<json> Call(const char* method, const std::string& path, const json& body = nullptr) {
    std::string target = endpoint_.prefix + path;
    std::string where = fmt::format("{}: {} {}", Describe(), method, path);
    httplib::Headers headers = {{"Accept", kAccept}};
    httplib::Result res{nullptr, httplib::Error::Unknown};
    {
      std::lock_guard<std::mutex> guard(mu_);
      std::string m(method);
      if (m == "GET") {
        res = client_.Get(target, headers);
      } else if (m == "DELETE") {
        res = client_.Delete(target, headers);
      } else {
        std::string payload = body.is_null() ? std::string("{}") : body.dump();
        res = m == "POST" ? client_.Post(target, headers, payload, kContentType)
                          : client_.Put(target, headers, payload, kContentType);
      }
    }
    if (!res) {
      httplib::Error err = res.error();
      if (err == httplib::Error::ConnectionTimeout) {
        return Status::Timeout(
            fmt::format("{}: no connection within {} ms", where, connect_timeout_ms_));
      }
      if (err == httplib::Error::Read || err == httplib::Error::Write) {
        return Status::Unavailable(fmt::format("{}: {} (the request timeout is {} ms)", where,
                                               httplib::to_string(err), request_timeout_ms_));
      }
      return Status::Unavailable(fmt::format("{}: {}", where, httplib::to_string(err)));
    }
    auto parsed = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (res->status >= 200 && res->status < 300) {
      if (parsed.is_discarded()) {
        return Status::Corruption(
            fmt::format("{}: HTTP {} with a body that is not JSON", where, res->status));
      }
      return parsed;
    }
    int error_code = 0;
    std::string message;
    if (!parsed.is_discarded() && parsed.is_object()) {
      if (parsed.contains("error_code") && parsed["error_code"].is_number_integer()) {
        error_code = parsed["error_code"].get<int>();
      }
      if (parsed.contains("message") && parsed["message"].is_string()) {
        message = parsed["message"].get<std::string>();
      }
    }
    if (message.empty()) {
      message = res->body.substr(0, 200);
      if (message.empty()) message = res->reason;
    }
    return Status(CodeFor(res->status, error_code),
                  fmt::format("{}: HTTP {}, error {}: {}", where, res->status,
                              error_code != 0 ? error_code : res->status, message));
  }

  const Endpoint endpoint_;
  int64_t connect_timeout_ms_ = 0;
  int64_t request_timeout_ms_ = 0;
  // cpp-httplib's client keeps one connection; requests are serialised
  // (registry calls are rare: the caching layer answers the frequent ones).
  std::mutex mu_;
  httplib::Client client_;  // GUARDED_BY(mu_)
};

}  // namespace

Result<std::unique_ptr<Registry>> OpenConfluentRegistry(const std::string& url,
                                                        const std::string& username,
                                                        const std::string& password,
                                                        const ConfluentOptions& options) {
  WEIR_ASSIGN_OR_RETURN(Endpoint endpoint, ParseUrl(url));
  if (!username.empty()) {
    endpoint.username = username;
    endpoint.password = password;
  }
  auto client = std::make_unique<ConfluentRegistry>(std::move(endpoint), options);
  return NewCachingRegistry(std::move(client));
}

}  // namespace weir::registry
