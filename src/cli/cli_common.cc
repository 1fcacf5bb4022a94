#include "cli/cli_common.h"

#include <fcntl.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace weir::cli {

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

const char* WaitForStopSignal(const sigset_t& signals) {
  int sig = 0;
  sigwait(&signals, &sig);
  return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

int OpenInputOrDie(const std::string& file) {
  if (file == "-") return 0;
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw CliError{kExitBadInput, fmt::format("--file {}: {}", file, std::strerror(errno))};
  return fd;
}

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
      return kExitBadInput;
    case StatusCode::kRefused:
      return kExitRefused;
    default:
      return kExitFailed;
  }
}

Topology LoadTopologyOrDie(const GlobalOptions& g) {
  if (!g.config_given && !std::filesystem::exists(g.config_path)) {
    Topology empty;
    empty.path = "(no weir.yaml)";
    empty.folder = ".";
    return empty;
  }
  auto topo = LoadTopology(g.config_path);
  if (!topo.ok()) throw CliError{kExitBadInput, topo.status().message()};
  return std::move(topo).value();
}

ops::ClusterConnection ConnectOrDie(const GlobalOptions& g, const Topology& topo,
                                    bool create_declared_topics) {
  ops::ConnectOptions opts;
  opts.bootstrap = g.bootstrap;
  opts.properties = g.properties;
  opts.create_declared_topics = create_declared_topics;
  auto conn = ops::ConnectCluster(topo, opts);
  if (!conn.ok()) {
    int code = conn.status().code() == StatusCode::kInvalidArgument ? kExitBadInput : kExitFailed;
    throw CliError{code, conn.status().ToString()};
  }
  return std::move(conn).value();
}

}  // namespace weir::cli
