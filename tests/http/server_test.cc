// The HTTP server of `weir serve` (weir/http/server.h) on 127.0.0.1, driven by
// httplib's client: ingest against an in-process embedded broker (status
// codes, response shapes, what reaches the topic), limits, the bearer token,
// the registry routes, and a cluster that cannot be reached (503, or 202
// with the events spooled).
#include "weir/http/server.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <set>

#include "broker/broker_test_util.h"
#include "publish/publish_test_util.h"
#include "weir/observe/metrics.h"
#include "weir/publish/publisher.h"
#include "weir/registry/registry.h"

namespace weir::http {
namespace {

using broker::testing::TestBroker;
using nlohmann::json;
using weir::testing::MakeTopology;
using weir::testing::ReadTopic;
using weir::testing::TempDir;

constexpr const char* kNdjson = "application/x-ndjson";

constexpr const char* kTelemetrySchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["event_id", "vehicle", "speed"],
  "properties": {
    "event_id": {"type": "string"},
    "vehicle": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
    "speed": {"type": "number", "minimum": 0}
  }
})";

std::string Telemetry(int n, double speed = 10) {
  return fmt::format(R"({{"event_id": "ev-{}", "vehicle": {{"id": "truck-{}"}}, "speed": {}}})", n,
                     n % 5, speed);
}

// The JSON body of |res|; a failed expectation (and null) when it is not JSON.
json Body(const httplib::Result& res) {
  if (!res) return nullptr;
  json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(body.is_discarded()) << "not JSON: " << res->body;
  return body.is_discarded() ? json(nullptr) : body;
}

// True when |errors| has an entry for |line| with |pointer| and |keyword|.
bool HasError(const json& errors, int line, const std::string& pointer,
              const std::string& keyword) {
  for (const json& e : errors) {
    if (e.value("line", -1) == line && e.value("pointer", "") == pointer &&
        e.value("keyword", "") == keyword) {
      return true;
    }
  }
  return false;
}

std::set<int> ErrorLines(const json& errors) {
  std::set<int> lines;
  for (const json& e : errors) lines.insert(e.value("line", -1));
  return lines;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.WriteFile("telemetry.schema.json", kTelemetrySchema);
    topo_ = MakeTopology(
        dir_, fmt::format(R"(
publisher: {{delivery_timeout: 20s, dedup_ttl: 1m, spool: off}}
topics:
  telemetry: {{partitions: 2}}
  plates: {{partitions: 2, key: camera_id}}
event_types:
  Telemetry: {{schema: telemetry.schema.json, topic: telemetry, key: vehicle.id, id: event_id}}
  PlateEvent: {{schema: {}, topic: plates, id: event_id}}
)",
                          testing::SourcePath("examples/alpr/schemas/plate_event.avsc")));
    broker_.CreateTopic("telemetry", 2);
    broker_.CreateTopic("plates", 2);
    auto reg = registry::OpenLocalRegistry(dir_.path() + "/registry",
                                           registry::CompatibilityLevel::kBackward);
    ASSERT_TRUE(reg.ok()) << reg.status().ToString();
    registry_ = std::move(*reg);
    publisher_ = MakePublisher(broker_.Config());
    ASSERT_TRUE(publisher_);
  }

  // A Publisher of topo_ whose Avro schemas are registered in registry_.
  std::unique_ptr<publish::Publisher> MakePublisher(const kafka::ClientConfig& config,
                                                    publish::PublisherOptions options = {}) {
    options.schema_ids = [this](const std::string& subject,
                                const std::string& text) -> Result<int32_t> {
      auto r = registry_->Register(subject, registry::Schema{registry::SchemaType::kAvro, text});
      if (!r.ok()) return r.status();
      return r->id;
    };
    auto p = publish::Publisher::Create(topo_, config, std::move(options));
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(*p) : nullptr;
  }

  std::unique_ptr<Server> Start(ServerOptions options = {}, publish::Publisher* publisher = nullptr,
                                registry::Registry* reg = nullptr,
                                observe::Registry* metrics = nullptr) {
    options.listen = "127.0.0.1:0";
    auto s =
        Server::Start(options, publisher != nullptr ? publisher : publisher_.get(), reg, metrics);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  static std::unique_ptr<httplib::Client> Client(const Server& server) {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", server.port());
    c->set_read_timeout(60, 0);
    c->set_write_timeout(60, 0);
    return c;
  }

  // The records of the telemetry topic, read once a sentinel event posted
  // now has been delivered: everything an earlier request published is
  // included, so "nothing else" can be asserted without waiting.
  std::vector<testing::ReadRecord> TelemetryAfterSentinel(httplib::Client& client,
                                                          const httplib::Headers& headers = {}) {
    auto res = client.Post("/v1/events/Telemetry", headers, Telemetry(999999), "application/json");
    EXPECT_TRUE(res && res->status == 202) << (res ? res->body : httplib::to_string(res.error()));
    return ReadTopic(broker_.Config(), "telemetry", 2);
  }

  TempDir dir_;
  TestBroker broker_;
  Topology topo_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<publish::Publisher> publisher_;
};

