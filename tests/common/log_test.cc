// weir never logs to stdout: the library moves spdlog's built-in stdout
// default logger to stderr, and leaves a program's own logger alone.
#include "common/log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace weir::log {
namespace {

TEST(Log, LibraryMovesTheStdoutDefaultToStderrAndKeepsAProgramsLogger) {
  // Fresh process: spdlog's built-in default (unnamed, stdout).
  ASSERT_TRUE(spdlog::default_logger()->name().empty());
  spdlog::set_level(spdlog::level::debug);
  EnsureStderr();
  EXPECT_EQ(spdlog::default_logger()->name(), "weir");
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::debug);

  std::ostringstream out;
  auto mine = std::make_shared<spdlog::logger>(
      "program", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  spdlog::set_default_logger(mine);
  EnsureStderr();
  EXPECT_EQ(spdlog::default_logger(), mine);
  spdlog::info("kept");
  EXPECT_NE(out.str().find("kept"), std::string::npos);

  EXPECT_TRUE(Init("warn"));
  EXPECT_EQ(spdlog::default_logger()->name(), "weir");
  EXPECT_FALSE(Init("loud"));
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
}

}  // namespace
}  // namespace weir::log
