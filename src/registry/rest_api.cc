// The Confluent Schema Registry REST API over a weir Registry. Shapes, status
// codes and error codes follow the Confluent registry, so that its clients
// (confluent-kafka's SchemaRegistryClient, serializers, Kafka UI) work
// unchanged; docs/registry.md lists what is served.
#include "registry/rest_api.h"

#include <fmt/format.h>

#include <charconv>
#include <exception>
#include <functional>
#include <nlohmann/json.hpp>

#include "registry/registry_internal.h"

namespace weir::registry {
namespace {

using nlohmann::json;

constexpr const char* kContentType = "application/vnd.schemaregistry.v1+json";

// Confluent error codes.
constexpr int kSubjectNotFound = 40401;
constexpr int kVersionNotFound = 40402;
constexpr int kSchemaNotFound = 40403;
constexpr int kIncompatible = 409;
constexpr int kInvalidSchema = 42201;
constexpr int kInvalidVersion = 42202;
constexpr int kInvalidCompatibility = 42203;
constexpr int kStoreError = 50001;
constexpr int kOperationTimeout = 50002;
constexpr int kForwardError = 50003;

void Reply(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  res.set_content(body.dump(), kContentType);
}

void ReplyError(httplib::Response& res, int status, int error_code, const std::string& message) {
  Reply(res, json{{"error_code", error_code}, {"message", message}}, status);
}

// What a kNotFound from the registry means on a route: the subject is always
// a candidate; the version or schema only when the subject exists.
enum class Missing : uint8_t { kSubject, kVersion, kSchema };

class Api {
 public:
  explicit Api(Registry& registry) : registry_(registry) {}

  // The message of |s| without the registry's description (a local folder's
  // path is nobody's business over HTTP).
  std::string Message(const Status& s) const {
    std::string prefix = registry_.Describe() + ": ";
    std::string msg = s.message();
    if (msg.starts_with(prefix)) msg.erase(0, prefix.size());
    return msg;
  }

  void ReplyStatus(httplib::Response& res, const Status& s, const std::string& subject,
                   Missing missing, int32_t version = 0) {
    switch (s.code()) {
      case StatusCode::kNotFound: {
        bool subject_exists = false;
        if (missing != Missing::kSubject) subject_exists = registry_.ListVersions(subject).ok();
        if (!subject_exists) {
          ReplyError(res, 404, kSubjectNotFound, fmt::format("Subject '{}' not found.", subject));
        } else if (missing == Missing::kVersion) {
          ReplyError(res, 404, kVersionNotFound,
                     fmt::format("Version {} not found.", VersionName(version)));
        } else {
          ReplyError(res, 404, kSchemaNotFound, "Schema not found");
        }
        return;
      }
      case StatusCode::kInvalidArgument:
        ReplyError(res, 422, kInvalidSchema, Message(s));
        return;
      case StatusCode::kRefused:
        ReplyError(res, 409, kIncompatible,
                   fmt::format("Schema being registered is incompatible with an earlier schema "
                               "for subject \"{}\", details: {}",
                               subject, Message(s)));
        return;
      case StatusCode::kTimeout:
        ReplyError(res, 500, kOperationTimeout, Message(s));
        return;
      case StatusCode::kUnavailable:
        ReplyError(res, 500, kForwardError, Message(s));
        return;
      default:
        ReplyError(res, 500, kStoreError, Message(s));
        return;
    }
  }

  // Reads {"schema": "...", "schemaType"?: "AVRO"|"JSON", "references"?: []}.
  // On a bad body, answers and returns nullopt.
  static std::optional<Schema> ParseSchemaBody(const httplib::Request& req,
                                               httplib::Response& res) {
    auto body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
      ReplyError(res, 400, 400, "The request body is not valid JSON");
      return std::nullopt;
    }
    if (!body.is_object()) {
      ReplyError(res, 422, 422, "The request body must be a JSON object");
      return std::nullopt;
    }
    auto text = body.find("schema");
    if (text == body.end() || !text->is_string()) {
      ReplyError(res, 422, kInvalidSchema, "The request body needs \"schema\": a string");
      return std::nullopt;
    }
    Schema schema;
    schema.text = text->get<std::string>();
    if (auto t = body.find("schemaType"); t != body.end() && !t->is_null()) {
      auto type =
          t->is_string()
              ? ParseSchemaType(t->get<std::string>())
              : Result<SchemaType>(Status::InvalidArgument("\"schemaType\" must be a string"));
      if (!type.ok()) {
        ReplyError(res, 422, kInvalidSchema, type.status().message());
        return std::nullopt;
      }
      schema.type = *type;
    }
    if (auto r = body.find("references");
        r != body.end() && !r->is_null() && !(r->is_array() && r->empty())) {
      ReplyError(res, 422, kInvalidSchema,
                 "Schema references are not supported by weir's registry");
      return std::nullopt;
    }
    for (const char* key : {"id", "version"}) {
      if (body.contains(key)) {
        ReplyError(res, 422, 422,
                   fmt::format("\"{}\" is not accepted: weir's registry assigns ids and versions "
                               "itself (IMPORT mode is not supported)",
                               key));
        return std::nullopt;
      }
    }
    return schema;
  }

