// Real scrape (issue 6): Debian's Prometheus (/usr/bin/prometheus) scrapes a
// running weir pipeline and evaluates the alert rules of
// deploy/prometheus/alerts.yml. A Publisher, a consumer group that
// dead-letters the events carrying a marker, and the DLQ monitor each serve
// their own /metrics, as the separate processes of a deployment would; through
// Prometheus' HTTP API the test reads the series a known workload leaves, then
// injects dead letters and waits for HighDLQRate to fire.
//
// Everything is waited for by polling Prometheus with a generous deadline;
// nothing asserts how long anything took.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker_test_util.h"
#include "consume/consume_test_util.h"
#include "support/test_support.h"
#include "weir/consume/runtime.h"
#include "weir/http/server.h"
#include "weir/observe/metrics.h"
#include "weir/ops/dlq_monitor.h"
#include "weir/publish/publisher.h"
#include "weir/topology.h"

namespace weir::observe {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using weir::testing::ChildProcess;
using weir::testing::TempDir;

constexpr const char* kPrometheusBinary = "/usr/bin/prometheus";
// How often Prometheus is asked again while the test waits for a condition,
// and how long the test waits at most (a 1 s scrape and evaluation interval
// needs a few seconds; the margin is for a loaded CI machine).
constexpr milliseconds kPollInterval{200};
constexpr seconds kDeadline{90};

// The test's topology: the group dead-letters what it rejects to "dlq",
// which the monitor group reads.
constexpr const char* kGroup = "order-service";
constexpr const char* kMonitorGroup = "dlq-monitor";
// Prometheus job of each role; the instance label is the target's address.
constexpr const char* kPublisherJob = "weir-publisher";
constexpr const char* kConsumerJob = "weir-consumer";
constexpr const char* kMonitorJob = "weir-dlq-monitor";

// The alert rules of deploy/prometheus/alerts.yml, made usable by a test
// that cannot wait minutes.
struct AlertRules {
  // The rule file Prometheus loads: the repo's file as parsed, with every
  // `for:` set to 0s (an alert fires at the first evaluation its expression
  // holds). The expressions, labels and annotations are the real ones, read
  // from the repo file, not copied by hand.
  std::string text;
  std::set<std::string> alerts;  // the names of the alerting rules
  std::string high_dlq_rate_expr;
};

AlertRules LoadAlertRules() {
  AlertRules out;
  YAML::Node root =
      YAML::LoadFile(weir::testing::SourcePath("deploy/prometheus/alerts.yml"));  // throws
  for (YAML::Node group : root["groups"]) {
    for (YAML::Node rule : group["rules"]) {
      if (!rule["alert"]) continue;
      const std::string name = rule["alert"].as<std::string>();
      out.alerts.insert(name);
      if (name == "HighDLQRate") out.high_dlq_rate_expr = rule["expr"].as<std::string>();
      if (rule["for"]) rule["for"] = "0s";
    }
  }
  YAML::Emitter emitter;
  emitter << root;
  out.text = emitter.c_str();
  return out;
}

// HighDLQRate's expression is `sum by (consumer_group)
// (rate(alpr_consumer_dlq_messages_sent_total[W])) > T`; the workload of
// phase 2 is sized from T and W.
struct RateRule {
  double threshold = 0;  // T, dead letters per second
  double window_s = 0;   // W, in seconds
};

std::optional<RateRule> ParseRateRule(const std::string& expr) {
  static const std::regex window_re(
      R"(rate\(alpr_consumer_dlq_messages_sent_total(\{[^}]*\})?\[([0-9a-z]+)\]\))");
  static const std::regex threshold_re(R"(>\s*([0-9.]+)\s*$)");
  std::smatch window, threshold;
  if (!std::regex_search(expr, window, window_re) ||
      !std::regex_search(expr, threshold, threshold_re)) {
    return std::nullopt;
  }
  const std::optional<int64_t> window_ms = ParseDurationMs(window[2].str());
  if (!window_ms || *window_ms <= 0) return std::nullopt;
  return RateRule{std::stod(threshold[1].str()), static_cast<double>(*window_ms) / 1000.0};
}

// How many dead letters phase 2 injects so that HighDLQRate's rate is well
// above its threshold. rate() over [W] is the increase Prometheus sees in the
// window divided by W. The BUSINESS_LOGIC counter is exposed at 0 from the
// group's start and Prometheus holds a 0 sample before the injection (phase 1
// checks it), so once it has scraped M the increase it sees is at least M:
// extrapolation only stretches the increase towards the window's end, and
// never back past the counter's zero at its start. The test is far shorter
// than W, so the 0 sample is still in the window. M = 3·T·W puts the rate at
// three times the threshold however the scrapes fall; no timing is tuned.
int InjectedDeadLetters(const RateRule& rule) {
  return std::max(10, static_cast<int>(std::ceil(3 * rule.threshold * rule.window_s)));
}

// A Prometheus server run by the test: its configuration, data and log live
// in a TempDir of its own. The destructor kills (SIGKILL) and reaps it; were
// the test process itself killed, the parent-death signal (setpriv) kills it
// too. Used from the test's thread only.
class Prometheus {
 public:
  struct Target {
    std::string job;
    std::string address;  // host:port of a /metrics endpoint
  };