TEST_F(HttpServerTest, OneJsonEventIsDeliveredToItsTopic) {
  auto server = Start();
  ASSERT_TRUE(server);
  auto client = Client(*server);
  const std::string event = Telemetry(1);
  auto res = client->Post("/v1/events/Telemetry", event, "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(Body(res), (json{{"events", 1}, {"delivered", 1}, {"spooled", 0}, {"duplicates", 0}}));

  std::vector<testing::ReadRecord> recs = ReadTopic(broker_.Config(), "telemetry", 2);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].value, event);
  EXPECT_EQ(recs[0].key, "truck-1");
  EXPECT_EQ(recs[0].headers["weir-event-type"], "Telemetry");
}

TEST_F(HttpServerTest, NdjsonBatchWithBlankLinesAndCrlfIsDeliveredWhole) {
  auto server = Start();
  ASSERT_TRUE(server);
  auto client = Client(*server);
  constexpr int kEvents = 1000;
  std::string body = "\r\n";  // a blank first line
  std::set<std::string> sent;
  for (int i = 0; i < kEvents; ++i) {
    body += Telemetry(i, i) + "\r\n";
    sent.insert(Telemetry(i, i));
    if (i % 100 == 7) body += "\r\n \t\r\n\n";  // blank and whitespace-only lines
  }
  body += Telemetry(kEvents);  // the last line has no line end
  sent.insert(Telemetry(kEvents));
  auto res = client->Post("/v1/events/Telemetry", body, kNdjson);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(
      Body(res),
      (json{
          {"events", kEvents + 1}, {"delivered", kEvents + 1}, {"spooled", 0}, {"duplicates", 0}}));

  std::vector<testing::ReadRecord> recs = ReadTopic(broker_.Config(), "telemetry", 2);
  ASSERT_EQ(recs.size(), static_cast<size_t>(kEvents + 1));
  std::set<std::string> got;
  for (const testing::ReadRecord& r : recs) got.insert(r.value.value_or(""));
  EXPECT_EQ(got, sent);  // every event once, without its "\r"
}

