// `weir produce --type`, `weir spool status|drain` and `weir serve`: the
// Publisher, its spool and its HTTP server on the command line.
#include "cli/publish_commands.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>

#include "cli/commands.h"
#include "common/wall_clock.h"
#include "weir/http/server.h"
#include "weir/observe/metrics.h"
#include "weir/publish/publisher.h"
#include "weir/registry/registry.h"

namespace weir::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<publish::Publisher> OpenPublisherOrDie(const Topology& topo,
                                                       const kafka::ClientConfig& config,
                                                       const std::string& spool_dir,
                                                       bool force_spool = false,
                                                       observe::Registry* metrics = nullptr) {
  publish::PublisherOptions options;
  options.metrics = metrics;
  if (!spool_dir.empty()) options.spool_dir = spool_dir;
  // `weir spool drain` forwards a spool even when weir.yaml now turns it off.
  if (force_spool) options.spool = true;
  auto pub = publish::Publisher::Create(topo, config, options);
  if (!pub.ok()) throw CliError{ExitCodeFor(pub.status()), pub.status().ToString()};
  return std::move(*pub);
}

std::string SpoolDirOf(const Topology& topo, const std::string& given) {
  if (!given.empty()) return given;
  return (std::filesystem::path(topo.folder) / topo.publisher.spool_dir).string();
}

std::string FormatAge(int64_t created_ms) {
  if (created_ms < 0) return "-";
  const int64_t now = WallClockMs();
  const int64_t s = std::max<int64_t>(0, (now - created_ms) / 1000);
  if (s < 120) return fmt::format("{} s", s);
  if (s < 7200) return fmt::format("{} min", s / 60);
  return fmt::format("{} h", s / 3600);
}

// --- weir spool ---------------------------------------------------------

struct SpoolOptions {
  std::string dir;
  size_t dead = 0;
  std::string timeout = "5m";
};

void RunSpoolStatus(const GlobalOptions& g, const SpoolOptions& o) {
  Topology topo = LoadTopologyOrDie(g);
  const std::string dir = SpoolDirOf(topo, o.dir);
  auto st = publish::Spool::ReadStatus(dir);
  if (!st.ok()) {
    if (st.status().code() == StatusCode::kNotFound) {
      std::cout << fmt::format("spool {}: empty (no spool has been written)\n", dir);
      return;
    }
    throw CliError{kExitFailed, st.status().ToString()};
  }
  std::cout << fmt::format("spool {}: {} record(s), {} bytes, oldest {}; {} dead\n", dir,
                           st->records, st->bytes, FormatAge(st->oldest_created_ms), st->dead);
  std::cout << (st->owner_pid > 0
                    ? fmt::format("owned by process {} (it forwards the spool itself)\n",
                                  st->owner_pid)
                    : std::string("no process owns it: `weir spool drain` forwards it\n"));
  for (const auto& [topic, t] : st->topics) {
    std::cout << fmt::format("  {}: {} record(s), {} bytes\n", topic, t.records, t.bytes);
  }
  if (o.dead > 0 && st->dead > 0) {
    auto dead = publish::Spool::ReadDead(dir, o.dead);
    if (!dead.ok()) throw CliError{kExitFailed, dead.status().ToString()};
    std::cout << "dead records (refused by the cluster when forwarded):\n";
    for (const publish::DeadRecord& d : *dead) {
      std::cout << fmt::format("  #{} {} to {} (key {}): {}\n", d.record.seq, d.record.event_type,
                               d.record.topic, d.record.key.value_or("null"), d.reason);
    }
  }
}

void RunSpoolDrain(const GlobalOptions& g, const SpoolOptions& o) {
  Topology topo = LoadTopologyOrDie(g);
  auto timeout = ParseDurationMs(o.timeout);
  if (!timeout || *timeout <= 0) {
    throw CliError{
        kExitBadInput,
        fmt::format("--timeout {}: expected a positive duration such as 30s or 5m", o.timeout)};
  }
  const std::string dir = SpoolDirOf(topo, o.dir);
  auto before = publish::Spool::ReadStatus(dir);
  if (!before.ok() && before.status().code() == StatusCode::kNotFound) {
    std::cout << fmt::format("spool {}: empty; nothing to forward\n", dir);
    return;
  }
  if (before.ok() && before->owner_pid > 0) {
    throw CliError{kExitFailed, fmt::format("spool {} is owned by process {}, which forwards it "
                                            "itself",
                                            dir, before->owner_pid)};
  }
  // The embedded broker may be a fresh one (the records were spooled while
  // another cluster was unreachable): like produce and serve, create the
  // declared topics, or the records could never be forwarded.
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  std::unique_ptr<publish::Publisher> pub =
      OpenPublisherOrDie(topo, conn.config, o.dir, /*force_spool=*/true);
  const int64_t waiting = pub->Stats().spool_records;
  Status st = pub->Flush(std::chrono::milliseconds(*timeout), /*drain_spool=*/true);
  publish::PublisherStats s = pub->Stats();
  Status closed = pub->Close();
  std::cout << fmt::format("spool {}: forwarded {} of {} record(s); {} left\n", dir, s.forwarded,
                           waiting, s.spool_records);
  if (!st.ok()) throw CliError{kExitFailed, st.ToString()};
  if (!closed.ok()) throw CliError{kExitFailed, closed.ToString()};
}