  // Starts Prometheus scraping |targets| every second, with |rules| as its
  // rule file evaluated every second, and waits until it is ready. Returns
  // null, with a failure that includes its log, when it cannot be started.
  static std::unique_ptr<Prometheus> Start(const std::vector<Target>& targets,
                                           const std::string& rules) {
    std::unique_ptr<Prometheus> p(new Prometheus());
    const uint16_t port = weir::testing::FreeLoopbackPort();
    if (port == 0) {
      ADD_FAILURE() << "no free loopback port for Prometheus";
      return nullptr;
    }
    std::string config = fmt::format(R"(global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - '{}'
scrape_configs:
)",
                                     p->dir_.WriteFile("alerts.yml", rules));
    for (const Target& t : targets) {
      config += fmt::format("  - job_name: '{}'\n    static_configs:\n      - targets: ['{}']\n",
                            t.job, t.address);
    }
    const std::string config_path = p->dir_.WriteFile("prometheus.yml", config);
    p->log_path_ = p->dir_.path() + "/prometheus.log";
    // The shell only redirects stderr (Prometheus' log) to a file and execs
    // Prometheus, so the child's pid is Prometheus'. Its stdout stays the
    // pipe of ChildProcess: Prometheus writes nothing there, and the pipe
    // closes when it exits.
    const std::string command = fmt::format(
        "exec '{}' --config.file='{}' --storage.tsdb.path='{}/data' "
        "--web.listen-address=127.0.0.1:{} 2>'{}'",
        kPrometheusBinary, config_path, p->dir_.path(), port, p->log_path_);
    p->child_ = weir::testing::StartServer(command);
    if (!p->child_) return nullptr;
    p->client_ = std::make_unique<httplib::Client>("127.0.0.1", port);
    p->client_->set_connection_timeout(5, 0);
    p->client_->set_read_timeout(30, 0);
    const bool ready = p->Eventually([&] {
      const httplib::Result res = p->client_->Get("/-/ready");
      return res && res->status == 200;
    });
    if (!ready) {
      ADD_FAILURE() << "Prometheus (" << command << ") " << (p->exited_ ? "exited" : "is not ready")
                    << "; its log:\n"
                    << p->Log();
      return nullptr;
    }
    return p;
  }

