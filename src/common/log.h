// common/log.h — weir's logging setup (spdlog to stderr).
//
// weir never logs to stdout: stdout carries data (`weir consume`). Programs
// call Init(); the library calls EnsureStderr() before its first log line,
// which moves spdlog's built-in default logger (stdout) to stderr but leaves
// a logger the embedding program installed alone.
#pragma once

#include <string_view>

namespace weir::log {

// Sets up the default logger: stderr, "ts level [weir] message". |level| is
// one of trace, debug, info, warn, error, off. Returns false for an unknown
// level (and leaves the level unchanged).
bool Init(std::string_view level);

// Replaces spdlog's built-in stdout default logger with weir's stderr one,
// keeping its level. Idempotent and thread-safe.
void EnsureStderr();

}  // namespace weir::log
