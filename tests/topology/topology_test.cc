// Tests of the weir.yaml loader. Most cases are files:
//   cases/bad/*.yaml   each starts with `# expect: <substring>` lines (every one must
//                      appear in the error text) and optional `# secret: <value>`
//                      lines (which must never appear in it);
//   cases/good/*.yaml  each must load.
#include "weir/topology.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/test_support.h"

namespace weir {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> CaseFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(testing::SourcePath(dir))) {
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  std::string n;
  for (char ch : fs::path(info.param).stem().string()) n += std::isalnum(ch) ? ch : '_';
  return n;
}

// A fixed environment, so that the cases do not depend on the machine's.
std::optional<std::string> TestEnv(const std::string& name) {
  if (name == "WEIR_TEST_PASSWORD") return "s3cr3t-from-env";
  if (name == "WEIR_TEST_PARTITIONS") return "6";
  if (name == "WEIR_TEST_EMPTY") return "";
  return std::nullopt;
}

class BadCase : public ::testing::TestWithParam<std::string> {};

TEST_P(BadCase, FailsWithExpectedMessages) {
  const std::string& file = GetParam();
  std::ifstream in(file);
  std::vector<std::string> expects, secrets;
  for (std::string line; std::getline(in, line) && line.rfind("#", 0) == 0;) {
    if (line.rfind("# expect: ", 0) == 0) expects.push_back(line.substr(10));
    if (line.rfind("# secret: ", 0) == 0) secrets.push_back(line.substr(10));
  }
  ASSERT_FALSE(expects.empty()) << file << " has no `# expect:` line";
  auto topo = LoadTopology(file, &TestEnv);
  ASSERT_FALSE(topo.ok()) << file << " loaded but should have failed";
  EXPECT_EQ(topo.status().code(), StatusCode::kInvalidArgument);
  const std::string msg = topo.status().message();
  for (const std::string& e : expects) {
    EXPECT_NE(msg.find(e), std::string::npos) << "expected \"" << e << "\" in:\n" << msg;
  }
  for (const std::string& s : secrets) {
    EXPECT_EQ(msg.find(s), std::string::npos) << "secret \"" << s << "\" printed in:\n" << msg;
  }
  // Every line names a place in the file.
  std::istringstream lines(msg);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.rfind(file + ":", 0), 0u) << line;
  }
}

INSTANTIATE_TEST_SUITE_P(Files, BadCase, ::testing::ValuesIn(CaseFiles("tests/topology/cases/bad")),
                         CaseName);

class GoodCase : public ::testing::TestWithParam<std::string> {};

TEST_P(GoodCase, Loads) {
  auto topo = LoadTopology(GetParam(), &TestEnv);
  EXPECT_TRUE(topo.ok()) << topo.status().message();
}

INSTANTIATE_TEST_SUITE_P(Files, GoodCase,
                         ::testing::ValuesIn(CaseFiles("tests/topology/cases/good")), CaseName);

TEST(BadCases, ThereAreEnough) { EXPECT_GE(CaseFiles("tests/topology/cases/bad").size(), 40u); }

// --- parsed values ------------------------------------------------------------

Topology LoadGood(const std::string& name) {
  auto topo = LoadTopology(testing::SourcePath("tests/topology/cases/good/" + name), &TestEnv);
  EXPECT_TRUE(topo.ok()) << topo.status().message();
  return topo.ok() ? *topo : Topology{};
}

