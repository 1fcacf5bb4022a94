// common/log.h — weir's logging setup (spdlog to stderr).
#pragma once

#include <string_view>

namespace weir::log {

// Sets up the default logger: stderr, "ts level [weir] message". |level| is
// one of trace, debug, info, warn, error, off. Returns false for an unknown
// level (and leaves the level unchanged).
bool Init(std::string_view level);

}  // namespace weir::log
