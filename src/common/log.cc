#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <string>

namespace weir::log {
namespace {

std::mutex& Mutex() {
  static std::mutex mu;
  return mu;
}

// The "weir" stderr logger, created once. Call with Mutex() held.
std::shared_ptr<spdlog::logger> WeirLogger() {
  std::shared_ptr<spdlog::logger> logger = spdlog::get("weir");
  if (!logger) {
    logger = spdlog::stderr_color_mt("weir");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [weir] %v");
  }
  return logger;
}

}  // namespace

bool Init(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  const bool known = !(lvl == spdlog::level::off && level != "off");
  std::lock_guard<std::mutex> lock(Mutex());
  spdlog::set_default_logger(WeirLogger());
  if (known) spdlog::set_level(lvl);
  return known;
}

void EnsureStderr() {
  std::lock_guard<std::mutex> lock(Mutex());
  std::shared_ptr<spdlog::logger> current = spdlog::default_logger();
  // spdlog's built-in default logger has an empty name and writes to stdout.
  if (current && !current->name().empty()) return;
  std::shared_ptr<spdlog::logger> logger = WeirLogger();
  if (current) logger->set_level(current->level());
  spdlog::set_default_logger(logger);
}

}  // namespace weir::log