  static std::optional<int32_t> ParseVersionOrReply(const std::string& text,
                                                    httplib::Response& res) {
    auto v = ParseVersion(text);
    if (!v) {
      ReplyError(res, 422, kInvalidVersion,
                 fmt::format("The specified version '{}' is not a valid version id. Allowed "
                             "values are between [1, 2^31-1] and the string \"latest\"",
                             text));
    }
    return v;
  }

  static json SchemaJson(const RegisteredSchema& r) {
    json out = {
        {"subject", r.subject}, {"version", r.version}, {"id", r.id}, {"schema", r.schema.text}};
    if (r.schema.type != SchemaType::kAvro) out["schemaType"] = SchemaTypeName(r.schema.type);
    return out;
  }

  static std::string VerboseMessage(const Incompatibility& i) {
    std::string kind = i.kind;
    for (char& c : kind) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    // The shape of Confluent's verbose messages, with weir's dotted path as
    // the location; the description comes last so that clients can take
    // everything up to the closing "'}" as its text.
    return fmt::format(
        "{{errorType:'{}', location:'{}', oldSchemaVersion:{}, direction:'{}', description:'{}'}}",
        kind, i.path, i.version, i.direction, i.message);
  }

  void ListSubjects(const httplib::Request&, httplib::Response& res) {
    auto r = registry_.ListSubjects();
    if (!r.ok()) return ReplyStatus(res, r.status(), "", Missing::kSubject);
    Reply(res, *r);
  }

  void ListVersions(const httplib::Request& req, httplib::Response& res) {
    std::string subject = req.matches[1];
    auto r = registry_.ListVersions(subject);
    if (!r.ok()) return ReplyStatus(res, r.status(), subject, Missing::kSubject);
    Reply(res, *r);
  }

  void RegisterSchema(const httplib::Request& req, httplib::Response& res) {
    std::string subject = req.matches[1];
    auto schema = ParseSchemaBody(req, res);
    if (!schema) return;
    auto r = registry_.Register(subject, *schema);
    if (!r.ok()) return ReplyStatus(res, r.status(), subject, Missing::kSubject);
    Reply(res, json{{"id", r->id}});
  }

  void LookUp(const httplib::Request& req, httplib::Response& res) {
    std::string subject = req.matches[1];
    auto schema = ParseSchemaBody(req, res);
    if (!schema) return;
    auto r = registry_.LookUp(subject, *schema);
    if (!r.ok()) return ReplyStatus(res, r.status(), subject, Missing::kSchema);
    Reply(res, SchemaJson(*r));
  }

  void GetVersion(const httplib::Request& req, httplib::Response& res, bool schema_only) {
    std::string subject = req.matches[1];
    auto version = ParseVersionOrReply(req.matches[2], res);
    if (!version) return;
    auto r = registry_.GetVersion(subject, *version);
    if (!r.ok()) return ReplyStatus(res, r.status(), subject, Missing::kVersion, *version);
    if (schema_only) {
      res.set_content(r->schema.text, kContentType);
    } else {
      Reply(res, SchemaJson(*r));
    }
  }

  void DeleteSubject(const httplib::Request& req, httplib::Response& res) {
    std::string subject = req.matches[1];
    if (req.get_param_value("permanent") == "true") {
      ReplyError(res, 501, 501,
                 "weir's registry deletes softly only (versions stay on disk, marked deleted); "
                 "?permanent=true is not supported");
      return;
    }
    auto r = registry_.DeleteSubject(subject);
    if (!r.ok()) return ReplyStatus(res, r.status(), subject, Missing::kSubject);
    Reply(res, *r);
  }

