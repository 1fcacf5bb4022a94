// cli/commands.h — registration of the `weir` subcommands.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/cli_common.h"

namespace weir::cli {

// Each adds its subcommand(s) to |app|. |g| must outlive parsing and the
// callbacks, which run during CLI11's parse and may throw CliError.
void RegisterTopicsCommands(CLI::App& app, const GlobalOptions& g);
void RegisterProduceCommand(CLI::App& app, const GlobalOptions& g);
void RegisterConsumeCommand(CLI::App& app, const GlobalOptions& g);
void RegisterBrokerCommand(CLI::App& app, const GlobalOptions& g);
void RegisterSpoolCommands(CLI::App& app, const GlobalOptions& g);
void RegisterServeCommand(CLI::App& app, const GlobalOptions& g);
void RegisterSchemaCommands(CLI::App& app, const GlobalOptions& g);
void RegisterDlqCommands(CLI::App& app, const GlobalOptions& g);
void RegisterMetricsCommands(CLI::App& app, const GlobalOptions& g);
void RegisterLagCommand(CLI::App& app, const GlobalOptions& g);
void RegisterMigrateCommands(CLI::App& app, const GlobalOptions& g);

}  // namespace weir::cli