TEST_F(HttpServerTest, InvalidLinesAre400WithLinePointerAndKeywordAndNothingIsPublished) {
  auto server = Start();
  ASSERT_TRUE(server);
  auto client = Client(*server);
  const std::string body = Telemetry(1) + "\n" +                                   // line 1
                           Telemetry(2, -5) + "\n" +                               // line 2
                           "\n" +                                                  // line 3
                           Telemetry(4) + "\n" +                                   // line 4
                           R"({"event_id": "ev-5", "vehicle": {}, "speed": 1})" +  // line 5
                           "\n" + Telemetry(6) + "\n";                             // line 6
  auto res = client->Post("/v1/events/Telemetry", body, kNdjson);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 400) << res->body;
  json reply = Body(res);
  EXPECT_EQ(reply["error_code"], 400);
  EXPECT_NE(reply["message"].get<std::string>().find("2 of 5"), std::string::npos) << reply;
  ASSERT_TRUE(reply["errors"].is_array()) << reply;
  EXPECT_TRUE(HasError(reply["errors"], 2, "/speed", "minimum")) << reply["errors"];
  EXPECT_TRUE(HasError(reply["errors"], 5, "/vehicle", "required")) << reply["errors"];
  EXPECT_EQ(ErrorLines(reply["errors"]), (std::set<int>{2, 5})) << reply["errors"];
  for (const json& e : reply["errors"]) {
    EXPECT_FALSE(e.value("message", "").empty()) << e;
  }

  // All or nothing: the valid lines 1, 4 and 6 were not published either.
  std::vector<testing::ReadRecord> recs = TelemetryAfterSentinel(*client);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].value, Telemetry(999999));
  EXPECT_EQ(publisher_->Stats().delivered, 1u);
}

TEST_F(HttpServerTest, MalformedJsonNamesTheByteOffset) {
  auto server = Start();
  ASSERT_TRUE(server);
  auto client = Client(*server);
  auto res = client->Post("/v1/events/Telemetry", R"({"event_id": "ev-1", "speed": })",
                          "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 400) << res->body;
  json reply = Body(res);
  ASSERT_EQ(reply["errors"].size(), 1u) << reply;
  EXPECT_EQ(reply["errors"][0]["line"], 1);
  EXPECT_NE(reply["errors"][0]["message"].get<std::string>().find("not valid JSON (at byte 31)"),
            std::string::npos)
      << reply;

  // In NDJSON, the line of the broken event is named.
  res = client->Post("/v1/events/Telemetry", Telemetry(1) + "\n{\"event_id\": \n" + Telemetry(3),
                     kNdjson);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 400) << res->body;
  reply = Body(res);
  EXPECT_EQ(ErrorLines(reply["errors"]), (std::set<int>{2})) << reply;
  EXPECT_NE(reply.dump().find("at byte"), std::string::npos) << reply;

  EXPECT_EQ(TelemetryAfterSentinel(*client).size(), 1u);
}

TEST_F(HttpServerTest, AnEmptyBodyIs400) {
  auto server = Start();
  ASSERT_TRUE(server);
  auto client = Client(*server);
  for (const auto& [body, type] : {std::pair<std::string, std::string>{"", "application/json"},
                                   {" \r\n\t", "application/json"},
                                   {"", kNdjson},
                                   {"\n\r\n  \n", kNdjson}}) {
    SCOPED_TRACE(type + " body \"" + body + "\"");
    auto res = client->Post("/v1/events/Telemetry", body, type);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 400) << res->body;
    json reply = Body(res);
    EXPECT_EQ(reply["error_code"], 400);
    EXPECT_NE(reply["message"].get<std::string>().find("no event"), std::string::npos) << reply;
  }
}

