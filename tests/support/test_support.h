// tests/support/test_support.h — helpers shared by weir's tests.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace weir::testing {

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes |content| to path()/name and returns the full path.
  std::string WriteFile(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs |argv| (argv[0] is a path or a name looked up in PATH) with |input| on
// stdin, capturing stdout and stderr. Kills it after |timeout|.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(120),
                         const std::map<std::string, std::string>& extra_env = {});

// Path of the built `weir` binary.
std::string WeirBinary();
// Path of a file in the source tree ("examples/alpr/weir.yaml").
std::string SourcePath(const std::string& relative);

// The whole content of the file at |path|; empty when it cannot be read.
std::string ReadFile(const std::string& path);
// True when |program| is found in PATH.
bool HaveProgram(const std::string& program);

}  // namespace weir::testing
