// `weir broker`: runs the embedded broker standalone until SIGINT/SIGTERM.
#include <fmt/format.h>
#include <signal.h>

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "weir/broker/broker.h"
#include "weir/http/server.h"
#include "weir/observe/metrics.h"

namespace weir::cli {
namespace {

struct BrokerArgs {
  std::string data_dir;
  std::string listen = "127.0.0.1:9092";
  std::string advertised_host;
  bool fsync = false;
  bool auto_create = false;
  int32_t partitions = 1;
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;
  int64_t segment_bytes = 1LL << 30;
  int32_t message_max_bytes = 1048588;
  int64_t retention_check_ms = 5 * 60 * 1000;
  std::string metrics_listen;
};

void RunBroker(const BrokerArgs& a) {
  const sigset_t stop_signals = BlockStopSignals();

  broker::BrokerOptions o;
  o.data_dir = a.data_dir;
  o.listen = a.listen;
  o.advertised_host = a.advertised_host;
  o.fsync = a.fsync;
  o.auto_create_topics = a.auto_create;
  o.default_partitions = a.partitions;
  o.log_retention_ms = a.retention_ms;
  o.log_segment_bytes = a.segment_bytes;
  o.message_max_bytes = a.message_max_bytes;
  o.retention_check_interval_ms = a.retention_check_ms;
  observe::Registry metrics("weir_");
  if (!a.metrics_listen.empty()) o.metrics = &metrics;
  auto b = broker::Broker::Start(o);
  if (!b.ok()) {
    int code = b.status().code() == StatusCode::kInvalidArgument ? kExitBadInput : kExitFailed;
    throw CliError{code, b.status().ToString()};
  }
  std::unique_ptr<http::Server> server;
  if (!a.metrics_listen.empty()) {
    http::ServerOptions so;
    so.listen = a.metrics_listen;
    auto started = http::Server::Start(so, nullptr, nullptr, &metrics);
    if (!started.ok()) {
      throw CliError{ExitCodeFor(started.status()),
                     fmt::format("--metrics-listen: {}", started.status().ToString())};
    }
    server = std::move(started).value();
    std::cerr << fmt::format("weir broker: metrics on http://{}/metrics\n", server->address());
  }
  std::cout << (*b)->bootstrap_servers() << std::endl;
  std::cerr << fmt::format("weir broker: {} received, stopping\n", WaitForStopSignal(stop_signals));
  if (server) server->Stop();
  (*b)->Stop();
}

}  // namespace

void RegisterBrokerCommand(CLI::App& app, const GlobalOptions&) {
  auto args = std::make_shared<BrokerArgs>();
  CLI::App* cmd = app.add_subcommand(
      "broker",
      "Run weir's embedded Kafka-protocol broker until SIGINT or SIGTERM; prints its bootstrap "
      "address (host:port) on stdout when it is ready");
  cmd->add_option("--data", args->data_dir, "Data folder (created when absent)")->required();
  cmd->add_option("--listen", args->listen,
                  "host:port to listen on; port 0 picks a free port. Loopback by default: the "
                  "broker has no authentication")
      ->capture_default_str();
  cmd->add_option("--advertised-host", args->advertised_host,
                  "Host name given to clients (default: the listen host)");
  cmd->add_flag("--fsync", args->fsync,
                "fdatasync every append and offset commit before acknowledging (survives power "
                "loss; slower). Without it, acknowledged data survives a kill -9 of the broker");
  cmd->add_flag("--auto-create-topics", args->auto_create,
                "Create unknown topics on first use (off: a misspelt topic is an error)");
  cmd->add_option("--num-partitions", args->partitions,
                  "Partitions of auto-created topics and of CreateTopics with -1")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->add_option("--log-retention-ms", args->retention_ms,
                  "Default retention.ms of topics (-1: keep forever)")
      ->check(CLI::Range(int64_t{-1}, INT64_MAX))
      ->capture_default_str();
  cmd->add_option("--log-segment-bytes", args->segment_bytes, "Default segment.bytes of topics")
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--message-max-bytes", args->message_max_bytes,
                  "Largest record batch accepted (MESSAGE_TOO_LARGE above)")
      ->check(CLI::Range(1, 1 << 30))
      ->capture_default_str();
  cmd->add_option("--retention-check-interval-ms", args->retention_check_ms,
                  "How often retention runs")
      ->check(CLI::Range(int64_t{100}, INT64_MAX))
      ->capture_default_str();
  cmd->add_option("--metrics-listen", args->metrics_listen,
                  "host:port to serve GET /metrics on (request rates by API, bytes, "
                  "connections, log sizes and offsets per partition; docs/metrics.md); default: "
                  "no metrics");
  cmd->callback([args] { RunBroker(*args); });
}

}  // namespace weir::cli