// --- weir serve ---------------------------------------------------------

struct ServeOptions {
  std::string listen;
  bool no_ingest = false;
  bool no_registry = false;
  std::string spool_dir;
};

void RunServe(const GlobalOptions& g, const ServeOptions& o) {
  Topology topo = LoadTopologyOrDie(g);
  const sigset_t stop_signals = BlockStopSignals();

  std::unique_ptr<registry::Registry> reg;
  if (!o.no_registry) {
    auto r = registry::OpenRegistry(topo.registry, topo.folder);
    if (!r.ok()) throw CliError{ExitCodeFor(r.status()), r.status().ToString()};
    reg = std::move(*r);
  }
  // Declared before the publisher, so that it outlives it.
  observe::Registry metrics(topo.metrics.prefix);
  std::optional<ops::ClusterConnection> conn;
  std::unique_ptr<publish::Publisher> pub;
  if (!o.no_ingest) {
    conn.emplace(ConnectOrDie(g, topo, /*create_declared_topics=*/true));
    pub = OpenPublisherOrDie(topo, conn->config, o.spool_dir, /*force_spool=*/false, &metrics);
  }
  http::ServerOptions so;
  so.listen = o.listen.empty() ? topo.serve.listen : o.listen;
  so.max_body_bytes = topo.serve.max_body_bytes;
  so.bearer_token = topo.serve.token.value;
  auto server = http::Server::Start(so, pub.get(), reg.get(), &metrics);
  if (!server.ok()) throw CliError{ExitCodeFor(server.status()), server.status().ToString()};
  std::cout << fmt::format("http://{}\n", (*server)->address()) << std::flush;
  std::cerr << fmt::format(
      "weir serve: listening on http://{}{}{}; metrics: /metrics{}\n", (*server)->address(),
      pub ? "; ingest: POST /v1/events/{type}" : "",
      reg ? fmt::format("; schema registry ({}): /subjects", reg->Describe()) : std::string(),
      so.bearer_token.empty() ? "" : "; bearer token required");
  std::cerr << fmt::format("weir serve: {} received; stopping\n", WaitForStopSignal(stop_signals));
  (*server)->Stop();
  if (pub) {
    Status st = pub->Close();
    publish::PublisherStats s = pub->Stats();
    std::cerr << fmt::format(
        "weir serve: {} event(s) accepted: {} delivered, {} spooled, {} duplicates; {} refused, "
        "{} failed\n",
        s.accepted, s.delivered, s.spooled, s.duplicates, s.refused, s.failed);
    if (!st.ok()) throw CliError{kExitFailed, st.ToString()};
  }
}

}  // namespace

// --- weir produce --type ---------------------------------------------------

