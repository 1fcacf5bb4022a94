// `weir metrics consume|publish`: the metrics topic (docs/metrics.md,
// "Metrics topic"). The consumer and the event format are
// ops::MetricsConsumer's and ops::MetricEvent's (weir/ops/metric_events.h);
// this file parses the arguments, turns failures into exit codes and prints.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "common/wall_clock.h"
#include "weir/consume/dead_letter.h"
#include "weir/http/server.h"
#include "weir/observe/metrics.h"
#include "weir/ops/metric_events.h"
#include "weir/publish/publisher.h"

namespace weir::cli {
namespace {

constexpr const char* kMetricTypes = "FPS, LATENCY, GPU_UTIL, MEMORY, SERVICE_HEALTH or CUSTOM";

// --- consume ------------------------------------------------------------------

struct ConsumeOptions {
  std::string group;
  std::string listen;
  int64_t max_series = 10000;
  std::string series_ttl;
};

void RunConsume(const GlobalOptions& g, const ConsumeOptions& o) {
  Topology topo = LoadTopologyOrDie(g);
  if (topo.FindGroup(o.group) == nullptr) {
    throw CliError{kExitBadInput,
                   fmt::format("--group {}: no such consumer group in {} (the metrics consumer "
                               "runs a group whose topics carry MetricEvents)",
                               o.group, topo.path)};
  }
  ops::MetricsConsumerOptions options;
  if (o.max_series < 0) {
    throw CliError{kExitBadInput,
                   fmt::format("--max-series {}: expected 0 (no limit) or more", o.max_series)};
  }
  options.max_series = static_cast<size_t>(o.max_series);
  if (!o.series_ttl.empty()) {
    std::optional<int64_t> ttl = ParseDurationMs(o.series_ttl);
    if (!ttl || *ttl < 0) {
      throw CliError{kExitBadInput,
                     fmt::format("--series-ttl {}: expected a duration such as 90s, 10m or 1h "
                                 "(0 = never)",
                                 o.series_ttl)};
    }
    options.series_ttl = std::chrono::milliseconds(*ttl);
  }
  const sigset_t stop_signals = BlockStopSignals();
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  observe::Registry metrics(topo.metrics.prefix);
  auto consumer = ops::MetricsConsumer::Create(topo, o.group, conn.config, &metrics, options);
  if (!consumer.ok()) {
    throw CliError{ExitCodeFor(consumer.status()), consumer.status().ToString()};
  }
  http::ServerOptions so;
  so.listen = o.listen.empty() ? topo.metrics.listen : o.listen;
  auto server = http::Server::Start(so, nullptr, nullptr, &metrics);
  if (!server.ok()) throw CliError{ExitCodeFor(server.status()), server.status().ToString()};
  if (Status s = (*consumer)->Start(); !s.ok()) throw CliError{ExitCodeFor(s), s.ToString()};
  std::cout << fmt::format("http://{}/metrics\n", (*server)->address()) << std::flush;
  std::cerr << fmt::format(
      "weir metrics consume: group {} reading {}; metrics on http://{}/metrics\n", o.group,
      fmt::join(topo.FindGroup(o.group)->topics, ", "), (*server)->address());
  std::cerr << fmt::format("weir metrics consume: {} received; stopping\n",
                           WaitForStopSignal(stop_signals));
  (*server)->Stop();
  Status s = (*consumer)->Stop(std::chrono::seconds(10));
  const ops::MetricsConsumerStats st = (*consumer)->Stats();
  std::cerr << fmt::format(
      "weir metrics consume: {} record(s) read, {} invalid, {} dropped; {} series\n", st.received,
      st.invalid, st.dropped_series_limit + st.dropped_reserved, st.series);
  if (!s.ok()) throw CliError{kExitFailed, s.ToString()};
}

// --- publish ------------------------------------------------------------------

struct PublishOptions {
  std::string event_type = "MetricEvent";
  std::string type = "CUSTOM";
  std::string name;
  std::string value;
  std::string unit;
  std::vector<std::string> tags;
  std::string host_id;
  std::string site_id;
  bool site_given = false;
  std::string timeout = "30s";
};

ops::MetricEvent ParseEventOrDie(const PublishOptions& o) {
  ops::MetricEvent e;
  std::string type = o.type;
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::optional<ops::MetricType> t = ops::ParseMetricType(type);
  if (!t)
    throw CliError{kExitBadInput, fmt::format("--type {}: expected {}", o.type, kMetricTypes)};
  e.metric_type = *t;
  if (o.name.empty()) throw CliError{kExitBadInput, "--name: the metric name must not be empty"};
  e.metric_name = o.name;
  double value = 0;
  const char* begin = o.value.data();
  const char* end = begin + o.value.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (o.value.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    throw CliError{kExitBadInput,
                   fmt::format("--value {}: expected a finite number such as 42 or 0.25", o.value)};
  }
  e.value = value;
  e.unit = o.unit;
  for (const std::string& tag : o.tags) {
    const size_t eq = tag.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw CliError{kExitBadInput, fmt::format("--tag {}: expected KEY=VALUE", tag)};
    }
    e.tags[tag.substr(0, eq)] = tag.substr(eq + 1);
  }
  if (o.site_given) e.site_id = o.site_id;
  e.host_id = o.host_id;
  e.metric_id = ops::NewMetricId();
  e.timestamp = consume::FormatDlqTimestamp(WallClockMs());
  return e;
}

std::string HostNameOrDie() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') {
    throw CliError{kExitBadInput, "--host-id: not given, and the host name is unknown"};
  }
  return buf;
}