TEST_F(HttpServerTest, AnUndeclaredTypeIs404NamingTheDeclaredOnes) {
  auto server = Start();
  ASSERT_TRUE(server);
  auto client = Client(*server);
  auto res = client->Post("/v1/events/Teletemry", Telemetry(1), "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 404) << res->body;
  json reply = Body(res);
  EXPECT_EQ(reply["error_code"], 404);
  const std::string message = reply["message"].get<std::string>();
  EXPECT_NE(message.find("Teletemry"), std::string::npos) << message;
  EXPECT_NE(message.find("declared: PlateEvent, Telemetry"), std::string::npos) << message;
}

TEST_F(HttpServerTest, ABodyOverTheLimitIs413WithContentLengthOrChunked) {
  ServerOptions options;
  options.max_body_bytes = 16 << 10;
  auto server = Start(options);
  ASSERT_TRUE(server);
  // Valid events, twice the limit: without the limit they would be accepted.
  std::string body;
  for (int i = 0; body.size() < 2 * static_cast<size_t>(options.max_body_bytes); ++i) {
    body += Telemetry(i) + "\n";
  }
  {
    auto client = Client(*server);
    auto res = client->Post("/v1/events/Telemetry", body, kNdjson);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 413) << res->body;
    json reply = Body(res);
    EXPECT_EQ(reply["error_code"], 413);
    EXPECT_NE(reply["message"].get<std::string>().find("max_body"), std::string::npos) << reply;
  }
  {
    // Transfer-Encoding: chunked (no Content-Length), in 1 KiB chunks.
    auto client = Client(*server);
    auto res = client->Post(
        "/v1/events/Telemetry",
        [&body](size_t offset, httplib::DataSink& sink) {
          if (offset >= body.size()) {
            sink.done();
            return true;
          }
          const size_t n = std::min<size_t>(1024, body.size() - offset);
          return sink.write(body.data() + offset, n);
        },
        kNdjson);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 413) << res->body;
    json reply = Body(res);
    EXPECT_EQ(reply["error_code"], 413);
  }
  // A chunked body within the limit is accepted.
  auto client = Client(*server);
  const std::string small = Telemetry(100001) + "\n" + Telemetry(100002) + "\n";
  auto res = client->Post(
      "/v1/events/Telemetry",
      [&small](size_t offset, httplib::DataSink& sink) {
        if (offset >= small.size()) {
          sink.done();
          return true;
        }
        return sink.write(small.data() + offset, std::min<size_t>(10, small.size() - offset));
      },
      kNdjson);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(Body(res)["delivered"], 2);
  // Nothing of the refused bodies reached the topic.
  EXPECT_EQ(TelemetryAfterSentinel(*client).size(), 3u);
}

TEST_F(HttpServerTest, TooManyEventsInOneRequestIs413) {
  ServerOptions options;
  options.max_events_per_request = 10;
  auto server = Start(options);
  ASSERT_TRUE(server);
  auto client = Client(*server);
  std::string body;
  for (int i = 0; i < 11; ++i) body += Telemetry(i) + "\n";
  auto res = client->Post("/v1/events/Telemetry", body, kNdjson);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 413) << res->body;
  json reply = Body(res);
  EXPECT_EQ(reply["error_code"], 413);
  EXPECT_NE(reply["message"].get<std::string>().find("11 events in one request; at most 10"),
            std::string::npos)
      << reply;

  body.clear();
  for (int i = 100; i < 110; ++i) body += Telemetry(i) + "\n";
  res = client->Post("/v1/events/Telemetry", body, kNdjson);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(TelemetryAfterSentinel(*client).size(), 11u);
}