TEST(Topology, FullFileValues) {
  Topology t = LoadGood("full.yaml");
  EXPECT_FALSE(t.cluster.embedded);
  EXPECT_EQ(t.cluster.bootstrap_servers, "k1:9092,k2:9092");
  EXPECT_EQ(t.cluster.client_id, "alpr");
  EXPECT_EQ(t.cluster.embedded_data_dir, "var/data");
  EXPECT_EQ(t.cluster.embedded_listen, "127.0.0.1:19092");
  EXPECT_EQ(t.cluster.properties.at("linger.ms").value, "5");
  EXPECT_FALSE(t.cluster.properties.at("linger.ms").secret);
  EXPECT_EQ(t.cluster.properties.at("compression.type").value, "lz4");
  // security: merged under librdkafka names, secrets flagged.
  EXPECT_EQ(t.cluster.properties.at("security.protocol").value, "SASL_SSL");
  EXPECT_EQ(t.cluster.properties.at("sasl.mechanism").value, "SCRAM-SHA-512");
  EXPECT_EQ(t.cluster.properties.at("sasl.username").value, "alpr-user");
  EXPECT_FALSE(t.cluster.properties.at("sasl.username").secret);
  EXPECT_EQ(t.cluster.properties.at("sasl.password").value, "s3cr3t-from-env");
  EXPECT_TRUE(t.cluster.properties.at("sasl.password").secret);
  EXPECT_EQ(t.cluster.properties.at("ssl.ca.location").value, "/etc/ca.pem");
  EXPECT_TRUE(t.cluster.properties.at("ssl.key.password").secret);
  EXPECT_GT(t.cluster.properties.at("sasl.password").where.line, 0);

  ASSERT_EQ(t.topics.size(), 4u);
  const TopicSpec* plates = t.FindTopic("alpr.events.plates");
  ASSERT_NE(plates, nullptr);
  EXPECT_EQ(plates->partitions, 3);
  EXPECT_EQ(plates->replication, 1);
  EXPECT_EQ(plates->retention_ms, 7 * 24 * 3600 * 1000LL);
  EXPECT_EQ(plates->retention_bytes, 1LL << 30);
  EXPECT_EQ(plates->cleanup_policy, CleanupPolicy::kDelete);
  EXPECT_EQ(plates->key_field, "camera_id");
  EXPECT_EQ(plates->schema, "PlateDetected");
  EXPECT_EQ(plates->configs.at("max.message.bytes"), "2097152");
  EXPECT_EQ(plates->where.line, 19);
  auto desired = plates->DesiredConfigs();
  EXPECT_EQ(desired.at("retention.ms"), "604800000");
  EXPECT_EQ(desired.at("retention.bytes"), "1073741824");
  EXPECT_EQ(desired.at("cleanup.policy"), "delete");
  EXPECT_EQ(desired.at("max.message.bytes"), "2097152");
  const TopicSpec* dlq = t.FindTopic("alpr.dlq");
  ASSERT_NE(dlq, nullptr);
  EXPECT_EQ(dlq->retention_ms, -1);
  EXPECT_EQ(dlq->cleanup_policy, CleanupPolicy::kCompactDelete);
  EXPECT_EQ(dlq->replication, -1);
  EXPECT_EQ(dlq->retention_bytes, std::nullopt);
  EXPECT_EQ(t.topics[0].name, "alpr.events.plates");  // file order

  const EventTypeSpec* ev = t.FindEventType("PlateDetected");
  ASSERT_NE(ev, nullptr);
  EXPECT_EQ(ev->schema, "schemas/plate_detected.avsc");
  EXPECT_EQ(ev->format, EventFormat::kAvro);
  EXPECT_EQ(ev->topics, std::vector<std::string>{"alpr.events.plates"});
  EXPECT_EQ(ev->mirror_topic, "alpr.plates.detected");
  EXPECT_EQ(ev->key_field, "camera_id");
  EXPECT_EQ(ev->id_field, "event_id");
  const EventTypeSpec* metric = t.FindEventType("MetricEvent");
  ASSERT_NE(metric, nullptr);
  EXPECT_EQ(metric->format, EventFormat::kJson);
  EXPECT_EQ(metric->topics, (std::vector<std::string>{"alpr.metrics", "alpr.dlq"}));
  EXPECT_EQ(metric->key_field, "");

  const ConsumerGroupSpec* g = t.FindGroup("alpr-storage-service");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->topics, std::vector<std::string>{"alpr.events.plates"});
  EXPECT_EQ(g->ordering, Ordering::kKey);
  EXPECT_EQ(g->concurrency, 4);
  EXPECT_EQ(g->retry.max_attempts, 3);
  EXPECT_EQ(g->retry.initial_backoff, std::chrono::seconds(2));
  EXPECT_EQ(g->retry.max_backoff, std::chrono::seconds(30));
  EXPECT_DOUBLE_EQ(g->retry.multiplier, 2.0);
  EXPECT_DOUBLE_EQ(g->retry.jitter, 0.2);
  EXPECT_EQ(g->retry.immediate_attempts, 1);
  EXPECT_EQ(g->retry.retry_on,
            (std::vector<ErrorClass>{ErrorClass::kProcessingFailure, ErrorClass::kTimeout}));
  EXPECT_EQ(g->timeout, std::chrono::seconds(30));
  EXPECT_EQ(g->dlq_topic, "alpr.dlq");
  ASSERT_TRUE(g->dedup.has_value());
  EXPECT_EQ(g->dedup->fields, (std::vector<std::string>{"device_id", "sequence_number"}));
  EXPECT_EQ(g->dedup->ttl, std::chrono::hours(1));
  EXPECT_TRUE(g->dedup->persistent);
  ASSERT_TRUE(g->reorder.has_value());
  EXPECT_EQ(g->reorder->sequence_field, "sequence_number");
  EXPECT_EQ(g->reorder->window, 20);
  EXPECT_EQ(g->reorder->tolerance, 3);
  EXPECT_EQ(g->reorder->late, LatePolicy::kDlq);
  EXPECT_EQ(g->properties.at("session.timeout.ms").value, "45000");
}

