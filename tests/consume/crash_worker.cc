// weir-consume-crash-worker: the consumer program that ConsumeCrashTest
// kills. It runs one consumer group of a weir.yaml with a handler whose
// effect is a row in a SQLite table, and tells the test about every effect
// on stdout once it is committed.
//
//   crash_worker BOOTSTRAP WEIR_YAML GROUP EFFECTS_DB plain|dedup
//
// The handler inserts (id, topic, partition, offset) into table `effects` of
// EFFECTS_DB. In `dedup` mode the same transaction also records the event's
// dedup key with RecordHandledKey(), and the runtime's persistent dedup store
// is that same file (the group must have `dedup: {persistent: true}`), so
// that an effect and its key are on disk together or not at all. After the
// COMMIT it prints "ID<TAB>TOPIC<TAB>PARTITION<TAB>OFFSET" and flushes.
//
// SIGTERM or SIGINT stops the runtime cleanly (Stop() with a deadline); it
// then prints "# stats received=N handled=N duplicates=N commits=N" and
// exits 0. A runtime that stops by itself with an error exits 1; bad
// arguments or a failed start exit 2.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "weir/consume/dedup.h"
#include "weir/consume/runtime.h"
#include "weir/topology.h"

namespace {

using namespace weir;

// The dedup TTL given to RecordHandledKey; the group's `ttl:` in the test's
// weir.yaml is the same.
constexpr std::chrono::milliseconds kDedupTtl = std::chrono::hours(1);

// One SQLite connection per handler thread: transactions of one connection
// cannot interleave, and the runtime runs handlers on several threads.
class EffectsDb {
 public:
  explicit EffectsDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      error_ = db_ != nullptr ? sqlite3_errmsg(db_) : "cannot open";
      return;
    }
    sqlite3_busy_timeout(db_, 10000);
    // synchronous=FULL, as a durable effect would be: an fsync per
    // transaction also makes the handler slow enough (~0.4 ms) that the
    // runtime commits offsets between the test's kills.
    for (const char* sql :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
          "CREATE TABLE IF NOT EXISTS effects (id TEXT NOT NULL, topic TEXT NOT NULL, "
          "partition INTEGER NOT NULL, offset INTEGER NOT NULL)"}) {
      if (!Exec(sql)) return;
    }
    if (sqlite3_prepare_v2(db_,
                           "INSERT INTO effects (id, topic, partition, offset) "
                           "VALUES (?, ?, ?, ?)",
                           -1, &insert_, nullptr) != SQLITE_OK) {
      error_ = sqlite3_errmsg(db_);
    }
  }
  ~EffectsDb() {
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }
  EffectsDb(const EffectsDb&) = delete;
  EffectsDb& operator=(const EffectsDb&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // Inserts the effect of |m| — with its dedup key when |dedup| — in one
  // transaction. Returns false (and error()) when it was not committed.
  bool Apply(const consume::Message& m, std::string_view id, bool dedup) {
    error_.clear();
    if (!Exec("BEGIN IMMEDIATE")) return false;
    const Record& r = m.record();
    sqlite3_reset(insert_);
    sqlite3_bind_text(insert_, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(insert_, 2, r.topic().data(), static_cast<int>(r.topic().size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(insert_, 3, r.partition().value());
    sqlite3_bind_int64(insert_, 4, r.offset().value());
    bool ok = sqlite3_step(insert_) == SQLITE_DONE;
    if (!ok) error_ = sqlite3_errmsg(db_);
    if (ok && dedup) {
      Status s = consume::RecordHandledKey(db_, m.dedup_key(), kDedupTtl);
      ok = s.ok();
      if (!ok) error_ = s.ToString();
    }
    if (ok && Exec("COMMIT")) return true;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return false;
  }

 private:
  bool Exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK) return true;
    error_ = std::string(sql) + ": " + sqlite3_errmsg(db_);
    return false;
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::string error_;
};

// The event's "id" field, read from the decoded JSON without a parser: the
// test's Order events are flat objects written by nlohmann::json.
std::string_view EventId(std::string_view json) {
  constexpr std::string_view kField = "\"id\":\"";
  const size_t start = json.find(kField);
  if (start == std::string_view::npos) return {};
  const size_t from = start + kField.size();
  const size_t end = json.find('"', from);
  return end == std::string_view::npos ? std::string_view() : json.substr(from, end - from);
}

int Usage() {
  std::fprintf(stderr, "usage: crash_worker BOOTSTRAP WEIR_YAML GROUP EFFECTS_DB plain|dedup\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) return Usage();
  const std::string bootstrap = argv[1], yaml = argv[2], group = argv[3], db_path = argv[4],
                    mode = argv[5];
  if (mode != "plain" && mode != "dedup") return Usage();
  const bool dedup = mode == "dedup";
  spdlog::set_level(spdlog::level::warn);

  // SIGINT and SIGTERM are taken by sigwait() below, SIGUSR1 tells it the
  // runtime stopped by itself. Blocked before any thread starts, so that
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto topology = LoadTopology(yaml);
  if (!topology.ok()) {
    std::fprintf(stderr, "crash_worker: %s\n", topology.status().ToString().c_str());
    return 2;
  }
  {
    // Creates the table (and the WAL file) before any handler runs.
    EffectsDb probe(db_path);
    if (!probe.ok()) {
      std::fprintf(stderr, "crash_worker: %s: %s\n", db_path.c_str(), probe.error().c_str());
      return 2;
    }
  }
  // Consumer settings (a short session timeout, so that the next round's
  // worker gets the partitions of a killed one quickly) come from the
  // group's `properties:` in weir.yaml.
  kafka::ClientConfig config;
  config.Set("bootstrap.servers", bootstrap);
  config.Set("reconnect.backoff.ms", "20");
  config.Set("reconnect.backoff.max.ms", "200");
  consume::RuntimeOptions options;
  options.commit_interval = std::chrono::milliseconds(100);
  if (dedup) options.dedup_path = db_path;
  auto runtime = consume::GroupRuntime::Create(*topology, group, config, options);
  if (!runtime.ok()) {
    std::fprintf(stderr, "crash_worker: %s\n", runtime.status().ToString().c_str());
    return 2;
  }
  consume::GroupRuntime& rt = **runtime;

  std::mutex out_mu;
  auto handler = [&](const consume::Message& m) -> consume::HandlerResult {
    thread_local std::unique_ptr<EffectsDb> db;
    if (!db || !db->ok()) db = std::make_unique<EffectsDb>(db_path);
    if (!db->ok()) return consume::HandlerResult::Retry("effects db: " + db->error());
    const std::string_view id = EventId(m.json());
    if (id.empty()) return consume::HandlerResult::Reject("event without an id");
    if (!db->Apply(m, id, dedup)) {
      return consume::HandlerResult::Retry("effects db: " + db->error());
    }
    const Record& r = m.record();
    std::lock_guard<std::mutex> lock(out_mu);
    std::printf("%.*s\t%.*s\t%d\t%lld\n", static_cast<int>(id.size()), id.data(),
                static_cast<int>(r.topic().size()), r.topic().data(), r.partition().value(),
                static_cast<long long>(r.offset().value()));
    std::fflush(stdout);
    return consume::HandlerResult::Ok();
  };
  for (const std::string& topic : rt.spec().topics) {
    if (Status s = rt.OnTopic(topic, handler); !s.ok()) {
      std::fprintf(stderr, "crash_worker: %s\n", s.ToString().c_str());
      return 2;
    }
  }
  if (Status s = rt.Start(); !s.ok()) {
    std::fprintf(stderr, "crash_worker: %s\n", s.ToString().c_str());
    return 2;
  }
  // Wakes the main thread when the runtime stops on its own (a fatal error).
  std::thread watcher([&rt] {
    while (!rt.WaitStopped(std::chrono::hours(1))) {
    }
    kill(getpid(), SIGUSR1);
  });
  int sig = 0;
  sigwait(&signals, &sig);
  const Status stopped = rt.Stop(std::chrono::seconds(30));
  watcher.join();
  const consume::GroupStats st = rt.Stats();
  {
    std::lock_guard<std::mutex> lock(out_mu);
    std::printf("# stats received=%llu handled=%llu duplicates=%llu commits=%llu\n",
                static_cast<unsigned long long>(st.received),
                static_cast<unsigned long long>(st.handled),
                static_cast<unsigned long long>(st.duplicates),
                static_cast<unsigned long long>(st.commits));
    std::fflush(stdout);
  }
  if (sig == SIGUSR1 || !stopped.ok()) {
    std::fprintf(stderr, "crash_worker: the group stopped: %s\n", stopped.ToString().c_str());
    return 1;
  }
  return 0;
}