  // Calls |holds| until it returns true (then true), |timeout| passes or
  // Prometheus exits (then false), every kPollInterval.
  bool Eventually(const std::function<bool()>& holds, milliseconds timeout = kDeadline) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (holds()) return true;
      const auto now = std::chrono::steady_clock::now();
      if (exited_ || now >= deadline) return false;
      // Waits on Prometheus' stdout, which only ever closes (when it exits).
      std::vector<std::string> lines;
      if (child_->ReadLines(&lines, std::min(deadline, now + kPollInterval)) ==
          ChildProcess::ReadResult::kEof) {
        exited_ = true;
      }
    }
  }

  // The "data" of the API's answer to GET |path|; null, with a failure,
  // when the request fails or the API reports an error.
  json Api(const std::string& path, const httplib::Params& params = {}) {
    const httplib::Result res = client_->Get(path.c_str(), params, httplib::Headers{});
    if (!res) {
      ADD_FAILURE() << "GET " << path << ": " << httplib::to_string(res.error()) << "\n" << Log();
      return nullptr;
    }
    json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || body.value("status", "") != "success") {
      ADD_FAILURE() << "GET " << path << ": HTTP " << res->status << ": " << res->body;
      return nullptr;
    }
    return body["data"];
  }

  // The samples of the instant query |expr| now: [{"metric": {...},
  // "value": [time, "value"]}, ...].
  json Query(const std::string& expr) {
    json data = Api("/api/v1/query", {{"query", expr}});
    if (!data.is_object() || data.value("resultType", "") != "vector") {
      ADD_FAILURE() << expr << ": not an instant vector: " << data.dump();
      return json::array();
    }
    return data["result"];
  }

  // The value of the only sample of |expr|; nullopt when it has none (and a
  // failure when it has several).
  std::optional<double> Value(const std::string& expr) {
    const json result = Query(expr);
    if (result.size() > 1) ADD_FAILURE() << expr << ": more than one series: " << result.dump();
    if (result.size() != 1) return std::nullopt;
    return std::stod(result[0]["value"][1].get<std::string>());
  }

  // The alerts (pending or firing) of the last rule evaluation.
  json Alerts() {
    json data = Api("/api/v1/alerts");
    return data.is_object() ? data["alerts"] : json::array();
  }

  // The loaded rule named |name| (from /api/v1/rules); null when not loaded.
  json Rule(const std::string& name) {
    const json data = Api("/api/v1/rules");
    if (!data.is_object()) return nullptr;
    for (const json& group : data["groups"]) {
      for (const json& rule : group["rules"]) {
        if (rule.value("name", "") == name) return rule;
      }
    }
    return nullptr;
  }

  // Every loaded rule.
  std::vector<json> Rules() {
    std::vector<json> out;
    const json data = Api("/api/v1/rules");
    if (!data.is_object()) return out;
    for (const json& group : data["groups"]) {
      for (const json& rule : group["rules"]) out.push_back(rule);
    }
    return out;
  }

  // Prometheus' log (its stderr) so far.
  std::string Log() const { return weir::testing::ReadFile(log_path_); }

 private:
  Prometheus() = default;

  TempDir dir_;  // declared first: removed after the child is reaped
  std::string log_path_;
  std::unique_ptr<ChildProcess> child_;
  std::unique_ptr<httplib::Client> client_;
  bool exited_ = false;
};

// Waits until Prometheus reports |want| as the value of |expr|.
::testing::AssertionResult Reaches(Prometheus& prom, const std::string& expr, double want) {
  std::optional<double> last;
  if (prom.Eventually([&] {
        last = prom.Value(expr);
        return last == want;
      })) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "Prometheus never reported " << expr << " == " << want
         << " (last: " << (last ? fmt::format("{}", *last) : "no sample") << "); its log:\n"
         << prom.Log();
}

// A metrics-only HTTP server of |metrics| on a free loopback port.
std::unique_ptr<http::Server> ServeMetrics(Registry& metrics) {
  http::ServerOptions options;
  options.listen = "127.0.0.1:0";
  auto server = http::Server::Start(options, nullptr, nullptr, &metrics);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(*server) : nullptr;
}

// The names of |alerts| in state |state|.
std::multiset<std::string> AlertNames(const json& alerts, std::string_view state) {
  std::multiset<std::string> out;
  for (const json& a : alerts) {
    if (a.value("state", "") == state) out.insert(a["labels"].value("alertname", ""));
  }
  return out;
}