TEST(Topology, Defaults) {
  Topology t = LoadGood("minimal.yaml");
  EXPECT_TRUE(t.cluster.embedded);
  EXPECT_EQ(t.cluster.bootstrap_servers, "");
  EXPECT_EQ(t.cluster.client_id, "weir");
  EXPECT_EQ(t.cluster.embedded_data_dir, ".weir/data");
  EXPECT_EQ(t.cluster.embedded_listen, "127.0.0.1:0");
  EXPECT_TRUE(t.cluster.properties.empty());
  const TopicSpec* a = t.FindTopic("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->partitions, 1);
  EXPECT_EQ(a->replication, -1);
  EXPECT_FALSE(a->retention_ms.has_value());
  EXPECT_FALSE(a->cleanup_policy.has_value());
  EXPECT_TRUE(a->DesiredConfigs().empty());
  const EventTypeSpec* e = t.FindEventType("E");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->format, EventFormat::kJson);
  EXPECT_EQ(e->mirror_topic, "");
  const ConsumerGroupSpec* g = t.FindGroup("g");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->ordering, Ordering::kPartition);
  EXPECT_EQ(g->concurrency, 1);
  EXPECT_EQ(g->retry.max_attempts, 1);
  EXPECT_FALSE(g->timeout.has_value());
  EXPECT_EQ(g->dlq_topic, "");
  EXPECT_FALSE(g->dedup.has_value());
  EXPECT_FALSE(g->reorder.has_value());
  // A retry block with only attempts gets the documented defaults.
  const ConsumerGroupSpec* r = t.FindGroup("retrying");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->retry.max_attempts, 5);
  EXPECT_EQ(r->retry.initial_backoff, std::chrono::milliseconds(0));
  EXPECT_EQ(r->retry.max_backoff, std::chrono::seconds(60));
  EXPECT_DOUBLE_EQ(r->retry.multiplier, 2.0);
  EXPECT_EQ(r->retry.retry_on,
            (std::vector<ErrorClass>{ErrorClass::kProcessingFailure, ErrorClass::kTimeout,
                                     ErrorClass::kUnknown}));
  ASSERT_TRUE(r->dedup.has_value());
  EXPECT_EQ(r->dedup->ttl, std::chrono::minutes(1));
  EXPECT_FALSE(r->dedup->persistent);
  ASSERT_TRUE(r->reorder.has_value());
  EXPECT_EQ(r->reorder->window, 10);
  EXPECT_EQ(r->reorder->tolerance, 2);
  EXPECT_EQ(r->reorder->late, LatePolicy::kDrop);
  EXPECT_EQ(t.folder, testing::SourcePath("tests/topology/cases/good"));
}