void RunPublish(const GlobalOptions& g, const PublishOptions& o) {
  ops::MetricEvent event = ParseEventOrDie(o);
  if (event.host_id.empty()) event.host_id = HostNameOrDie();
  std::optional<int64_t> timeout = ParseDurationMs(o.timeout);
  if (!timeout || *timeout <= 0) {
    throw CliError{
        kExitBadInput,
        fmt::format("--timeout {}: expected a positive duration such as 30s", o.timeout)};
  }
  Topology topo = LoadTopologyOrDie(g);
  if (topo.FindEventType(o.event_type) == nullptr) {
    std::vector<std::string> declared;
    for (const EventTypeSpec& t : topo.event_types) declared.push_back(t.name);
    throw CliError{
        kExitBadInput,
        fmt::format("--event-type {}: no such event type in {} (declared: {})", o.event_type,
                    topo.path,
                    declared.empty() ? "none" : fmt::format("{}", fmt::join(declared, ", ")))};
  }
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  publish::PublisherOptions options;
  // One sample is sent now or not at all: no spool (whose folder another
  // publisher of the same weir.yaml may own).
  options.spool = false;
  options.delivery_timeout = std::chrono::milliseconds(*timeout);
  auto pub = publish::Publisher::Create(topo, conn.config, options);
  if (!pub.ok()) throw CliError{ExitCodeFor(pub.status()), pub.status().ToString()};
  publish::PublishResult r = (*pub)->Publish(o.event_type, ops::MetricEventToJson(event));
  Status closed = (*pub)->Close(std::chrono::milliseconds(*timeout));
  if (!r.accepted()) {
    std::string fields;
    for (const publish::FieldError& f : r.field_errors) {
      fields += fmt::format("\n  {}: {}", f.pointer.empty() ? "/" : f.pointer, f.message);
    }
    throw CliError{
        r.outcome == publish::PublishOutcome::kRefused ? ExitCodeFor(r.status) : kExitFailed,
        fmt::format("{} {} not published: {}{}", o.event_type, event.metric_name,
                    r.status.ToString(), fields)};
  }
  std::string where;
  for (const publish::TopicDelivery& d : r.deliveries) {
    where += fmt::format(" {}/{}@{}", d.topic, d.partition.value(), d.offset.value());
  }
  std::cout << fmt::format("{} {} {}={} host_id={}{}\n", publish::PublishOutcomeName(r.outcome),
                           o.event_type, event.metric_name, event.value, event.host_id, where);
  if (!closed.ok()) throw CliError{kExitFailed, closed.ToString()};
}

}  // namespace

void RegisterMetricsCommands(CLI::App& app, const GlobalOptions& g) {
  CLI::App* metrics = app.add_subcommand(
      "metrics",
      "The metrics topic: publish MetricEvents, and serve them as Prometheus gauges "
      "(docs/metrics.md)");
  metrics->require_subcommand(1);

  auto consume_o = std::make_shared<ConsumeOptions>();
  CLI::App* consume = metrics->add_subcommand(
      "consume",
      "Run the metrics consumer: read the MetricEvents of consumer group --group and serve the "
      "latest value of each as a gauge <prefix><metric_name>{host_id,site_id,metric_type,unit,"
      "tags...} on GET /metrics, until SIGINT or SIGTERM; prints the metrics URL");
  consume
      ->add_option("--group", consume_o->group,
                   "The consumer group of weir.yaml whose topics carry MetricEvents")
      ->required();
  consume->add_option("--listen", consume_o->listen,
                      "host:port of /metrics (default: weir.yaml metrics.listen)");
  consume
      ->add_option("--max-series", consume_o->max_series,
                   "Series held at most; events that would add more are dropped and counted "
                   "(0 = no limit)")
      ->capture_default_str();
  consume->add_option("--series-ttl", consume_o->series_ttl,
                      "Remove a series not updated for this long (90s, 10m, 1h; default: never)");
  consume->callback([&g, consume_o] { RunConsume(g, *consume_o); });

  auto publish_o = std::make_shared<PublishOptions>();
  CLI::App* publish = metrics->add_subcommand(
      "publish",
      "Publish one MetricEvent through the Publisher (validated against the event type's "
      "schema, keyed per weir.yaml); never spooled: it is delivered within --timeout or the "
      "command fails. Prints the outcome and where it went");
  publish
      ->add_option("--event-type", publish_o->event_type,
                   "The weir.yaml event type of the MetricEvents")
      ->capture_default_str();
  publish->add_option("--type", publish_o->type, std::string("metric_type: ") + kMetricTypes)
      ->capture_default_str();
  publish->add_option("--name", publish_o->name, "metric_name, e.g. pipeline_fps")->required();
  publish->add_option("--value", publish_o->value, "The value, a finite number")->required();
  publish->add_option("--unit", publish_o->unit, "unit, free text (fps, bytes, percent, ...)");
  publish->add_option("--tag", publish_o->tags, "A tag KEY=VALUE (repeat)");
  publish->add_option("--host-id", publish_o->host_id, "host_id (default: the host name)");
  publish->add_option("--site-id", publish_o->site_id, "site_id (default: none, null in the event)")
      ->each([publish_o](const std::string&) { publish_o->site_given = true; });
  publish->add_option("--timeout", publish_o->timeout, "How long to wait for the delivery")
      ->capture_default_str();
  publish->callback([&g, publish_o] { RunPublish(g, *publish_o); });
}

}  // namespace weir::cli
