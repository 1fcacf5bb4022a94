// `weir produce --type`, `weir spool status|drain` and `weir serve` end to
// end: the built binary on a copy of the ALPR example (weir.yaml, schemas,
// samples) in a temporary folder, with the embedded broker's data there too
// (WEIR_EMBEDDED_DATA_DIR), so nothing is written into examples/.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace weir {
namespace {

using nlohmann::json;
using testing::CommandResult;
using testing::RunCommand;
using testing::WeirBinary;
using Clock = std::chrono::steady_clock;

int CountOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// `weir serve` as a child process: its first stdout line (the URL) is read
// with a deadline; stderr goes to a file read once it has exited.
class ServeProcess {
 public:
  ServeProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
               std::string stderr_path)
      : stderr_path_(std::move(stderr_path)) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      const int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (err >= 0) ::dup2(err, STDERR_FILENO);
      const int null = ::open("/dev/null", O_RDONLY);
      if (null >= 0) ::dup2(null, STDIN_FILENO);
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> argv;
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // The first line on stdout, without its "\n"; empty when the process
  // printed none before |timeout| or exited.
  std::string FirstLine(std::chrono::milliseconds timeout) {
    std::string line;
    const auto deadline = Clock::now() + timeout;
    while (out_ >= 0 && Clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) <= 0) continue;
      char c = 0;
      if (::read(out_, &c, 1) != 1) break;
      if (c == '\n') return line;
      line += c;
    }
    return {};
  }

  // Sends |sig| and waits up to |timeout| for the exit; the exit code, or
  // -1 when it was killed by a signal or did not exit in time.
  int StopWith(int sig, std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    const auto deadline = Clock::now() + timeout;
    int status = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (r < 0 || Clock::now() >= deadline) return -1;  // the destructor kills it
      ::poll(nullptr, 0, 20);  // waitpid has no timeout; poll again shortly
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string Stderr() const { return testing::ReadFile(stderr_path_); }

 private:
  std::string stderr_path_;
  pid_t pid_ = -1;
  int out_ = -1;
};

class PublishCli : public ::testing::Test {
 protected:
  void SetUp() override {
    namespace fs = std::filesystem;
    const fs::path example = testing::SourcePath("examples/alpr");
    fs::copy(example / "schemas", fs::path(dir_.path()) / "schemas", fs::copy_options::recursive);
    yaml_ = testing::ReadFile((example / "weir.yaml").string());
    ASSERT_FALSE(yaml_.empty());
    // PlateEvent dual-published to the legacy topic, as during the migration.
    const size_t type = yaml_.find("\n  PlateEvent:");
    ASSERT_NE(type, std::string::npos);
    const std::string route = "    topic: alpr.events.plates\n";
    const size_t at = yaml_.find(route, type);
    ASSERT_NE(at, std::string::npos);
    yaml_.insert(at + route.size(), "    mirror_topic: alpr.plates.detected\n");
    config_ = dir_.WriteFile("weir.yaml", yaml_);
    sample_ = json::parse(testing::ReadFile(dir_.path() + "/schemas/samples/PlateEvent.json"));
  }

  // Runs `weir -c weir.yaml ARGS...` with the embedded broker in this test's
  // folder.
  CommandResult Weir(std::vector<std::string> args, const std::string& input = {}) {
    args.insert(args.begin(), {WeirBinary(), "-c", config_});
    return RunCommand(args, input, std::chrono::seconds(120), Env());
  }
  std::map<std::string, std::string> Env() const {
    return {{"WEIR_EMBEDDED_DATA_DIR", dir_.path() + "/data"}};
  }

  // Sample plate events with distinct ids, one per line.
  std::string Plates(int n, int first = 1) const {
    std::string out;
    for (int i = first; i < first + n; ++i) {
      json e = sample_;
      e["event_id"] = fmt::format("ev-{}", i);
      e["frame_number"] = i;
      out += e.dump() + "\n";
    }
    return out;
  }

  testing::TempDir dir_;
  std::string yaml_;
  std::string config_;
  json sample_;
};