TEST_F(HttpServerTest, ABearerTokenGuardsEveryRouteButHealthz) {
  ServerOptions options;
  options.bearer_token = "s3cret-token";
  auto server = Start(options, nullptr, registry_.get());
  ASSERT_TRUE(server);
  auto client = Client(*server);
  for (const auto& [name, headers] : std::vector<std::pair<std::string, httplib::Headers>>{
           {"no token", {}},
           {"wrong token", {{"Authorization", "Bearer wrong-token!"}}},
           {"a prefix of the token", {{"Authorization", "Bearer s3cret"}}},
           {"the token and more", {{"Authorization", "Bearer s3cret-token2"}}},
           {"another scheme", {{"Authorization", "Basic s3cret-token"}}},
           {"an empty token", {{"Authorization", "Bearer "}}},
       }) {
    SCOPED_TRACE(name);
    auto res = client->Post("/v1/events/Telemetry", headers, Telemetry(1), "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 401) << res->body;
    EXPECT_EQ(res->get_header_value("WWW-Authenticate").rfind("Bearer", 0), 0u)
        << res->get_header_value("WWW-Authenticate");
    EXPECT_EQ(Body(res)["error_code"], 401);
    EXPECT_EQ(res->body.find("s3cret-token"), std::string::npos) << res->body;
    res = client->Get("/subjects", headers);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 401) << res->body;
  }
  auto res = client->Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Body(res)["status"], "ok");

  const httplib::Headers auth = {{"Authorization", "Bearer s3cret-token"}};
  res = client->Post("/v1/events/Telemetry", auth, Telemetry(1), "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 202) << res->body;
  res = client->Get("/subjects", auth);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  // The scheme name is case-insensitive; the token is not.
  res = client->Get("/subjects", {{"Authorization", "bearer s3cret-token"}});
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  res = client->Get("/subjects", {{"Authorization", "Bearer S3CRET-TOKEN"}});
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 401) << res->body;

  // A keep-alive client whose refused request had a body can go on with the
  // next request: the unread body does not become the next request.
  auto keep_alive = Client(*server);
  keep_alive->set_keep_alive(true);
  res = keep_alive->Post("/v1/events/Telemetry", Telemetry(2), "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 401) << res->body;
  res = keep_alive->Post("/v1/events/Telemetry", auth, Telemetry(3), "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 202) << res->body;

  // Only the authorised events were published.
  EXPECT_EQ(TelemetryAfterSentinel(*client, auth).size(), 3u);
}

TEST_F(HttpServerTest, ADuplicateEventIsCountedAndNotPublishedAgain) {
  auto server = Start();
  ASSERT_TRUE(server);
  auto client = Client(*server);
  auto res = client->Post("/v1/events/Telemetry", Telemetry(1), "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(Body(res)["duplicates"], 0);

  // The same event_id again (other values, same id): a duplicate.
  res =
      client->Post("/v1/events/Telemetry", Telemetry(1, 99) + "\n" + Telemetry(2) + "\n", kNdjson);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(Body(res), (json{{"events", 2}, {"delivered", 1}, {"spooled", 0}, {"duplicates", 1}}));
  EXPECT_EQ(TelemetryAfterSentinel(*client).size(), 3u);
}

TEST_F(HttpServerTest, AnUnknownRouteIsAJson404) {
  auto server = Start();
  ASSERT_TRUE(server);
  auto client = Client(*server);
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/nope"},
                                                        {"POST", "/v1/events"},
                                                        {"POST", "/v1/events/Telemetry/x"},
                                                        {"GET", "/v1/events/Telemetry"},
                                                        {"GET", "/subjects"}}) {
    SCOPED_TRACE(method + " " + path);
    auto res =
        method == "GET" ? client->Get(path) : client->Post(path, Telemetry(1), "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 404) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    json reply = Body(res);
    EXPECT_EQ(reply["error_code"], 404);
    EXPECT_NE(reply["message"].get<std::string>().find(path), std::string::npos) << reply;
  }
}

TEST_F(HttpServerTest, TheRegistryRoutesServeTheGivenRegistry) {
  auto server = Start({}, nullptr, registry_.get());
  ASSERT_TRUE(server);
  auto client = Client(*server);
  // The Publisher registered PlateEvent's schema under "plates-value".
  auto res = client->Get("/subjects");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Body(res), json::array({"plates-value"}));
  res = client->Get("/subjects/plates-value/versions/latest");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  const int schema_id = Body(res).value("id", -1);
  EXPECT_GT(schema_id, 0) << res->body;

  // An Avro event is framed with that id.
  const std::string sample =
      testing::ReadFile(testing::SourcePath("examples/alpr/schemas/samples/PlateEvent.json"));
  ASSERT_FALSE(sample.empty());
  res = client->Post("/v1/events/PlateEvent", sample, "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 202) << res->body;
  std::vector<testing::ReadRecord> recs = ReadTopic(broker_.Config(), "plates", 2);
  ASSERT_EQ(recs.size(), 1u);
  ASSERT_TRUE(recs[0].value && recs[0].value->size() > 5);
  EXPECT_EQ(recs[0].value->at(0), '\0');
  EXPECT_EQ(recs[0].value->substr(1, 4), std::string({0, 0, 0, static_cast<char>(schema_id)}));
  EXPECT_EQ(recs[0].key, "cam-01");
}

TEST_F(HttpServerTest, MetricsAreServedInThePrometheusFormatBehindTheToken) {
  observe::Registry metrics("alpr_");
  publish::PublisherOptions po;
  po.metrics = &metrics;
  auto pub = MakePublisher(broker_.Config(), po);
  ASSERT_TRUE(pub);
  ServerOptions so;
  so.bearer_token = "s3cret";
  auto server = Start(so, pub.get(), nullptr, &metrics);
  ASSERT_TRUE(server);
  auto client = Client(*server);
  const httplib::Headers auth = {{"Authorization", "Bearer s3cret"}};
  auto res = client->Post("/v1/events/Telemetry", auth, Telemetry(1), "application/json");
  ASSERT_TRUE(res && res->status == 202) << (res ? res->body : "no response");
  res = client->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = client->Get("/metrics", auth);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), observe::Registry::ContentType());
  EXPECT_NE(res->body.find("alpr_multi_topic_events_published_total{topic=\"telemetry\"} 1\n"),
            std::string::npos)
      << res->body;
  auto check = weir::testing::RunCommand({"promtool", "check", "metrics"}, res->body);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST_F(HttpServerTest, HealthzReportsTheSpool) {
  auto server = Start();
  ASSERT_TRUE(server);
  auto client = Client(*server);
  auto res = client->Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Body(res), (json{{"status", "ok"}, {"spooling", false}, {"spool_records", 0}}));
}