TEST(Topology, RegistryPublisherServe) {
  Topology d = LoadGood("minimal.yaml");
  EXPECT_EQ(d.registry.url, "");
  EXPECT_EQ(d.registry.folder, ".weir/registry");
  EXPECT_EQ(d.registry.compatibility, "BACKWARD");
  EXPECT_EQ(d.publisher.delivery_timeout, std::chrono::seconds(30));
  EXPECT_TRUE(d.publisher.spool);
  EXPECT_EQ(d.publisher.spool_dir, ".weir/spool");
  EXPECT_EQ(d.publisher.spool_max_bytes, int64_t{1} << 30);
  EXPECT_EQ(d.publisher.dedup_ttl, std::chrono::milliseconds(0));
  EXPECT_EQ(d.serve.listen, "127.0.0.1:8080");
  EXPECT_EQ(d.serve.max_body_bytes, int64_t{4} << 20);
  EXPECT_EQ(d.serve.token.value, "");

  auto t = ParseTopology(R"(
registry: {url: "https://sr.example:8081", compatibility: full_transitive, username: alpr,
           password: "${WEIR_TEST_PASSWORD}"}
publisher: {delivery_timeout: 45s, spool: {dir: /var/spool/weir, max_bytes: 2GiB}, dedup_ttl: 10m}
serve: {listen: "0.0.0.0:9000", max_body: 16MiB, token: "${WEIR_TEST_PASSWORD}"}
)",
                         "weir.yaml", &TestEnv);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->registry.url, "https://sr.example:8081");
  EXPECT_EQ(t->registry.compatibility, "FULL_TRANSITIVE");
  EXPECT_EQ(t->registry.username, "alpr");
  EXPECT_EQ(t->registry.password.value, "s3cr3t-from-env");
  EXPECT_TRUE(t->registry.password.secret);
  EXPECT_EQ(t->publisher.delivery_timeout, std::chrono::seconds(45));
  EXPECT_EQ(t->publisher.spool_dir, "/var/spool/weir");
  EXPECT_EQ(t->publisher.spool_max_bytes, int64_t{2} << 30);
  EXPECT_EQ(t->publisher.dedup_ttl, std::chrono::minutes(10));
  EXPECT_EQ(t->serve.listen, "0.0.0.0:9000");
  EXPECT_EQ(t->serve.max_body_bytes, int64_t{16} << 20);
  EXPECT_EQ(t->serve.token.value, "s3cr3t-from-env");
  EXPECT_TRUE(t->serve.token.secret);

  auto off = ParseTopology("publisher: {spool: off}\n", "weir.yaml");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->publisher.spool);
}

TEST(Topology, PlainSsl) {
  Topology t = LoadGood("security_plain.yaml");
  EXPECT_FALSE(t.cluster.embedded);
  EXPECT_EQ(t.cluster.bootstrap_servers, "broker.internal:9093");
  EXPECT_EQ(t.cluster.properties.at("security.protocol").value, "SSL");  // upper-cased
  EXPECT_EQ(t.cluster.properties.at("ssl.endpoint.identification.algorithm").value, "https");
  EXPECT_EQ(t.cluster.properties.count("sasl.mechanism"), 0u);
  ASSERT_EQ(t.topics.size(), 1u);
  EXPECT_EQ(t.topics[0].partitions, 10000);
  EXPECT_EQ(t.topics[0].replication, 3);
  EXPECT_EQ(t.topics[0].retention_bytes, -1);
}

TEST(Topology, EnvSubstitution) {
  Topology t = LoadGood("env.yaml");
  const TopicSpec* topic = t.FindTopic("env.topic");
  ASSERT_NE(topic, nullptr);
  EXPECT_EQ(topic->partitions, 6);                         // ${WEIR_TEST_PARTITIONS}
  EXPECT_EQ(topic->retention_ms, 3 * 24 * 3600 * 1000LL);  // ${WEIR_TEST_UNSET:-3d}
  EXPECT_EQ(topic->key_field, "fallback_key");             // ${WEIR_TEST_EMPTY:-fallback_key}
  EXPECT_EQ(topic->configs.at("message.timestamp.type"), "${literal}");  // $${literal}
  EXPECT_EQ(topic->configs.at("x.mixed"), "pre-s3cr3t-from-env-post");
  EXPECT_EQ(t.cluster.client_id, "client-");  // ${WEIR_TEST_EMPTY} is set, to ""
  EXPECT_EQ(t.cluster.properties.at("sasl.jaas.config").value, "a $ b");
  EXPECT_TRUE(t.cluster.properties.at("sasl.jaas.config").secret);
}

TEST(Topology, ParseTopologyUsesPathInMessages) {
  auto topo = ParseTopology("topics:\n  a: {partitions: 0}\n", "mem/weir.yaml");
  ASSERT_FALSE(topo.ok());
  EXPECT_EQ(topo.status().message(),
            "mem/weir.yaml:2:19: topics.a.partitions: 0 is out of range (expected 1 to 10000)");
  auto ok = ParseTopology("", "weir.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(ok->topics.empty());
  EXPECT_EQ(ok->folder, ".");
}

TEST(Topology, ProcessEnvironmentIsTheDefault) {
  ::setenv("WEIR_TOPOLOGY_TEST_PARTS", "4", 1);
  auto topo =
      ParseTopology("topics:\n  a: {partitions: \"${WEIR_TOPOLOGY_TEST_PARTS}\"}\n", "weir.yaml");
  ASSERT_TRUE(topo.ok()) << topo.status().message();
  EXPECT_EQ(topo->topics[0].partitions, 4);
  ::unsetenv("WEIR_TOPOLOGY_TEST_PARTS");
}

TEST(Topology, CollectsEveryError) {
  auto topo = ParseTopology(
      "topics:\n  a: {partitions: 0}\n  b: {retention: 7x}\nconsumer_groups:\n"
      "  g: {topics: [c]}\n",
      "w.yaml");
  ASSERT_FALSE(topo.ok());
  const std::string m = topo.status().message();
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 2) << m;
  EXPECT_NE(m.find("w.yaml:2:"), std::string::npos);
  EXPECT_NE(m.find("w.yaml:3:"), std::string::npos);
  EXPECT_NE(m.find("w.yaml:5:"), std::string::npos);
}

