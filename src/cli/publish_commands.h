// cli/publish_commands.h — `weir produce --type`, which produce_command.cc
// hands over to when an event type is given.
#pragma once

#include <cstdint>
#include <string>

#include "cli/cli_common.h"

namespace weir::cli {

struct ProduceEventsOptions {
  std::string type;
  std::string file = "-";
  std::string spool_dir;   // empty: publisher.spool.dir of weir.yaml
  bool outcomes = false;   // print one line per event: LINE<TAB>OUTCOME[ details]
  int64_t window = 10000;  // events without an outcome yet, at most
  int show_failures = 20;
};

// Publishes every non-empty line of the input as an event of o.type through
// the Publisher. Throws CliError (exit 1) when any event was refused or
// failed; spooled and duplicate events count as published.
void RunProduceEvents(const GlobalOptions& g, const ProduceEventsOptions& o);

}  // namespace weir::cli