TEST_F(HttpServerTest, AnUnreachableClusterWithoutASpoolIs503) {
  kafka::ClientConfig unreachable;
  unreachable.Set("bootstrap.servers", "127.0.0.1:1");
  publish::PublisherOptions options;
  options.spool = false;
  options.delivery_timeout = std::chrono::milliseconds(300);
  auto pub = MakePublisher(unreachable, options);
  ASSERT_TRUE(pub);
  auto server = Start({}, pub.get());
  ASSERT_TRUE(server);
  auto client = Client(*server);
  auto res = client->Post("/v1/events/Telemetry", Telemetry(1) + "\n\n" + Telemetry(3), kNdjson);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 503) << res->body;
  json reply = Body(res);
  EXPECT_EQ(reply["error_code"], 503);
  EXPECT_EQ(reply["events"], 2);
  EXPECT_EQ(reply["failed"], 2);
  EXPECT_EQ(reply["delivered"], 0);
  EXPECT_EQ(reply["spooled"], 0);
  EXPECT_EQ(ErrorLines(reply["errors"]), (std::set<int>{1, 3})) << reply;
  for (const json& e : reply["errors"]) {
    EXPECT_FALSE(e.value("kafka_error", "").empty()) << e;
  }
}

TEST_F(HttpServerTest, AnUnreachableClusterWithASpoolIs202Spooled) {
  kafka::ClientConfig unreachable;
  unreachable.Set("bootstrap.servers", "127.0.0.1:1");
  publish::PublisherOptions options;
  options.spool = true;
  options.spool_dir = dir_.path() + "/spool";
  options.delivery_timeout = std::chrono::milliseconds(300);
  auto pub = MakePublisher(unreachable, options);
  ASSERT_TRUE(pub);
  auto server = Start({}, pub.get());
  ASSERT_TRUE(server);
  auto client = Client(*server);
  auto res = client->Post("/v1/events/Telemetry", Telemetry(1) + "\n" + Telemetry(2), kNdjson);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(Body(res), (json{{"events", 2}, {"delivered", 0}, {"spooled", 2}, {"duplicates", 0}}));

  res = client->Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  json health = Body(res);
  EXPECT_EQ(health["spooling"], true) << health;
  EXPECT_EQ(health["spool_records"], 2) << health;

  server->Stop();
  ASSERT_TRUE(pub->Close().ok());
  auto status = publish::Spool::ReadStatus(dir_.path() + "/spool");
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->records, 2);
  EXPECT_EQ(status->topics["telemetry"].records, 2);
}

}  // namespace
}  // namespace weir::http
