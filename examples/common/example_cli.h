// examples/common/example_cli.h — the command-line scaffolding the reference
// systems' programs (weir-fleetops, weir-deeplens, weir-activity-logs) share:
// the options every subcommand takes, the exit codes, the error that ends a
// command, connecting to the topology's cluster, where a system keeps its
// state, and the main() around CLI11.
//
//   constexpr weir::examples::Program kProgram{.name = "weir-fleetops", ...};
//   int main(int argc, char** argv) {
//     weir::examples::CommonOptions common;
//     CLI::App app{"..."};
//     weir::examples::AddCommonOptions(app, kProgram, &common);
//     CLI::App* run = app.add_subcommand("run", "...");
//     return weir::examples::RunProgram(app, kProgram, common, argc, argv,
//                                       [&] { return RunCommand(common); });
//   }
//
// Errors: a command throws CommandError for what stops it (a bad topology,
// an unreachable cluster); RunProgram() catches it once and turns it into a
// message and an exit code, as the weir CLI does (docs/cli.md).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "weir/ops/cluster.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace CLI {
class App;
}  // namespace CLI

namespace weir::publish {
class Publisher;
}  // namespace weir::publish

namespace weir::examples {

// Exit codes, as the weir CLI's (docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitBadInput = 2;

// What tells one example program's command line from another's.
struct Program {
  const char* name;            // "weir-fleetops": starts every error message
  const char* system;          // "fleetops": the folder of examples/ and of .weir/ it uses
  const char* config_help;     // the text of -c, e.g. "The FleetOps topology"
  const char* bootstrap_help;  // the text of -b; usually kBootstrapHelp
};

inline constexpr const char* kBootstrapHelp =
    "Kafka bootstrap servers, instead of weir.yaml's cluster.bootstrap";

// Options every subcommand takes.
struct CommonOptions {
  std::string config;  // set by AddCommonOptions() to examples/<system>/weir.yaml
  std::string bootstrap;
  std::vector<std::string> properties;
  std::string log_level = "warn";
};

// A failure that ends the command: message and exit code.
struct CommandError {
  int code;
  std::string message;
};

// Registers -c/--config, -b/--bootstrap, -X/--property and --log-level on
// |app|, bound to |*common|, and makes |app| take exactly one subcommand
// (the global options may also follow it). common->config is first set to
// examples/<program.system>/weir.yaml, which --help shows as the default.
// |*common| must outlive |app|'s parsing.
void AddCommonOptions(CLI::App& app, const Program& program, CommonOptions* common);

// The main() of an example program, once its options and subcommands are
// registered: parses |argc|/|argv| into |app| (on --help or a parse error,
// CLI11's output and exit code), sets the log level of |common|, routes
// SIGINT and SIGTERM to StopRequested(), then returns what |command| returns.
// A CommandError from |command| is printed as "<program.name>: <message>" on
// stderr and its code returned; other exceptions pass through.
int RunProgram(CLI::App& app, const Program& program, const CommonOptions& common, int argc,
               char** argv, const std::function<int()>& command);

// True once a SIGINT or SIGTERM has arrived (after RunProgram() installed the
// handler). Any thread may call it.
bool StopRequested();

// The topology of --config; throws CommandError (kExitBadInput) if it cannot
// be loaded.
weir::Topology LoadTopologyOrThrow(const CommonOptions& common);

// The topology and a connection to its cluster, for one command.
struct Setup {
  weir::Topology topology;
  weir::ops::ClusterConnection conn;
};

// Loads the topology and connects to its cluster (-b and -X applied); on the
// embedded broker the declared topics are created. Throws CommandError.
Setup Connect(const CommonOptions& common);

// Prints "cluster: <bootstrap> (<embedded broker and its data folder, or
// Kafka cluster>)" to stdout.
void PrintCluster(const Setup& s);

// "<weir.yaml folder>/.weir/<system>".
std::string StateDir(const weir::Topology& t, std::string_view system);

// |given| unless empty, else "<weir.yaml folder>/.weir/<system>/<name>".
std::string StatePath(const weir::Topology& t, std::string_view system, const std::string& given,
                      const std::string& name);

// A Publisher for the topology on its cluster, spooling in |spool_dir|.
// Throws CommandError (kExitFailed).
std::unique_ptr<weir::publish::Publisher> MakePublisher(const Setup& s,
                                                        const std::string& spool_dir);

// Throws CommandError (kExitFailed) "<what>: <status>" unless |s| is ok.
void Check(const weir::Status& s, const std::string& what);

// Prints one line to stdout at once; safe from several threads (services
// print from their worker threads).
void Say(const std::string& line);

// Sets a stop flag once StopRequested() or |duration| (0 = none) has passed,
// checked every 50 ms by a thread of its own, which the destructor ends.
class StopWatch {
 public:
  explicit StopWatch(std::chrono::seconds duration);
  ~StopWatch();
  StopWatch(const StopWatch&) = delete;
  StopWatch& operator=(const StopWatch&) = delete;

  // The flag, for code that takes a const std::atomic<bool>* stop; lives as
  // long as this StopWatch.
  const std::atomic<bool>* flag() const { return &stop_; }
  bool stopped() const { return stop_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace weir::examples