TEST_F(PublishCli, ProduceTypePrintsEachOutcome) {
  const std::string file = dir_.path() + "/schemas/samples/PlateEvent.json";
  CommandResult r = Weir({"produce", "--type", "PlateEvent", "--outcomes", "--file", file});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("1\tdelivered alpr.events.plates:", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(" alpr.plates.detected:"), std::string::npos) << r.out;  // the mirror
  EXPECT_EQ(CountOf(r.out, "\n"), 1) << r.out;
  EXPECT_NE(r.err.find("1 event(s) of type PlateEvent: 1 delivered, 0 spooled"), std::string::npos)
      << r.err;
  // The schema went to the registry beside the copied weir.yaml.
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/.weir/registry")) << r.err;

  // The record is on the topic, keyed by camera_id.
  CommandResult c =
      Weir({"consume", "-t", "alpr.events.plates", "-o", "beginning", "-e", "--format", "json"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(CountOf(c.out, "\n"), 1) << c.out;
  EXPECT_NE(c.out.find(R"("key":"cam-01")"), std::string::npos) << c.out;
}

TEST_F(PublishCli, ARefusedLineExitsOneNamingTheLineAndTheField) {
  json bad = sample_;
  bad["event_id"] = "ev-bad";
  bad["frame_number"] = "not a number";
  const std::string input = Plates(1) + "\n" + bad.dump() + "\n" + Plates(1, 2);
  CommandResult r = Weir({"produce", "--type", "PlateEvent", "--outcomes"}, input);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // Line 2 is blank; the bad event is line 3.
  EXPECT_NE(r.out.find("1\tdelivered"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3\trefused"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4\tdelivered"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("2\t"), std::string::npos) << r.out;
  // One line per event, even for a refusal with several field errors.
  EXPECT_EQ(CountOf(r.out, "\n"), 3) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("(^|\n)3\trefused [^\n]*/frame_number")))
      << r.out;
  const size_t line = r.err.find("line 3: ");
  ASSERT_NE(line, std::string::npos) << r.err;
  EXPECT_NE(r.err.find("frame_number", line), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 of 3 event(s) were not published"), std::string::npos) << r.err;
}

TEST_F(PublishCli, TypeWithTopicOptionsOrAnUnknownTypeExitsTwo) {
  CommandResult r = Weir({"produce", "--type", "PlateEvent", "--format", "json"}, Plates(1));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--format does not apply to --type"), std::string::npos) << r.err;

  r = Weir({"produce", "--type", "PlateEvent", "--key", "k"}, Plates(1));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--key"), std::string::npos) << r.err;

  r = Weir({"produce", "--type", "PlateEvent", "--topic", "alpr.events.plates"}, Plates(1));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;

  r = Weir({"produce", "--type", "Plate"}, Plates(1));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--type Plate: not an event type"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("declared: PlateEvent, VehicleEvent, MetricEvent, CameraCount"),
            std::string::npos)
      << r.err;
  // Nothing was started for them: no broker data, no spool.
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/data")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/.weir/spool")) << r.err;
}