TEST(Topology, MissingFile) {
  auto topo = LoadTopology("/nonexistent/weir.yaml");
  ASSERT_FALSE(topo.ok());
  EXPECT_EQ(topo.status().code(), StatusCode::kNotFound);
  EXPECT_NE(topo.status().message().find("/nonexistent/weir.yaml"), std::string::npos);
}

TEST(Topology, Names) {
  EXPECT_EQ(CleanupPolicyName(CleanupPolicy::kCompactDelete), "compact,delete");
  EXPECT_EQ(ErrorClassName(ErrorClass::kBusinessLogic), "BUSINESS_LOGIC");
  EXPECT_EQ(OrderingName(Ordering::kUnordered), "unordered");
  SourceLocation l{"w.yaml", 3, 7};
  EXPECT_EQ(l.ToString(), "w.yaml:3:7");
  EXPECT_EQ(SourceLocation{"w.yaml"}.ToString(), "w.yaml");
}

// --- units --------------------------------------------------------------------

TEST(Units, ParseDuration) {
  EXPECT_EQ(ParseDurationMs("250ms"), 250);
  EXPECT_EQ(ParseDurationMs("15s"), 15000);
  EXPECT_EQ(ParseDurationMs("30m"), 1800000);
  EXPECT_EQ(ParseDurationMs("24h"), 86400000);
  EXPECT_EQ(ParseDurationMs("7d"), 604800000);
  EXPECT_EQ(ParseDurationMs("2w"), 1209600000);
  EXPECT_EQ(ParseDurationMs("-1"), -1);
  EXPECT_EQ(ParseDurationMs("0"), 0);
  EXPECT_EQ(ParseDurationMs("0s"), 0);
  for (const char* bad : {"", "7", "7x", "d", "-2d", "-1d", "1.5h", " 7d", "7d ", "7 d", "ms",
                          "+7d", "7D", "99999999999999999999d", "9999999999999999d"}) {
    EXPECT_EQ(ParseDurationMs(bad), std::nullopt) << bad;
  }
}

TEST(Units, ParseBytes) {
  EXPECT_EQ(ParseBytes("1048576"), 1048576);
  EXPECT_EQ(ParseBytes("0"), 0);
  EXPECT_EQ(ParseBytes("-1"), -1);
  EXPECT_EQ(ParseBytes("512B"), 512);
  EXPECT_EQ(ParseBytes("1KB"), 1000);
  EXPECT_EQ(ParseBytes("500MB"), 500000000);
  EXPECT_EQ(ParseBytes("2GB"), 2000000000);
  EXPECT_EQ(ParseBytes("1KiB"), 1024);
  EXPECT_EQ(ParseBytes("1MiB"), 1048576);
  EXPECT_EQ(ParseBytes("1GiB"), 1073741824);
  EXPECT_EQ(ParseBytes("2TiB"), 2LL << 40);
  for (const char* bad :
       {"", "1X", "GiB", "-2", "-1GiB", "1.5GiB", "1 GiB", "1gib", "1kb", "99999999999TiB"}) {
    EXPECT_EQ(ParseBytes(bad), std::nullopt) << bad;
  }
}

