// tests/broker/broker_process.h — `weir broker` as a child process that a
// test can kill -9 and restart on the same port and data folder.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace weir::broker::testing {

class BrokerProcess {
 public:
  BrokerProcess(std::string data_dir, std::vector<std::string> extra_args = {})
      : data_dir_(std::move(data_dir)), extra_(std::move(extra_args)) {}
  ~BrokerProcess() { Kill(SIGKILL); }

  // Starts the broker and waits for the address line it prints when ready.
  // Returns false (with |error|) when it did not come up.
  bool Start(std::string* error) {
    int out[2];
    if (::pipe(out) != 0) return Fail(error, "pipe failed");
    std::string listen = "127.0.0.1:" + std::to_string(port_);
    std::vector<std::string> args = {weir::testing::WeirBinary(),
                                     "--log-level",
                                     "warn",
                                     "broker",
                                     "--data",
                                     data_dir_,
                                     "--listen",
                                     listen};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    size_t colon = line.rfind(':');
    if (colon == std::string::npos) {
      Kill(SIGKILL);
      return Fail(error, "weir broker printed no address (got \"" + line + "\")");
    }
    port_ = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
    address_ = line;
    return true;
  }
  void Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  const std::string& address() const { return address_; }

 private:
  static bool Fail(std::string* error, std::string message) {
    *error = std::move(message);
    return false;
  }
  std::string data_dir_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string address_;
};

}  // namespace weir::broker::testing