TEST_F(PublishCli, SpoolStatusAndDrainOfAnEmptySpool) {
  CommandResult r = Weir({"spool", "status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(".weir/spool: empty"), std::string::npos) << r.out;
  r = Weir({"spool", "drain"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("empty; nothing to forward"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/data")) << "drain connected for nothing";
}

TEST_F(PublishCli, EventsSpooledWhileTheClusterIsDownAreDrainedLater) {
  // The example's publisher section, with a short delivery timeout.
  const std::string section = "\npublisher:\n";
  const size_t at = yaml_.find(section);
  ASSERT_NE(at, std::string::npos);
  yaml_.insert(at + section.size(), "  delivery_timeout: 200ms\n");
  config_ = dir_.WriteFile("weir.yaml", yaml_);
  if (HasFatalFailure()) return;
  // An unreachable cluster: every event is spooled, and that is a success.
  CommandResult r = RunCommand({WeirBinary(), "-b", "127.0.0.1:1", "-c", config_, "produce",
                                "--type", "PlateEvent", "--outcomes"},
                               Plates(3), std::chrono::seconds(120), Env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (int line = 1; line <= 3; ++line) {
    EXPECT_NE(r.out.find(fmt::format(
                  "{}\tspooled alpr.events.plates:spooled alpr.plates.detected:spooled", line)),
              std::string::npos)
        << r.out;
  }
  EXPECT_NE(r.err.find("3 event(s) of type PlateEvent: 0 delivered, 3 spooled"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("weir spool drain"), std::string::npos) << r.err;

  // Two copies of each event (the topic and its mirror) wait in the spool.
  r = Weir({"spool", "status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(": 6 record(s), "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("; 0 dead"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no process owns it"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  alpr.events.plates: 3 record(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  alpr.plates.detected: 3 record(s)"), std::string::npos) << r.out;

  // Drained to the embedded broker (a fresh one: its topics do not exist yet).
  r = Weir({"spool", "drain", "--timeout", "90s"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("forwarded 6 of 6 record(s); 0 left"), std::string::npos) << r.out;

  r = Weir({"spool", "status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(": 0 record(s), 0 bytes, oldest -; 0 dead"), std::string::npos) << r.out;

  // Every event is on its topic and on the mirror, in the order produced.
  for (const char* topic : {"alpr.events.plates", "alpr.plates.detected"}) {
    SCOPED_TRACE(topic);
    CommandResult c = Weir({"consume", "-t", topic, "-o", "beginning", "-e", "--format", "json"});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    EXPECT_EQ(CountOf(c.out, "\n"), 3) << c.out;
    EXPECT_EQ(CountOf(c.out, R"({"key":"weir-event-type","value":"PlateEvent")"), 3) << c.out;
    // One camera, so one partition: ev-1, ev-2, ev-3 in offset order.
    EXPECT_LT(c.out.find("ev-1"), c.out.find("ev-2")) << c.out;
    EXPECT_LT(c.out.find("ev-2"), c.out.find("ev-3")) << c.out;
    EXPECT_NE(c.out.find("ev-3"), std::string::npos) << c.out;
  }
}

TEST_F(PublishCli, ServeAcceptsAnEventAndStopsOnSigterm) {
  ServeProcess serve({WeirBinary(), "-c", config_, "serve", "--listen", "127.0.0.1:0"}, Env(),
                     dir_.path() + "/serve.err");
  const std::string url = serve.FirstLine(std::chrono::seconds(60));
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url << serve.Stderr();
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  ASSERT_GT(port, 0);

  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  auto res = client.Post("/v1/events/PlateEvent", sample_.dump(), "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(json::parse(res->body)["delivered"], 1) << res->body;
  res = client.Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  res = client.Get("/subjects");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_NE(res->body.find("alpr.events.plates-value"), std::string::npos) << res->body;

  EXPECT_EQ(serve.StopWith(SIGTERM, std::chrono::seconds(60)), 0) << serve.Stderr();
  const std::string err = serve.Stderr();
  EXPECT_NE(err.find("weir serve: listening on " + url), std::string::npos) << err;
  EXPECT_NE(err.find("SIGTERM received; stopping"), std::string::npos) << err;
  EXPECT_NE(err.find("1 event(s) accepted: 1 delivered, 0 spooled"), std::string::npos) << err;
}

TEST_F(PublishCli, ServeRefusesABadListenAddress) {
  CommandResult r = Weir({"serve", "--no-ingest", "--listen", "nonsense"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("invalid listen address \"nonsense\""), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(PublishCli, HelpOfServeAndSpoolExitsZero) {
  for (const auto& [args, expected] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"serve", "--help"}, "--listen"},
           {{"spool", "--help"}, "drain"},
           {{"spool", "status", "--help"}, "--dead"},
           {{"spool", "drain", "--help"}, "--timeout"},
       }) {
    std::vector<std::string> argv = {WeirBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(expected), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace weir
