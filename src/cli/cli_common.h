// cli/cli_common.h — what every `weir` subcommand shares: global options,
// loading weir.yaml, connecting to the cluster, exit codes.
#pragma once

#include <signal.h>

#include <string>
#include <vector>

#include "weir/ops/cluster.h"
#include "weir/topology.h"

namespace weir::cli {

// Exit codes, documented in docs/cli.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;    // the operation ran and something failed
inline constexpr int kExitBadInput = 2;  // bad arguments or weir.yaml
inline constexpr int kExitRefused = 3;   // weir refused an unsafe change

struct GlobalOptions {
  std::string config_path = "weir.yaml";
  bool config_given = false;
  std::string bootstrap;
  std::vector<std::string> properties;
  std::string log_level = "warn";
};

// Thrown by subcommands for errors that end the command; caught once in
// main() and printed as "weir: <message>".
struct CliError {
  int exit_code;
  std::string message;
};

// Loads weir.yaml (an empty topology when the default path does not exist
// and --config was not given). Throws CliError on a bad file.
Topology LoadTopologyOrDie(const GlobalOptions& g);

// The exit code for a failed operation: bad input (invalid argument, not
// found) kExitBadInput, a refused change kExitRefused, anything else
// kExitFailed.
int ExitCodeFor(const Status& s);
// For commands that run until SIGINT or SIGTERM: blocks both in the calling
// thread — before any other thread starts, so that every thread inherits
// the mask — and returns the set for WaitForStopSignal().
sigset_t BlockStopSignals();
// Waits for one of |signals| and returns its name ("SIGINT", "SIGTERM").
const char* WaitForStopSignal(const sigset_t& signals);

// Opens |file| for reading ("-" is stdin, fd 0); throws CliError naming it.
int OpenInputOrDie(const std::string& file);
// Connects to the cluster of |topo|; throws CliError on failure.
ops::ClusterConnection ConnectOrDie(const GlobalOptions& g, const Topology& topo,
                                    bool create_declared_topics = false);

}  // namespace weir::cli