TEST(PrometheusScrapeTest, PrometheusSeesTheWorkloadAndHighDlqRateFires) {
  if (access(kPrometheusBinary, X_OK) != 0) {
    GTEST_SKIP() << kPrometheusBinary << " is not installed (Debian package prometheus)";
  }
  const AlertRules rules = LoadAlertRules();
  ASSERT_TRUE(rules.alerts.count("HighDLQRate")) << "alerts.yml has no HighDLQRate";
  const std::optional<RateRule> dlq_rate = ParseRateRule(rules.high_dlq_rate_expr);
  ASSERT_TRUE(dlq_rate) << "HighDLQRate's expression changed shape (" << rules.high_dlq_rate_expr
                        << "); revisit how this test sizes its dead-letter workload";
  constexpr int kGood = 20;
  const int marked = InjectedDeadLetters(*dlq_rate);

  // The pipeline: orders (mirrored to orders.legacy) consumed by kGroup,
  // which rejects events with a "fail" field to dlq, read by the monitor.
  broker::testing::TestBroker broker;
  broker.CreateTopic("orders", 3);
  broker.CreateTopic("orders.legacy", 2);
  broker.CreateTopic("dlq", 1);
  TempDir dir;
  dir.WriteFile("order.schema.json", consume::testing::kOrderSchema);
  const Topology topo = weir::testing::MakeTopology(
      dir, consume::testing::OrdersYaml(fmt::format("  {}: {{topics: [orders], dlq: dlq}}\n"
                                                    "  {}: {{topics: [dlq]}}",
                                                    kGroup, kMonitorGroup)) +
               "publisher: {spool: off}\n");
  // One registry per role, each served on its own port, as the separate
  // processes of a deployment would.
  Registry publisher_metrics("alpr_");
  Registry consumer_metrics("alpr_");
  Registry monitor_metrics("alpr_");

  publish::PublisherOptions po;
  po.metrics = &publisher_metrics;
  auto pub = publish::Publisher::Create(topo, broker.Config(), po);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  consume::RuntimeOptions ro;
  ro.metrics = &consumer_metrics;
  auto rt = consume::GroupRuntime::Create(topo, kGroup, broker.Config(), ro);
  ASSERT_TRUE(rt.ok()) << rt.status().ToString();
  ASSERT_TRUE((*rt)
                  ->OnTopic("orders",
                            [](const consume::Message& m) {
                              return json::parse(m.json()).contains("fail")
                                         ? consume::HandlerResult::Reject("marked to fail")
                                         : consume::HandlerResult::Ok();
                            })
                  .ok());
  ASSERT_TRUE((*rt)->Start().ok());
  auto monitor = ops::DlqMonitor::Create(topo, kMonitorGroup, broker.Config(), &monitor_metrics);
  ASSERT_TRUE(monitor.ok()) << monitor.status().ToString();
  ASSERT_TRUE((*monitor)->Start().ok());

  const std::unique_ptr<http::Server> publisher_http = ServeMetrics(publisher_metrics);
  const std::unique_ptr<http::Server> consumer_http = ServeMetrics(consumer_metrics);
  const std::unique_ptr<http::Server> monitor_http = ServeMetrics(monitor_metrics);
  ASSERT_TRUE(publisher_http && consumer_http && monitor_http);
  const std::unique_ptr<Prometheus> prom =
      Prometheus::Start({{kPublisherJob, publisher_http->address()},
                         {kConsumerJob, consumer_http->address()},
                         {kMonitorJob, monitor_http->address()}},
                        rules.text);
  ASSERT_TRUE(prom);

  // Prometheus loaded every alerting rule of the file, with no hold time,
  // and evaluates them.
  ASSERT_TRUE(prom->Eventually([&] {
    const json rule = prom->Rule("HighDLQRate");
    return rule.is_object() && rule.value("health", "") == "ok";
  })) << "HighDLQRate is not evaluated: "
      << prom->Rule("HighDLQRate").dump() << "\n"
      << prom->Log();
  std::set<std::string> loaded;
  for (const json& rule : prom->Rules()) {
    if (rule.value("type", "") != "alerting") continue;
    loaded.insert(rule.value("name", ""));
    EXPECT_EQ(rule.value("duration", -1.0), 0.0) << rule.dump();
  }
  EXPECT_EQ(loaded, rules.alerts);

  const auto published = [](std::string_view topic) {
    return fmt::format(R"(alpr_multi_topic_events_published_total{{job="{}",topic="{}"}})",
                       kPublisherJob, topic);
  };
  const std::string processed = fmt::format(
      R"(alpr_consumer_messages_processed_total{{job="{}",consumer_group="{}",topic="orders"}})",
      kConsumerJob, kGroup);
  const std::string dead_lettered = fmt::format(
      R"(alpr_consumer_dlq_messages_sent_total{{job="{}",consumer_group="{}",error_type="BUSINESS_LOGIC"}})",
      kConsumerJob, kGroup);
  const std::string monitored = fmt::format(
      R"(alpr_dlq_messages_total{{job="{}",error_type="BUSINESS_LOGIC",original_topic="orders"}})",
      kMonitorJob);

  // Phase 1: good events only. Each is delivered to orders and mirrored to
  // orders.legacy, and handled by the group.
  for (int i = 0; i < kGood; ++i) {
    ASSERT_EQ(
        (*pub)->Publish("Order", consume::testing::Order(fmt::format("k{}", i % 5), i)).outcome,
        publish::PublishOutcome::kDelivered);
  }
  ASSERT_TRUE(Reaches(*prom, published("orders"), kGood));
  ASSERT_TRUE(Reaches(*prom, published("orders.legacy"), kGood));
  ASSERT_TRUE(Reaches(*prom, processed, kGood));
  // The dead-letter counter is scraped at 0 before any dead letter: the
  // increase rate() sees in phase 2 starts from here.
  ASSERT_TRUE(Reaches(*prom, dead_lettered, 0));
  // The monitor is scraped and has read nothing.
  ASSERT_TRUE(Reaches(
      *prom, fmt::format(R"(alpr_dlq_oldest_message_age_seconds{{job="{}"}})", kMonitorJob), 0));
  EXPECT_TRUE(prom->Query("alpr_dlq_messages_total").empty());

  // Every target is up, with the job and instance it was configured with.
  const std::set<std::pair<std::string, std::string>> targets = {
      {kPublisherJob, publisher_http->address()},
      {kConsumerJob, consumer_http->address()},
      {kMonitorJob, monitor_http->address()}};
  json up;
  std::set<std::pair<std::string, std::string>> up_targets;
  ASSERT_TRUE(prom->Eventually([&] {
    up = prom->Query("up == 1");
    up_targets.clear();
    for (const json& s : up) {
      up_targets.emplace(s["metric"].value("job", ""), s["metric"].value("instance", ""));
    }
    return up_targets == targets;
  })) << "up: "
      << prom->Query("up").dump();
  EXPECT_EQ(up.size(), targets.size()) << up.dump();

  // A healthy pipeline raises no alert: HighDLQRate's condition is false
  // and no alert is pending or firing.
  EXPECT_TRUE(prom->Query(rules.high_dlq_rate_expr).empty());
  EXPECT_TRUE(prom->Alerts().empty()) << prom->Alerts().dump(2);

  // Phase 2: injected DLQ traffic. Every marked event is rejected
  // (BUSINESS_LOGIC), dead-lettered to dlq and read there by the monitor.
  std::vector<std::string> marked_events;
  for (int i = 0; i < marked; ++i) {
    marked_events.push_back(
        consume::testing::Order(fmt::format("k{}", i % 5), kGood + i, "marker"));
  }
  const std::vector<std::string_view> views(marked_events.begin(), marked_events.end());
  for (const publish::PublishResult& r : (*pub)->PublishBatch("Order", views)) {
    ASSERT_EQ(r.outcome, publish::PublishOutcome::kDelivered);
  }
  ASSERT_TRUE(Reaches(*prom, published("orders"), kGood + marked));
  ASSERT_TRUE(Reaches(*prom, dead_lettered, marked));
  ASSERT_TRUE(Reaches(*prom, monitored, marked));
  // Rejected events are not counted as processed.
  EXPECT_EQ(prom->Value(processed), kGood);

  // HighDLQRate fires for the group, with the rule's labels, and nothing
  // else does (the monitor's group sends no dead letters).
  json alerts;
  ASSERT_TRUE(prom->Eventually([&] {
    alerts = prom->Alerts();
    return AlertNames(alerts, "firing").count("HighDLQRate") > 0;
  })) << "HighDLQRate never fired; the rule: "
      << prom->Rule("HighDLQRate").dump(2) << "\n"
      << prom->Log();
  ASSERT_EQ(alerts.size(), 1u) << alerts.dump(2);
  const json& alert = alerts[0];
  EXPECT_EQ(
      alert["labels"],
      json({{"alertname", "HighDLQRate"}, {"consumer_group", kGroup}, {"severity", "critical"}}))
      << alert.dump(2);
  EXPECT_NE(alert["annotations"].value("description", "").find(kGroup), std::string::npos)
      << alert.dump(2);
  // The value that fired is the group's rate, above the threshold.
  EXPECT_GT(std::stod(alert.value("value", "0")), dlq_rate->threshold) << alert.dump(2);

  // The histograms are queryable: a quantile over the processing-time
  // buckets is a finite number (which one depends on the machine), and every
  // handler attempt, accepted or rejected, was observed.
  ASSERT_TRUE(Reaches(
      *prom,
      fmt::format(
          R"(alpr_consumer_processing_duration_seconds_count{{job="{}",consumer_group="{}"}})",
          kConsumerJob, kGroup),
      kGood + marked));
  const std::optional<double> p99 = prom->Value(fmt::format(
      R"(histogram_quantile(0.99, alpr_consumer_processing_duration_seconds_bucket{{job="{}",consumer_group="{}"}}))",
      kConsumerJob, kGroup));
  ASSERT_TRUE(p99);
  EXPECT_TRUE(std::isfinite(*p99)) << *p99;
  EXPECT_GE(*p99, 0);

  // The pipeline stops cleanly; then the destructors kill Prometheus, stop
  // the servers it scraped and free the registries last.
  EXPECT_TRUE((*monitor)->Stop().ok());
  EXPECT_TRUE((*rt)->Stop(seconds(10)).ok());
  EXPECT_TRUE((*pub)->Close().ok());
}

}  // namespace
}  // namespace weir::observe
