#include "support/test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace weir::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "weir-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::WriteFile(const std::string& name, const std::string& content) const {
  std::filesystem::path p = std::filesystem::path(path_) / name;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary);
  f << content;
  return p.string();
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input,
                         std::chrono::milliseconds timeout,
                         const std::map<std::string, std::string>& extra_env) {
  CommandResult res;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    res.err = "pipe failed";
    return res;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    for (const auto& [k, v] : extra_env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    fprintf(stderr, "exec %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  signal(SIGPIPE, SIG_IGN);
  size_t written = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  } else {
    fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int out_fd = out_pipe[0], err_fd = err_pipe[0];
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      kill(pid, SIGKILL);
      res.timed_out = true;
      break;
    }
    int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    pollfd fds[3];
    int n = 0;
    int idx_out = -1, idx_err = -1, idx_in = -1;
    if (out_fd >= 0) {
      idx_out = n;
      fds[n++] = {out_fd, POLLIN, 0};
    }
    if (err_fd >= 0) {
      idx_err = n;
      fds[n++] = {err_fd, POLLIN, 0};
    }
    if (in_fd >= 0) {
      idx_in = n;
      fds[n++] = {in_fd, POLLOUT, 0};
    }
    int pr = poll(fds, n, wait_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) break;
    auto drain = [&](int idx, int& fd, std::string& sink) {
      if (idx < 0 || fds[idx].revents == 0) return;
      ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0) {
        sink.append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(fd);
        fd = -1;
      }
    };
    drain(idx_out, out_fd, res.out);
    drain(idx_err, err_fd, res.err);
    if (idx_in >= 0 && fds[idx_in].revents != 0) {
      ssize_t w = write(in_fd, input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) written = input.size();
      if (written >= input.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  if (out_fd >= 0) close(out_fd);
  if (err_fd >= 0) close(err_fd);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
  return res;
}

std::unique_ptr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv) {
  // Everything the child needs is prepared before fork(): the test process
  // has threads (brokers, clients), so the child only calls dup2/execv.
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << strerror(errno);
    return nullptr;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    close(out[0]);
    close(out[1]);
    return nullptr;
  }
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);  // the duplicate does not inherit O_CLOEXEC
    execv(cargs[0], cargs.data());
    _exit(127);
  }
  close(out[1]);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, out[0]));
}

ChildProcess::~ChildProcess() {
  if (!reaped_) Signal(SIGKILL);
  Wait();
}

ChildProcess::ReadResult ChildProcess::ReadLines(std::vector<std::string>* lines,
                                                 TimePoint deadline) {
  if (out_fd_ < 0) return ReadResult::kEof;
  const size_t before = lines->size();
  char buf[8192];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return ReadResult::kTimeout;
    pollfd pfd{out_fd_, POLLIN, 0};
    const int pr = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 60000)));
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) continue;  // the deadline is checked at the top
    const ssize_t n = pr < 0 ? -1 : read(out_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!partial_.empty()) lines->push_back(std::move(partial_));
      partial_.clear();
      close(out_fd_);
      out_fd_ = -1;
      return lines->size() > before ? ReadResult::kLines : ReadResult::kEof;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        lines->push_back(std::move(partial_));
        partial_.clear();
      } else {
        partial_ += buf[i];
      }
    }
    if (lines->size() > before) return ReadResult::kLines;
  }
}

void ChildProcess::Signal(int signal) {
  if (!reaped_) kill(pid_, signal);
}

int ChildProcess::Wait() {
  if (out_fd_ >= 0) {
    close(out_fd_);
    out_fd_ = -1;
  }
  if (reaped_) return wait_status_;
  while (waitpid(pid_, &wait_status_, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  return wait_status_;
}

KillRun RunAndKill(const std::vector<std::string>& argv,
                   const std::function<bool(const std::string& line)>& kill_after,
                   std::chrono::milliseconds timeout) {
  KillRun run;
  std::unique_ptr<ChildProcess> child = ChildProcess::Start(argv);
  if (!child) return run;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::string> lines;
  for (;;) {
    lines.clear();
    const ChildProcess::ReadResult r = child->ReadLines(&lines, deadline);
    for (std::string& line : lines) {
      if (!run.killed && kill_after(line)) {
        child->Signal(SIGKILL);
        run.killed = true;
      }
      run.lines.push_back(std::move(line));
    }
    if (run.killed || r == ChildProcess::ReadResult::kEof) break;
    if (r == ChildProcess::ReadResult::kTimeout) {
      child->Signal(SIGKILL);
      run.timed_out = true;
      break;
    }
  }
  run.wait_status = child->Wait();
  return run;
}

std::string WeirBinary() { return std::string(WEIR_BINARY_DIR) + "/bin/weir"; }

std::string SourcePath(const std::string& relative) {
  return std::string(WEIR_SOURCE_DIR) + "/" + relative;
}

std::unique_ptr<ChildProcess> StartServer(const std::string& command) {
  std::vector<std::string> argv;
  if (access("/usr/bin/setpriv", X_OK) == 0) argv = {"/usr/bin/setpriv", "--pdeathsig", "KILL"};
  argv.insert(argv.end(), {"/bin/sh", "-c", command});
  return ChildProcess::Start(argv);
}

uint16_t FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

int ReadMetricsPort(ChildProcess& child) {
  std::vector<std::string> lines;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  if (child.ReadLines(&lines, deadline) != ChildProcess::ReadResult::kLines) {
    ADD_FAILURE() << "no line on stdout within 60 s";
    return 0;
  }
  static const std::regex url_re(R"(.*http://127\.0\.0\.1:(\d+)/metrics.*)");
  std::smatch m;
  if (!std::regex_match(lines[0], m, url_re)) {
    ADD_FAILURE() << "no metrics URL in: " << lines[0];
    return 0;
  }
  return std::stoi(m[1]);
}

bool HaveProgram(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string p(path);
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::filesystem::path candidate = std::filesystem::path(p.substr(start, end - start)) / program;
    if (access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace weir::testing