TEST(Units, FormatDuration) {
  EXPECT_EQ(FormatDurationMs(604800000), "1w");
  EXPECT_EQ(FormatDurationMs(7 * 86400000LL * 2), "2w");
  EXPECT_EQ(FormatDurationMs(86400000), "1d");
  EXPECT_EQ(FormatDurationMs(30 * 86400000LL), "30d");
  EXPECT_EQ(FormatDurationMs(36 * 3600000LL), "36h");
  EXPECT_EQ(FormatDurationMs(90000), "90s");
  EXPECT_EQ(FormatDurationMs(120000), "2m");
  EXPECT_EQ(FormatDurationMs(1500), "1500ms");
  EXPECT_EQ(FormatDurationMs(-1), "-1");
  EXPECT_EQ(FormatDurationMs(0), "0ms");
  // Round trip.
  for (int64_t ms : {1LL, 999LL, 1000LL, 61000LL, 3600000LL, 604800000LL, 31536000000LL}) {
    EXPECT_EQ(ParseDurationMs(FormatDurationMs(ms)), ms) << ms;
  }
}

TEST(Units, SecretProperties) {
  for (const char* s :
       {"sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.keystore.location",
        "sasl.jaas.config", "sasl.oauthbearer.config", "ssl.key.pem",
        "sasl.oauthbearer.client.secret", "api.token", "SASL.PASSWORD"}) {
    EXPECT_TRUE(IsSecretProperty(s)) << s;
  }
  for (const char* s : {"sasl.username", "sasl.mechanism", "security.protocol", "ssl.ca.location",
                        "ssl.key.location", "linger.ms", "bootstrap.servers"}) {
    EXPECT_FALSE(IsSecretProperty(s)) << s;
  }
}

// --- the reference systems' topologies ----------------------------------------

Topology LoadExample(const std::string& system) {
  auto topo = LoadTopology(testing::SourcePath("examples/" + system + "/weir.yaml"), &TestEnv);
  EXPECT_TRUE(topo.ok()) << topo.status().message();
  return topo.ok() ? *topo : Topology{};
}

TEST(Examples, Alpr) {
  Topology t = LoadExample("alpr");
  EXPECT_TRUE(t.cluster.embedded);
  const TopicSpec* plates = t.FindTopic("alpr.events.plates");
  ASSERT_NE(plates, nullptr);
  EXPECT_EQ(plates->partitions, 3);
  EXPECT_EQ(plates->retention_ms, ParseDurationMs("7d"));
  EXPECT_EQ(plates->key_field, "camera_id");
  const TopicSpec* metrics = t.FindTopic("alpr.metrics");
  ASSERT_NE(metrics, nullptr);
  EXPECT_EQ(metrics->retention_ms, ParseDurationMs("24h"));
  EXPECT_EQ(metrics->key_field, "host_id");
  const TopicSpec* dlq = t.FindTopic("alpr.dlq");
  ASSERT_NE(dlq, nullptr);
  EXPECT_EQ(dlq->retention_ms, ParseDurationMs("30d"));
  EXPECT_EQ(dlq->key_field, "original_topic");
  EXPECT_NE(t.FindTopic("alpr.events.vehicles"), nullptr);
  EXPECT_NE(t.FindTopic("alpr.plates.detected"), nullptr);
  EXPECT_NE(t.FindTopic("alpr.analytics.camera-counts"), nullptr);
  const ConsumerGroupSpec* storage = t.FindGroup("alpr-storage-service");
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(storage->retry.max_attempts, 3);
  EXPECT_EQ(storage->retry.initial_backoff, std::chrono::seconds(2));
  EXPECT_EQ(storage->timeout, std::chrono::seconds(30));
  EXPECT_EQ(storage->dlq_topic, "alpr.dlq");
}

TEST(Examples, FleetOps) {
  Topology t = LoadExample("fleetops");
  EXPECT_TRUE(t.cluster.embedded);
  for (const char* name : {"raw_telemetry", "anomalies", "operator_alerts", "operator_actions"}) {
    EXPECT_NE(t.FindTopic(name), nullptr) << name;
  }
  EXPECT_FALSE(t.consumer_groups.empty());
}

TEST(Examples, DeepLens) {
  Topology t = LoadExample("deeplens");
  EXPECT_TRUE(t.cluster.embedded);
  for (const char* name : {"images.uploaded", "images.validated", "images.failed",
                           "images.processed", "images.indexed", "tenant.usage"}) {
    EXPECT_NE(t.FindTopic(name), nullptr) << name;
  }
  EXPECT_FALSE(t.consumer_groups.empty());
}

TEST(Examples, ActivityLogs) {
  Topology t = LoadExample("activity-logs");
  EXPECT_TRUE(t.cluster.embedded);
  EXPECT_NE(t.FindTopic("user-activity-logs"), nullptr);
  EXPECT_FALSE(t.consumer_groups.empty());
}

}  // namespace
}  // namespace weir