  void DeleteVersion(const httplib::Request& req, httplib::Response& res) {
    std::string subject = req.matches[1];
    auto version = ParseVersionOrReply(req.matches[2], res);
    if (!version) return;
    if (req.get_param_value("permanent") == "true") {
      ReplyError(res, 501, 501,
                 "weir's registry deletes softly only (versions stay on disk, marked deleted); "
                 "?permanent=true is not supported");
      return;
    }
    auto r = registry_.DeleteVersion(subject, *version);
    if (!r.ok()) return ReplyStatus(res, r.status(), subject, Missing::kVersion, *version);
    Reply(res, *r);
  }

  // The id in /schemas/ids/{id}; answers 40403 for anything else.
  static std::optional<int32_t> ParseId(const std::string& text, httplib::Response& res) {
    int32_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id < 1) {
      ReplyError(res, 404, kSchemaNotFound, fmt::format("Schema {} not found", text));
      return std::nullopt;
    }
    return id;
  }

  void GetById(const httplib::Request& req, httplib::Response& res, bool schema_only) {
    auto id = ParseId(req.matches[1], res);
    if (!id) return;
    auto r = registry_.GetById(*id);
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kNotFound) {
        return ReplyError(res, 404, kSchemaNotFound, fmt::format("Schema {} not found", *id));
      }
      return ReplyStatus(res, r.status(), "", Missing::kSchema);
    }
    if (schema_only) {
      res.set_content(r->text, kContentType);
      return;
    }
    json out = {{"schema", r->text}};
    if (r->type != SchemaType::kAvro) out["schemaType"] = SchemaTypeName(r->type);
    Reply(res, out);
  }

  // Which subject versions name an id: a scan, fine for a rarely used route.
  void GetIdVersions(const httplib::Request& req, httplib::Response& res) {
    auto id = ParseId(req.matches[1], res);
    if (!id) return;
    auto schema = registry_.GetById(*id);
    if (!schema.ok()) {
      if (schema.status().code() == StatusCode::kNotFound) {
        return ReplyError(res, 404, kSchemaNotFound, fmt::format("Schema {} not found", *id));
      }
      return ReplyStatus(res, schema.status(), "", Missing::kSchema);
    }
    auto subjects = registry_.ListSubjects();
    if (!subjects.ok()) return ReplyStatus(res, subjects.status(), "", Missing::kSubject);
    json out = json::array();
    for (const std::string& subject : *subjects) {
      auto versions = registry_.ListVersions(subject);
      if (!versions.ok()) continue;  // deleted meanwhile
      for (int32_t v : *versions) {
        auto r = registry_.GetVersion(subject, v);
        if (r.ok() && r->id == *id) out.push_back({{"subject", subject}, {"version", v}});
      }
    }
    Reply(res, out);
  }

  void CheckCompatibility(const httplib::Request& req, httplib::Response& res, bool all) {
    std::string subject = req.matches[1];
    int32_t version = kAllVersions;
    if (!all) {
      auto v = ParseVersionOrReply(req.matches[2], res);
      if (!v) return;
      version = *v;
    }
    auto schema = ParseSchemaBody(req, res);
    if (!schema) return;
    auto r = registry_.CheckCompatibility(subject, *schema, version);
    if (!r.ok()) return ReplyStatus(res, r.status(), subject, Missing::kVersion, version);
    json out = {{"is_compatible", r->empty()}};
    if (req.get_param_value("verbose") == "true") {
      json messages = json::array();
      for (const Incompatibility& i : *r) messages.push_back(VerboseMessage(i));
      out["messages"] = std::move(messages);
    }
    Reply(res, out);
  }

  void GetConfig(const httplib::Request& req, httplib::Response& res, bool global) {
    std::string subject = global ? std::string() : std::string(req.matches[1]);
    auto r = registry_.GetCompatibility(subject);
    if (!r.ok()) return ReplyStatus(res, r.status(), subject, Missing::kSubject);
    Reply(res, json{{"compatibilityLevel", schema::AvroCompatibilityName(*r)}});
  }

  void PutConfig(const httplib::Request& req, httplib::Response& res, bool global) {
    std::string subject = global ? std::string() : std::string(req.matches[1]);
    auto body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) return ReplyError(res, 400, 400, "The request body is not valid JSON");
    if (!body.is_object() || !body.contains("compatibility") ||
        !body["compatibility"].is_string()) {
      return ReplyError(res, 422, kInvalidCompatibility,
                        "The request body needs \"compatibility\": a level name");
    }
    std::string name = body["compatibility"].get<std::string>();
    auto level = schema::ParseAvroCompatibility(name);
    if (!level.ok()) return ReplyError(res, 422, kInvalidCompatibility, level.status().message());
    if (!subject.empty()) {
      if (Status s = ValidateSubject(subject); !s.ok()) {
        return ReplyError(res, 422, 422, s.message());
      }
    }
    Status s = registry_.SetCompatibility(subject, *level);
    if (!s.ok()) return ReplyStatus(res, s, subject, Missing::kSubject);
    Reply(res, json{{"compatibility", name}});
  }

 private:
  Registry& registry_;
};