void RunProduceEvents(const GlobalOptions& g, const ProduceEventsOptions& o) {
  Topology topo = LoadTopologyOrDie(g);
  if (topo.FindEventType(o.type) == nullptr) {
    std::string known;
    for (const EventTypeSpec& e : topo.event_types) known += (known.empty() ? "" : ", ") + e.name;
    throw CliError{kExitBadInput, fmt::format("--type {}: not an event type of {} (declared: {})",
                                              o.type, topo.path, known.empty() ? "none" : known)};
  }
  const int fd = OpenInputOrDie(o.file);
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  std::unique_ptr<publish::Publisher> pub = OpenPublisherOrDie(topo, conn.config, o.spool_dir);

  std::mutex mu;
  std::condition_variable cv;
  int64_t in_flight = 0;
  std::map<uint64_t, Status> problems;  // line → why (refused or failed)
  std::map<publish::PublishOutcome, uint64_t> counts;
  const auto start = Clock::now();
  uint64_t line_no = 0;
  uint64_t events = 0;
  std::string buf;
  std::string pending;
  char chunk[1 << 16];
  auto publish_line = [&](std::string_view line, uint64_t no) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
    ++events;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < o.window; });
      ++in_flight;
    }
    pub->PublishAsync(o.type, line, [&, no](publish::PublishResult r) {
      std::lock_guard<std::mutex> lock(mu);
      ++counts[r.outcome];
      if (!r.accepted() && problems.size() < 100000) problems.emplace(no, r.status);
      if (o.outcomes) {
        std::string detail;
        for (const publish::TopicDelivery& d : r.deliveries) {
          detail += d.spooled
                        ? fmt::format(" {}:spooled", d.topic)
                        : fmt::format(" {}:{}:{}", d.topic, d.partition.value(), d.offset.value());
        }
        if (!r.accepted()) {
          // One line per event: a refusal's field errors follow "; ".
          std::string text = r.status.ToString();
          for (size_t nl; (nl = text.find('\n')) != std::string::npos;) {
            const size_t next = std::min(text.find_first_not_of(' ', nl + 1), text.size());
            text.replace(nl, next - nl, "; ");
          }
          detail = " " + text;
        }
        std::cout << fmt::format("{}\t{}{}\n", no, publish::PublishOutcomeName(r.outcome), detail)
                  << std::flush;
      }
      --in_flight;
      cv.notify_all();
    });
  };
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw CliError{kExitFailed, fmt::format("reading {}: {}", o.file == "-" ? "stdin" : o.file,
                                              std::strerror(errno))};
    }
    if (n == 0) break;
    pending.append(chunk, static_cast<size_t>(n));
    size_t begin = 0;
    for (size_t nl; (nl = pending.find('\n', begin)) != std::string::npos; begin = nl + 1) {
      publish_line(std::string_view(pending).substr(begin, nl - begin), ++line_no);
    }
    pending.erase(0, begin);
  }
  if (!pending.empty()) publish_line(pending, ++line_no);
  if (fd != 0) close(fd);
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  Status closed = pub->Close();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  using O = publish::PublishOutcome;
  std::cerr << fmt::format(
      "weir produce: {} event(s) of type {}: {} delivered, {} spooled, {} duplicate(s), {} "
      "refused, {} failed ({:.2f} s, {:.0f} events/s)\n",
      events, o.type, counts[O::kDelivered], counts[O::kSpooled], counts[O::kDuplicate],
      counts[O::kRefused], counts[O::kFailed], secs,
      secs > 0 ? static_cast<double>(events) / secs : 0.0);
  if (counts[O::kSpooled] > 0) {
    std::cerr << fmt::format(
        "weir produce: spooled events wait in {}; the next weir process publishing with this "
        "weir.yaml forwards them, or run `weir spool drain`\n",
        SpoolDirOf(topo, o.spool_dir));
  }
  int shown = 0;
  for (const auto& [no, st] : problems) {
    if (shown++ >= o.show_failures) {
      std::cerr << fmt::format("  ... and {} more\n", problems.size() - o.show_failures);
      break;
    }
    std::cerr << fmt::format("  line {}: {}\n", no, st.ToString());
  }
  if (!closed.ok()) throw CliError{kExitFailed, closed.ToString()};
  const uint64_t bad = counts[O::kRefused] + counts[O::kFailed];
  if (bad > 0) {
    throw CliError{kExitFailed, fmt::format("{} of {} event(s) were not published", bad, events)};
  }
}

void RegisterSpoolCommands(CLI::App& app, const GlobalOptions& g) {
  CLI::App* spool = app.add_subcommand(
      "spool",
      "Inspect or forward the Publisher's local spool (events kept on disk while the cluster "
      "was unreachable)");
  spool->require_subcommand(1);
  auto o = std::make_shared<SpoolOptions>();
  CLI::App* status = spool->add_subcommand(
      "status", "Records waiting in the spool, per topic, the oldest's age, dead records");
  status->add_option("--dir", o->dir,
                     "The spool folder (default: publisher.spool.dir of weir.yaml)");
  status->add_option("--dead", o->dead, "Also list up to N dead records with their reasons")
      ->check(CLI::NonNegativeNumber);
  status->callback([&g, o] { RunSpoolStatus(g, *o); });
  CLI::App* drain = spool->add_subcommand(
      "drain",
      "Forward the spool to the cluster, oldest first, and wait until it is empty. Exit 1 if "
      "records are left after --timeout, or another process owns the spool.");
  drain->add_option("--dir", o->dir,
                    "The spool folder (default: publisher.spool.dir of weir.yaml)");
  drain->add_option("--timeout", o->timeout, "How long to wait for the spool to empty")
      ->capture_default_str();
  drain->callback([&g, o] { RunSpoolDrain(g, *o); });
}

void RegisterServeCommand(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve HTTP event ingest (POST /v1/events/{type}), the Confluent-compatible schema "
      "registry API, Prometheus metrics (GET /metrics, names prefixed with metrics.prefix) and "
      "/healthz until SIGINT or SIGTERM. Prints http://HOST:PORT on stdout once listening. "
      "Settings: the serve: and metrics: sections of weir.yaml (docs/publisher.md, "
      "docs/metrics.md).");
  cmd->add_option("--listen", o->listen,
                  "host:port to listen on (default serve.listen, 127.0.0.1:8080; port 0 picks a "
                  "free one)");
  cmd->add_flag("--no-ingest", o->no_ingest, "Serve no ingest route (no cluster connection)");
  cmd->add_flag("--no-registry", o->no_registry, "Serve no registry routes");
  cmd->add_option("--spool-dir", o->spool_dir,
                  "The Publisher's spool folder (default publisher.spool.dir)");
  cmd->callback([&g, o] { RunServe(g, *o); });
}

}  // namespace weir::cli
