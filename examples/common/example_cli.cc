#include "example_cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "common/log.h"
#include "weir/publish/publisher.h"

namespace weir::examples {
namespace {

std::atomic<bool> g_stop_requested{false};
extern "C" void OnStopSignal(int) { g_stop_requested.store(true); }

}  // namespace

void AddCommonOptions(CLI::App& app, const Program& program, CommonOptions* common) {
  common->config = fmt::format("examples/{}/weir.yaml", program.system);
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("-c,--config", common->config, program.config_help)->capture_default_str();
  app.add_option("-b,--bootstrap", common->bootstrap, program.bootstrap_help);
  app.add_option("-X,--property", common->properties,
                 "librdkafka property NAME=VALUE (repeatable)");
  app.add_option("--log-level", common->log_level, "trace, debug, info, warn, error, off")
      ->capture_default_str();
}

int RunProgram(CLI::App& app, const Program& program, const CommonOptions& common, int argc,
               char** argv, const std::function<int()>& command) {
  CLI11_PARSE(app, argc, argv);
  if (!weir::log::Init(common.log_level)) {
    fmt::print(stderr, "{}: --log-level {}: unknown level\n", program.name, common.log_level);
    return kExitBadInput;
  }
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  try {
    return command();
  } catch (const CommandError& e) {
    fmt::print(stderr, "{}: {}\n", program.name, e.message);
    return e.code;
  }
}

bool StopRequested() { return g_stop_requested.load(); }

weir::Topology LoadTopologyOrThrow(const CommonOptions& common) {
  auto topo = weir::LoadTopology(common.config);
  if (!topo.ok()) throw CommandError{kExitBadInput, topo.status().message()};
  return std::move(*topo);
}

Setup Connect(const CommonOptions& common) {
  weir::Topology topo = LoadTopologyOrThrow(common);
  weir::ops::ConnectOptions copts;
  copts.bootstrap = common.bootstrap;
  copts.properties = common.properties;
  copts.create_declared_topics = true;  // on the embedded broker only
  auto conn = weir::ops::ConnectCluster(topo, copts);
  if (!conn.ok()) throw CommandError{kExitFailed, conn.status().ToString()};
  return Setup{std::move(topo), std::move(*conn)};
}

void PrintCluster(const Setup& s) {
  fmt::print("cluster: {} ({})\n", s.conn.config.Get("bootstrap.servers"),
             s.conn.embedded
                 ? "weir's embedded broker, data in " + weir::ops::EmbeddedDataDir(s.topology)
                 : std::string("Kafka cluster"));
}

std::string StateDir(const weir::Topology& t, std::string_view system) {
  return (std::filesystem::path(t.folder.empty() ? "." : t.folder) / ".weir" / system)
      .lexically_normal()
      .string();
}

std::string StatePath(const weir::Topology& t, std::string_view system, const std::string& given,
                      const std::string& name) {
  if (!given.empty()) return given;
  return (std::filesystem::path(StateDir(t, system)) / name).lexically_normal().string();
}

std::unique_ptr<weir::publish::Publisher> MakePublisher(const Setup& s,
                                                        const std::string& spool_dir) {
  weir::publish::PublisherOptions po;
  po.spool_dir = spool_dir;
  auto p = weir::publish::Publisher::Create(s.topology, s.conn.config, po);
  if (!p.ok()) throw CommandError{kExitFailed, p.status().ToString()};
  return std::move(*p);
}

void Check(const weir::Status& s, const std::string& what) {
  if (!s.ok()) throw CommandError{kExitFailed, fmt::format("{}: {}", what, s.ToString())};
}

void Say(const std::string& line) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  fmt::print("{}\n", line);
  std::fflush(stdout);
}

StopWatch::StopWatch(std::chrono::seconds duration) {
  const auto deadline = duration.count() > 0 ? std::chrono::steady_clock::now() + duration
                                             : std::chrono::steady_clock::time_point::max();
  thread_ = std::thread([this, deadline] {
    while (!done_.load()) {
      if (StopRequested() || std::chrono::steady_clock::now() >= deadline) {
        stop_.store(true);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

StopWatch::~StopWatch() {
  done_.store(true);
  thread_.join();
}

}  // namespace weir::examples
