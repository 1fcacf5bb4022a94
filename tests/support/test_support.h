// tests/support/test_support.h — helpers shared by weir's tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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

// A child process whose stdout the test reads line by line, for crash tests
// that stop a program at a point chosen from its output. stdin and stderr are
// inherited. The destructor kills (SIGKILL) and reaps a child still running.
// Used from one thread.
class ChildProcess {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // Starts |argv| (argv[0] is a path, not looked up in PATH). Fails the
  // current test and returns null when the process cannot be started.
  static std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  enum class ReadResult { kLines, kTimeout, kEof };
  // Waits until at least one complete line has arrived, stdout is closed or
  // |deadline| passes, and appends the complete lines read (without their
  // newline) to |lines|. A last line without a newline is returned at EOF.
  ReadResult ReadLines(std::vector<std::string>* lines, TimePoint deadline);
  // Sends |signal| to the child (unless it was already reaped).
  void Signal(int signal);
  // Closes stdout (further output gets EPIPE or SIGPIPE) and waits for the
  // child to exit; returns its waitpid() status. Idempotent.
  int Wait();

 private:
  ChildProcess(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}
  pid_t pid_;
  int out_fd_;
  std::string partial_;  // the start of a line whose newline has not arrived
  bool reaped_ = false;
  int wait_status_ = 0;
};

struct KillRun {
  std::vector<std::string> lines;  // every complete line read, in order
  bool killed = false;             // SIGKILLed because |kill_after| said so
  bool timed_out = false;          // SIGKILLed because the timeout passed
  int wait_status = 0;             // from waitpid()
};

// Runs |argv| with its stdout on a pipe and passes each line to
// |kill_after|; sends SIGKILL as soon as it returns true (lines already read
// with it are kept, not passed on), or once |timeout| has passed. Otherwise
// lets the program finish. Returns when the program has been reaped.
KillRun RunAndKill(const std::vector<std::string>& argv,
                   const std::function<bool(const std::string& line)>& kill_after,
                   std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Starts `/bin/sh -c |command|` as a ChildProcess that also dies with the
// test process (setpriv --pdeathsig KILL, when available), for servers a
// test runs (Prometheus, ZooKeeper, Burrow): a test killed by its timeout
// leaves none behind. Null (and a test failure) when it cannot start.
std::unique_ptr<ChildProcess> StartServer(const std::string& command);

// A loopback port that was free a moment ago (bound to port 0, then
// released), for servers that cannot report the port they picked; 0 when
// none could be had.
uint16_t FreeLoopbackPort();

// For a weir command that prints "... http://127.0.0.1:PORT/metrics" on its
// first stdout line when it serves: waits up to 60 s for that line and
// returns PORT; fails the current test and returns 0 otherwise.
int ReadMetricsPort(ChildProcess& child);

// Path of the built `weir` binary.
std::string WeirBinary();
// Path of a file in the source tree ("examples/alpr/weir.yaml").
std::string SourcePath(const std::string& relative);

// The whole content of the file at |path|; empty when it cannot be read.
std::string ReadFile(const std::string& path);
// True when |program| is found in PATH.
bool HaveProgram(const std::string& program);

}  // namespace weir::testing
