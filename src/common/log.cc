#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace weir::log {

bool Init(std::string_view level) {
  static bool initialised = false;
  if (!initialised) {
    auto logger = spdlog::stderr_color_mt("weir");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [weir] %v");
    spdlog::set_default_logger(logger);
    initialised = true;
  }
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") return false;
  spdlog::set_level(lvl);
  return true;
}

}  // namespace weir::log
