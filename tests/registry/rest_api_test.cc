// The registry REST API (rest_api.h) on a real loopback server, exercised by
// weir's own Confluent client (so the client is tested against the route
// handlers) and by raw requests for the error shapes and codes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <nlohmann/json.hpp>

#include "registry/registry_server.h"

namespace weir::registry {
namespace {

using nlohmann::json;

Schema Plate(const std::string& extra = "") {
  return {SchemaType::kAvro, R"({"type":"record","name":"Plate","namespace":"alpr","fields":[)"
                             R"({"name":"plate","type":"string"},{"name":"speed","type":"int"})" +
                                 extra + "]}"};
}

std::unique_ptr<Registry> Client(const RegistryServer& server, const std::string& user = "",
                                 const std::string& password = "",
                                 const ConfluentOptions& options = {}) {
  auto r = OpenConfluentRegistry(server.url(), user, password, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

TEST(RegistryRest, ConfluentClientAgainstWeirsRoutes) {
  RegistryServer server;
  auto client = Client(server);
  EXPECT_EQ(client->Describe(), "schema registry " + server.url());

  auto r = client->Register("plates-value", Plate());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->id, 1);
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(r->subject, "plates-value");
  auto again = client->Register("plates-value", Plate());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, 1);
  auto v2 = client->Register("plates-value",
                             Plate(R"(,{"name":"colour","type":"string","default":"?"})"));
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->id, 2);

