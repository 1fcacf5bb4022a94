// weir — the command-line interface. Thin: parses arguments and calls the
// library. Errors that end a command are printed once, here.
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "common/log.h"

int main(int argc, char** argv) {
  using namespace weir::cli;
  GlobalOptions g;
  CLI::App app{
      "weir — reliable multi-topic Kafka event pipelines.\n"
      "Topics, event types and consumer groups are declared in weir.yaml "
      "(docs/topology.md).",
      "weir"};
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("-c,--config", g.config_path,
                 "The topology file (default ./weir.yaml; optional when it does not exist)")
      ->each([&g](const std::string&) { g.config_given = true; });
  app.add_option("-b,--bootstrap", g.bootstrap,
                 "Bootstrap servers host:port[,...]; overrides weir.yaml's cluster");
  app.add_option("-X,--property", g.properties,
                 "A librdkafka property NAME=VALUE, passed verbatim (repeat)");
  app.add_option("--log-level", g.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str()
      ->each([](const std::string& level) { weir::log::Init(level); });
  weir::log::Init(g.log_level);

  CLI::App* version = app.add_subcommand("version", "Print weir's and librdkafka's versions");
  version->callback([] {
    std::cout << fmt::format("weir {} (librdkafka {})\n", WEIR_VERSION, rd_kafka_version_str());
  });
  RegisterTopicsCommands(app, g);
  RegisterProduceCommand(app, g);
  RegisterConsumeCommand(app, g);
  RegisterBrokerCommand(app, g);
  RegisterSpoolCommands(app, g);
  RegisterServeCommand(app, g);
  RegisterSchemaCommands(app, g);
  RegisterDlqCommands(app, g);
  RegisterMetricsCommands(app, g);
  RegisterLagCommand(app, g);
  RegisterMigrateCommands(app, g);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits kExitBadInput.
    return app.exit(e) == 0 ? kExitOk : kExitBadInput;
  } catch (const CliError& e) {
    std::cerr << "weir: " << e.message << "\n";
    return e.exit_code;
  } catch (const std::exception& e) {
    std::cerr << "weir: internal error: " << e.what() << "\n";
    return kExitFailed;
  }
  return kExitOk;
}