// Every handler runs inside this: nothing a request does may end the server.
httplib::Server::Handler Guarded(
    std::function<void(const httplib::Request&, httplib::Response&)> f) {
  return [f = std::move(f)](const httplib::Request& req, httplib::Response& res) {
    try {
      f(req, res);
    } catch (const std::exception& e) {
      ReplyError(res, 500, kStoreError, std::string("internal error: ") + e.what());
    } catch (...) {
      ReplyError(res, 500, kStoreError, "internal error");
    }
  };
}

}  // namespace

void MountRegistryApi(httplib::Server& server, Registry& registry) {
  // The routes share one Api; it lives as long as the server's handlers.
  auto api = std::make_shared<Api>(registry);
  using Req = httplib::Request;
  using Res = httplib::Response;
  const std::string s = "([^/]+)";  // one path segment (cpp-httplib decodes %XX first)

  server.Get("/subjects", Guarded([api](const Req& q, Res& r) { api->ListSubjects(q, r); }));
  server.Get("/subjects/" + s + "/versions",
             Guarded([api](const Req& q, Res& r) { api->ListVersions(q, r); }));
  server.Post("/subjects/" + s + "/versions",
              Guarded([api](const Req& q, Res& r) { api->RegisterSchema(q, r); }));
  server.Get("/subjects/" + s + "/versions/" + s,
             Guarded([api](const Req& q, Res& r) { api->GetVersion(q, r, false); }));
  server.Get("/subjects/" + s + "/versions/" + s + "/schema",
             Guarded([api](const Req& q, Res& r) { api->GetVersion(q, r, true); }));
  server.Delete("/subjects/" + s + "/versions/" + s,
                Guarded([api](const Req& q, Res& r) { api->DeleteVersion(q, r); }));
  server.Post("/subjects/" + s, Guarded([api](const Req& q, Res& r) { api->LookUp(q, r); }));
  server.Delete("/subjects/" + s,
                Guarded([api](const Req& q, Res& r) { api->DeleteSubject(q, r); }));

  server.Get("/schemas/types", Guarded([](const Req&, Res& r) {
               Reply(r, json::array({"AVRO", "JSON"}));
             }));
  server.Get("/schemas/ids/" + s,
             Guarded([api](const Req& q, Res& r) { api->GetById(q, r, false); }));
  server.Get("/schemas/ids/" + s + "/schema",
             Guarded([api](const Req& q, Res& r) { api->GetById(q, r, true); }));
  server.Get("/schemas/ids/" + s + "/versions",
             Guarded([api](const Req& q, Res& r) { api->GetIdVersions(q, r); }));

  server.Post("/compatibility/subjects/" + s + "/versions/" + s,
              Guarded([api](const Req& q, Res& r) { api->CheckCompatibility(q, r, false); }));
  server.Post("/compatibility/subjects/" + s + "/versions",
              Guarded([api](const Req& q, Res& r) { api->CheckCompatibility(q, r, true); }));

  server.Get("/config", Guarded([api](const Req& q, Res& r) { api->GetConfig(q, r, true); }));
  server.Put("/config", Guarded([api](const Req& q, Res& r) { api->PutConfig(q, r, true); }));
  server.Get("/config/" + s, Guarded([api](const Req& q, Res& r) { api->GetConfig(q, r, false); }));
  server.Put("/config/" + s, Guarded([api](const Req& q, Res& r) { api->PutConfig(q, r, false); }));
}

}  // namespace weir::registry