  auto by_id = client->GetById(1);
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->type, SchemaType::kAvro);
  EXPECT_EQ(by_id->text, server.registry().GetById(1)->text);
  auto avro = client->GetAvroById(2);
  ASSERT_TRUE(avro.ok());
  EXPECT_EQ(avro->root().fields.size(), 3u);
  auto latest = client->GetVersion("plates-value", kLatestVersion);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(*client->ListVersions("plates-value"), (std::vector<int32_t>{1, 2}));
  auto found = client->LookUp("plates-value", Plate());
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->version, 1);

  // Incompatibilities come back with kind, path, version and direction.
  Schema bad =
      Plate(R"(,{"name":"colour","type":"string","default":"?"},{"name":"x","type":"int"})");
  auto check = client->CheckCompatibility("plates-value", bad, kAllVersions);
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  ASSERT_EQ(check->size(), 1u);
  EXPECT_EQ((*check)[0].kind, "reader_field_missing_default");
  EXPECT_EQ((*check)[0].path, "Plate.x");
  EXPECT_EQ((*check)[0].version, 2);
  EXPECT_EQ((*check)[0].direction, "backward");
  EXPECT_FALSE((*check)[0].message.empty());
  EXPECT_TRUE(client->CheckCompatibility("plates-value", Plate(), 1)->empty());
  auto refused = client->Register("plates-value", bad);
  ASSERT_EQ(refused.status().code(), StatusCode::kRefused);
  EXPECT_NE(refused.status().message().find("409"), std::string::npos);
  EXPECT_NE(refused.status().message().find("Plate.x: reader_field_missing_default"),
            std::string::npos)
      << refused.status().message();

  // Levels.
  EXPECT_EQ(*client->GetCompatibility(""), CompatibilityLevel::kBackward);
  ASSERT_TRUE(client->SetCompatibility("plates-value", CompatibilityLevel::kNone).ok());
  EXPECT_EQ(*client->GetCompatibility("plates-value"), CompatibilityLevel::kNone);
  ASSERT_TRUE(client->SetCompatibility("", CompatibilityLevel::kFullTransitive).ok());
  EXPECT_EQ(*client->GetCompatibility(""), CompatibilityLevel::kFullTransitive);
  EXPECT_EQ(*client->GetCompatibility("other"), CompatibilityLevel::kFullTransitive);
  ASSERT_TRUE(client->Register("plates-value", bad).ok());

  // JSON Schema subjects.
  Schema js{SchemaType::kJson, R"({"type":"object","properties":{"a":{"type":"string"}}})"};
  auto j = client->Register("logs-value", js);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(client->GetById(j->id)->type, SchemaType::kJson);
  EXPECT_EQ(client->GetAvroById(j->id).status().code(), StatusCode::kInvalidArgument);

  EXPECT_EQ(*client->ListSubjects(), (std::vector<std::string>{"logs-value", "plates-value"}));

  // Not found, by kind.
  auto missing = client->GetVersion("nope", 1);
  ASSERT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("40401"), std::string::npos);
  missing = client->GetVersion("plates-value", 42);
  EXPECT_NE(missing.status().message().find("40402"), std::string::npos);
  auto no_schema = client->LookUp("plates-value", Schema{SchemaType::kAvro, R"("bytes")"});
  EXPECT_NE(no_schema.status().message().find("40403"), std::string::npos);
  EXPECT_EQ(client->GetById(77).status().code(), StatusCode::kNotFound);
  // An invalid schema is refused here, before any request.
  auto invalid = client->Register("plates-value", Schema{SchemaType::kAvro, "{"});
  EXPECT_EQ(invalid.status().code(), StatusCode::kInvalidArgument);

  // Soft deletes.
  EXPECT_EQ(*client->DeleteVersion("plates-value", 1), 1);
  EXPECT_EQ(*client->DeleteSubject("plates-value"), (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(client->ListVersions("plates-value").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(client->GetById(1).ok());
}

// Raw requests: the error codes and shapes other clients rely on.
struct Answer {
  int status = 0;
  json body;
};

Answer Send(const RegistryServer& server, const std::string& method, const std::string& path,
            const std::string& body = "") {
  httplib::Client c("127.0.0.1", server.port());
  httplib::Result res{nullptr, httplib::Error::Unknown};
  const char* type = "application/vnd.schemaregistry.v1+json";
  if (method == "GET") res = c.Get(path);
  if (method == "POST") res = c.Post(path, body, type);
  if (method == "PUT") res = c.Put(path, body, type);
  if (method == "DELETE") res = c.Delete(path);
  if (!res) return {};
  return {res->status, json::parse(res->body, nullptr, false)};
}

TEST(RegistryRest, BadRequestsGetConfluentCodes) {
  RegistryServer server;
  std::string plate = json{{"schema", Plate().text}}.dump();
  Answer a = Send(server, "POST", "/subjects/plates-value/versions", plate);
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body, json({{"id", 1}}));

  struct Case {
    std::string method, path, body;
    int status, code;
  };
  std::vector<Case> cases = {
      {"POST", "/subjects/s/versions", "{not json", 400, 400},
      {"POST", "/subjects/s/versions", "[1,2]", 422, 422},
      {"POST", "/subjects/s/versions", R"({"schemaa": "x"})", 422, 42201},
      {"POST", "/subjects/s/versions", R"({"schema": 5})", 422, 42201},
      {"POST", "/subjects/s/versions", R"({"schema": "{\"type\": \"recor\"}"})", 422, 42201},
      {"POST", "/subjects/s/versions", R"({"schema": "\"int\"", "schemaType": "PROTOBUF"})", 422,
       42201},
      {"POST", "/subjects/s/versions", R"({"schema": "{\"type\": 3}", "schemaType": "JSON"})", 422,
       42201},
      {"POST", "/subjects/s/versions",
       R"({"schema": "\"int\"", "references": [{"name": "a", "subject": "b", "version": 1}]})", 422,
       42201},
      {"POST", "/subjects/s/versions", R"({"schema": "\"int\"", "id": 100})", 422, 422},
      {"GET", "/subjects/nope/versions", "", 404, 40401},
      {"GET", "/subjects/nope/versions/1", "", 404, 40401},
      {"GET", "/subjects/plates-value/versions/2", "", 404, 40402},
      {"GET", "/subjects/plates-value/versions/abc", "", 422, 42202},
      {"GET", "/subjects/plates-value/versions/0", "", 422, 42202},
      {"GET", "/subjects/plates-value/versions/99999999999", "", 422, 42202},
      {"POST", "/subjects/plates-value", R"({"schema": "\"string\""})", 404, 40403},
      {"POST", "/subjects/nope", plate, 404, 40401},
      {"POST", "/subjects/plates-value", "{", 400, 400},
      {"GET", "/schemas/ids/999", "", 404, 40403},
      {"GET", "/schemas/ids/x", "", 404, 40403},
      {"POST", "/compatibility/subjects/plates-value/versions/7", plate, 404, 40402},
      {"POST", "/compatibility/subjects/nope/versions/latest", plate, 404, 40401},
      {"POST", "/compatibility/subjects/plates-value/versions/last", plate, 422, 42202},
      {"PUT", "/config", R"({"compatibility": "SIDEWAYS"})", 422, 42203},
      {"PUT", "/config/plates-value", R"({"compat": "FULL"})", 422, 42203},
      {"PUT", "/config", "nope", 400, 400},
      {"DELETE", "/subjects/nope", "", 404, 40401},
      {"DELETE", "/subjects/plates-value/versions/5", "", 404, 40402},
      {"DELETE", "/subjects/plates-value?permanent=true", "", 501, 501},
  };
  for (const Case& c : cases) {
    Answer r = Send(server, c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body;
    ASSERT_TRUE(r.body.is_object()) << c.method << " " << c.path;
    EXPECT_EQ(r.body.value("error_code", 0), c.code) << c.method << " " << c.path << " " << r.body;
    EXPECT_FALSE(r.body.value("message", "").empty()) << c.path;
  }
  // The folder's path does not leak into messages.
  Answer r = Send(server, "POST", "/subjects/plates-value/versions",
                  json{{"schema", Plate(R"(,{"name":"x","type":"int"})").text}}.dump());
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["error_code"], 409);
  EXPECT_EQ(r.body["message"].get<std::string>().find("/reg"), std::string::npos) << r.body;
  EXPECT_NE(r.body["message"].get<std::string>().find("Plate.x"), std::string::npos);

  // Success shapes.
  EXPECT_EQ(Send(server, "GET", "/subjects").body, json::array({"plates-value"}));
  EXPECT_EQ(Send(server, "GET", "/schemas/types").body, json::array({"AVRO", "JSON"}));
  Answer v = Send(server, "GET", "/subjects/plates-value/versions/latest");
  EXPECT_EQ(v.body["subject"], "plates-value");
  EXPECT_EQ(v.body["version"], 1);
  EXPECT_EQ(v.body["id"], 1);
  EXPECT_FALSE(v.body.contains("schemaType"));  // AVRO is the default, as Confluent answers
  Answer raw = Send(server, "GET", "/subjects/plates-value/versions/1/schema");
  EXPECT_EQ(raw.body["name"], "alpr.Plate");
  EXPECT_EQ(Send(server, "GET", "/schemas/ids/1/versions").body,
            json::parse(R"([{"subject": "plates-value", "version": 1}])"));
  Answer verbose =
      Send(server, "POST", "/compatibility/subjects/plates-value/versions/latest?verbose=true",
           json{{"schema", Plate(R"(,{"name":"x","type":"int"})").text}}.dump());
  EXPECT_EQ(verbose.status, 200);
  EXPECT_EQ(verbose.body["is_compatible"], false);
  ASSERT_EQ(verbose.body["messages"].size(), 1u);
  EXPECT_NE(verbose.body["messages"][0].get<std::string>().find(
                "errorType:'READER_FIELD_MISSING_DEFAULT'"),
            std::string::npos);
  Answer quiet = Send(server, "POST", "/compatibility/subjects/plates-value/versions/1", plate);
  EXPECT_EQ(quiet.body, json({{"is_compatible", true}}));
  EXPECT_EQ(Send(server, "PUT", "/config/plates-value", R"({"compatibility": "FULL"})").body,
            json({{"compatibility", "FULL"}}));
  EXPECT_EQ(Send(server, "GET", "/config/plates-value").body,
            json({{"compatibilityLevel", "FULL"}}));
  EXPECT_EQ(Send(server, "GET", "/config").body, json({{"compatibilityLevel", "BACKWARD"}}));
  EXPECT_EQ(Send(server, "DELETE", "/subjects/plates-value/versions/latest").body, json(1));
}

TEST(RegistryRest, BasicAuthIsSentAndThePasswordNeverShown) {
  const std::string password = "s3cret-Pa55";
  RegistryServer server(CompatibilityLevel::kBackward, [&](httplib::Server& s) {
    s.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
      // "user:s3cret-Pa55" in base64.
      if (req.get_header_value("Authorization") == "Basic dXNlcjpzM2NyZXQtUGE1NQ==") {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.status = 401;
      res.set_content(R"({"error_code": 401, "message": "Unauthorized"})", "application/json");
      return httplib::Server::HandlerResponse::Handled;
    });
  });
  auto good = Client(server, "user", password);
  EXPECT_TRUE(good->Register("s", Plate()).ok());
  auto wrong = Client(server, "user", "wrong-password");
  auto r = wrong->ListSubjects();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("401"), std::string::npos);
  EXPECT_EQ(r.status().message().find("wrong-password"), std::string::npos);
  // Credentials in the url are used too, and not shown.
  auto in_url = OpenConfluentRegistry(
      "http://user:" + password + "@127.0.0.1:" + std::to_string(server.port()), "", "");
  ASSERT_TRUE(in_url.ok());
  EXPECT_TRUE((*in_url)->ListSubjects().ok());
  EXPECT_EQ((*in_url)->Describe().find(password), std::string::npos);
  auto bad_url = OpenConfluentRegistry("ftp://user:" + password + "@host", "", "");
  EXPECT_EQ(bad_url.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_url.status().message().find(password), std::string::npos);
}

TEST(RegistryRest, UnreachableAndSlowRegistriesAreErrorsNotHangs) {
  // A port nothing listens on: bound, then closed (cpp-httplib's Server
  // would keep a bound socket listening until it is stopped after running).
  int closed_port = 0;
  {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    closed_port = ntohs(addr.sin_port);
    ::close(fd);
  }
  auto r = OpenConfluentRegistry("http://127.0.0.1:" + std::to_string(closed_port), "", "");
  ASSERT_TRUE(r.ok());
  auto subjects = (*r)->ListSubjects();
  EXPECT_EQ(subjects.status().code(), StatusCode::kUnavailable) << subjects.status().ToString();
  EXPECT_NE(subjects.status().message().find("GET /subjects"), std::string::npos);

  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  RegistryServer server(CompatibilityLevel::kBackward, [released](httplib::Server& s) {
    s.Get("/subjects", [released](const httplib::Request&, httplib::Response& res) {
      released.wait();
      res.set_content("[]", "application/json");
    });
  });
  ConfluentOptions quick;
  quick.request_timeout = std::chrono::milliseconds(100);
  auto slow = Client(server, "", "", quick);
  auto answer = slow->ListSubjects();
  release.set_value();
  ASSERT_FALSE(answer.ok());
  EXPECT_NE(answer.status().message().find("timeout"), std::string::npos)
      << answer.status().ToString();
}

}  // namespace
}  // namespace weir::registry
