// weir-bench-consume: the consumer runtime (consume::GroupRuntime) against a
// bare librdkafka consume-and-commit loop on the same embedded broker, in the
// same run (bench/consume.sh runs it; results in BENCHMARKS.md).
//
//   throughput  --events pre-produced JSON events (~200 bytes, 3 partitions,
//               1000 keys), read from the beginning to the end by:
//                 bare       rd_kafka_consumer_poll() + rd_kafka_commit() of
//                            the stored offsets every second (async)
//                 partition  GroupRuntime, no-op handler, `ordering:
//                            partition`, concurrency 1
//                 key        GroupRuntime, no-op handler, `ordering: key`,
//                            concurrency 4
//               and, to locate the runtime's limit, partition and key with
//               `max_pending_per_partition` raised to 10,000,000 ("uncapped")
//               or with `commit_interval` 10 ms, and partition uncapped with
//               the events declared with a JSON schema (so each one is
//               validated);
//               each in its own fresh group, timed from its first record to
//               its last; --rounds rounds, alternating.
//   latency     bare, partition and key while a producer writes --live-rate
//               events/s for --live-seconds to a fresh topic each: per
//               record, handler (or poll) wall time minus the record's
//               CreateTime.
//   scaling     a handler that sleeps 1 ms, `ordering: key`, --slow-keys
//               keys over 3 partitions, --slow-events events, at
//               concurrency 1, 4, 16, 64 (and 16, 64 uncapped).
//   dlq         --dlq-events events, every one rejected (BUSINESS_LOGIC, not
//               retried) and dead-lettered, vs a no-op handler over the same
//               topic with the same group settings (default and uncapped;
//               and uncapped at log level error).
//   metrics     not run by default (bench/metrics.sh runs it): the runtime
//               readers of --readers (default partition and key) over
//               --events events, without and with metrics (an
//               observe::Registry rendered every second), alternating for
//               --rounds rounds; per round also a live latency run of each.
//
// Output: Markdown on stdout; progress and the runtime's logs on stderr.
//
// Usage: weir-bench-consume [--events N] [--rounds R] [--slow-events N]
//          [--slow-keys K] [--dlq-events N] [--live-rate R] [--live-seconds S]
//          [--sections throughput,latency,scaling,dlq,metrics] [--readers 0,3,...]
// (--readers picks throughput readers by their row, from 0, e.g. to profile
// one of them; the ratio column then needs row 0.)
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "bench_util.h"
#include "weir/broker/broker.h"
#include "weir/consume/runtime.h"
#include "weir/kafka/admin.h"
#include "weir/kafka/producer.h"
#include "weir/observe/metrics.h"
#include "weir/topology.h"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
using namespace weir;

struct Args {
  int64_t events = 500000;
  int rounds = 3;
  int64_t slow_events = 20000;
  int slow_keys = 1000;
  int64_t dlq_events = 100000;
  int live_rate = 10000;
  double live_seconds = 3;
  std::set<std::string> sections = {"throughput", "latency", "scaling", "dlq"};
  std::set<size_t> readers;  // indexes into Readers() for throughput; empty = all
};

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "weir-bench-consume: " << what << "\n";
  std::exit(1);
}

int64_t WallNowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The settings every reader gets, bare or runtime. The runtime adds what
// kafka::Consumer forces (no auto commit, no auto offset store) and the
// group.id; the bare loop sets the same by hand.
std::vector<std::pair<std::string, std::string>> ReaderProps() {
  return {{"fetch.wait.max.ms", "100"},
          {"auto.offset.reset", "earliest"},
          {"partition.assignment.strategy", "range,roundrobin"}};
}

// One JSON event of ~200 bytes.
std::string Event(int64_t i, const std::string& key) {
  std::string e = fmt::format(
      R"({{"id":"e-{:010}","key":"{}","seq":{},"camera":"cam-{:02}","plate":"AB{:03}CD","pad":")",
      i, key, i, i % 20, i % 1000);
  if (e.size() < 196) e.append(196 - e.size(), 'x');
  e += "\"}";
  return e;
}

std::string KeyOf(int64_t i, int keys) { return fmt::format("k-{}", i % keys); }

class CountingListener : public kafka::DeliveryListener {
 public:
  void OnDelivery(uint64_t, const Status& status, std::string_view, Partition, Offset,
                  std::chrono::microseconds) override {
    if (!status.ok()) failed.fetch_add(1);
  }
  std::atomic<int64_t> failed{0};
};

// Produces |n| events with |keys| keys to |topic| and waits for them all.
void ProduceEvents(const std::string& bootstrap, const std::string& topic, int64_t n, int keys) {
  CountingListener listener;
  kafka::ProducerOptions po;
  po.listener = &listener;
  auto producer = kafka::Producer::Create(bench::BatchingProducerConfig(bootstrap), po);
  if (!producer.ok()) Die(producer.status().ToString());
  for (int64_t i = 0; i < n; ++i) {
    const std::string key = KeyOf(i, keys);
    const std::string value = Event(i, key);
    kafka::ProduceRequest req;
    req.topic = topic;
    req.key = key;
    req.value = value;
    if (Status s = (*producer)->SendWithToken(req, static_cast<uint64_t>(i)); !s.ok()) {
      Die(s.ToString());
    }
  }
  if (Status s = (*producer)->Close(std::chrono::minutes(5)); !s.ok()) Die(s.ToString());
  if (listener.failed.load() > 0)
    Die(fmt::format("{}: {} records failed", topic, listener.failed.load()));
}

void CreateTopic(const std::string& bootstrap, const std::string& name, int partitions) {
  kafka::ClientConfig c;
  c.Set("bootstrap.servers", bootstrap);
  auto admin = kafka::Admin::Create(c);
  if (!admin.ok()) Die(admin.status().ToString());
  auto r = (*admin)->CreateTopics({{name, partitions, -1, {}}}, seconds(10));
  if (!r.ok() || !(*r)[0].status.ok()) Die("cannot create topic " + name);
}

struct ReadResult {
  double per_s = 0;
  double seconds = 0;
  // Live runs only: per record, its CreateTime and its latency (ms).
  std::vector<std::pair<int64_t, int64_t>> latency_ms;
};

// What a reader needs: where, what, and whether to keep latencies. A live
// run calls |ready| once the reader has its partitions (the producer starts
// then) and expects |n| records in all.
struct ReadJob {
  std::string bootstrap;
  std::string topic;
  std::string group;
  int64_t n = 0;
  bool keep_latency = false;
  std::function<void()> ready;
};

// --- the bare librdkafka loop ------------------------------------------------

ReadResult BareLoop(const ReadJob& job) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      Die(fmt::format("{}={}: {}", k, v, err));
    }
  };
  set("bootstrap.servers", job.bootstrap);
  set("group.id", job.group);
  set("enable.auto.commit", "false");
  // Offsets are stored as records are returned and committed periodically.
  set("enable.auto.offset.store", "true");
  for (const auto& [k, v] : ReaderProps()) set(k, v);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) Die(err);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, job.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(rk, topics) != RD_KAFKA_RESP_ERR_NO_ERROR) Die("subscribe");
  rd_kafka_topic_partition_list_destroy(topics);

  ReadResult res;
  if (job.keep_latency) res.latency_ms.reserve(static_cast<size_t>(job.n));
  int64_t got = 0;
  bool ready_called = !job.ready;
  Clock::time_point first{}, last{};
  Clock::time_point last_commit = Clock::now();
  const auto deadline = Clock::now() + std::chrono::minutes(5);
  while (got < job.n && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!ready_called) {
      rd_kafka_topic_partition_list_t* a = nullptr;
      if (rd_kafka_assignment(rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a->cnt > 0) {
        ready_called = true;
        job.ready();
      }
      if (a != nullptr) rd_kafka_topic_partition_list_destroy(a);
    }
    const Clock::time_point now = Clock::now();
    if (m != nullptr) {
      if (!m->err) {
        if (got == 0) first = now;
        ++got;
        last = now;
        if (job.keep_latency) {
          rd_kafka_timestamp_type_t type;
          const int64_t ts = rd_kafka_message_timestamp(m, &type);
          res.latency_ms.emplace_back(ts, WallNowMs() - ts);
        }
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::cerr << "bare: " << rd_kafka_message_errstr(m) << "\n";
      }
      rd_kafka_message_destroy(m);
    }
    if (now - last_commit >= seconds(1)) {
      rd_kafka_commit(rk, nullptr, 1);  // the stored offsets, async
      last_commit = now;
    }
  }
  rd_kafka_commit(rk, nullptr, 0);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (got < job.n) Die(fmt::format("bare: read {} of {} from {}", got, job.n, job.topic));
  res.seconds = std::chrono::duration<double>(last - first).count();
  res.per_s = static_cast<double>(got - 1) / res.seconds;
  return res;
}

// --- GroupRuntime ------------------------------------------------------------

// Writes weir.yaml for one runtime reader and loads it: |topic| (with the
// BenchEvent type and its JSON schema when |typed|), the DLQ topic, and the
// group |group| reading |topic| with |settings| (a YAML flow mapping's body)
// and ReaderProps() as its librdkafka properties.
Topology MakeTopology(const std::filesystem::path& work, const std::string& group,
                      const std::string& topic, bool typed, const std::string& settings) {
  std::string yaml = fmt::format("topics:\n  {}: {{partitions: 3, key: key}}\n", topic);
  yaml += "  bench.dlq: {partitions: 1}\n";
  if (typed) {
    yaml += fmt::format(
        "event_types:\n  BenchEvent: {{schema: bench.schema.json, topic: {}, key: key, id: id}}\n",
        topic);
  }
  std::string props;
  for (const auto& [k, v] : ReaderProps()) {
    props += fmt::format("{}{}: \"{}\"", props.empty() ? "" : ", ", k, v);
  }
  yaml += fmt::format("consumer_groups:\n  {}: {{topics: [{}], {}, properties: {{{}}}}}\n", group,
                      topic, settings, props);
  const std::filesystem::path path = work / (group + ".yaml");
  std::ofstream(path) << yaml;
  auto topo = LoadTopology(path.string());
  if (!topo.ok()) Die(topo.status().ToString());
  return std::move(*topo);
}

struct RuntimeRun {
  ReadResult read;
  consume::GroupStats stats;
};

// Runs |topology|'s group job.group over job.n records with |inner| as the
// handler, until the handler has returned job.n times or, with
// |count_dead_letters|, until job.n dead letters are confirmed (polled in
// the runtime's stats every 10 ms).
RuntimeRun RunRuntime(const Topology& topology, const ReadJob& job,
                      std::function<consume::HandlerResult(const consume::Message&)> inner,
                      bool count_dead_letters, consume::RuntimeOptions options = {}) {
  kafka::ClientConfig config;
  config.Set("bootstrap.servers", job.bootstrap);
  auto rt = consume::GroupRuntime::Create(topology, job.group, config, std::move(options));
  if (!rt.ok()) Die(rt.status().ToString());
  std::atomic<int64_t> calls{0}, returned{0};
  std::mutex mu;
  std::condition_variable cv;
  Clock::time_point first{}, last{};
  bool all_handled = false;
  std::vector<std::pair<int64_t, int64_t>> latency(job.keep_latency ? static_cast<size_t>(job.n)
                                                                    : 0);
  auto handler = [&](const consume::Message& m) -> consume::HandlerResult {
    const int64_t i = calls.fetch_add(1, std::memory_order_relaxed);
    if (job.keep_latency && i < job.n) {
      const int64_t ts = m.record().timestamp().ms;
      latency[static_cast<size_t>(i)] = {ts, WallNowMs() - ts};
    }
    if (i == 0) {
      std::lock_guard<std::mutex> lock(mu);
      first = Clock::now();
    }
    consume::HandlerResult r = inner(m);
    if (returned.fetch_add(1) + 1 == job.n && !count_dead_letters) {
      std::lock_guard<std::mutex> lock(mu);
      last = Clock::now();
      all_handled = true;
      cv.notify_all();
    }
    return r;
  };
  if (Status s = (*rt)->OnTopic(job.topic, handler); !s.ok()) Die(s.ToString());
  if (Status s = (*rt)->Start(); !s.ok()) Die(s.ToString());
  if (job.ready) {
    while ((*rt)->Stats().assigned_partitions == 0) std::this_thread::sleep_for(milliseconds(5));
    job.ready();
  }
  const auto deadline = Clock::now() + std::chrono::minutes(5);
  if (count_dead_letters) {
    // Dead letters count once the DLQ confirms them: poll the stats.
    while (Clock::now() < deadline) {
      if ((*rt)->Stats().dead_lettered >= static_cast<uint64_t>(job.n)) break;
      std::this_thread::sleep_for(milliseconds(10));
    }
    last = Clock::now();
  } else {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_until(lock, deadline, [&] { return all_handled; });
  }
  RuntimeRun run;
  run.stats = (*rt)->Stats();
  if (Status s = (*rt)->Stop(seconds(30)); !s.ok()) Die(s.ToString());
  const uint64_t finished =
      count_dead_letters ? run.stats.dead_lettered : static_cast<uint64_t>(returned.load());
  if (finished < static_cast<uint64_t>(job.n)) {
    Die(fmt::format("{}: finished {} of {}", job.group, finished, job.n));
  }
  std::lock_guard<std::mutex> lock(mu);
  run.read.seconds = std::chrono::duration<double>(last - first).count();
  run.read.per_s = static_cast<double>(job.n - 1) / run.read.seconds;
  run.read.latency_ms = std::move(latency);
  return run;
}

consume::HandlerResult NoOp(const consume::Message&) { return consume::HandlerResult::Ok(); }

// RuntimeOptions the benchmark varies, to locate the runtime's limits: the
// backpressure bound (max_pending_per_partition unfinished records per
// partition, paused above it; "uncapped" lifts it, at the price of unbounded
// memory) and the commit interval (10 ms instead of 1 s).
enum class Tuning { kDefault, kUncapped, kFastCommits };

std::string TuningLabel(Tuning t) {
  switch (t) {
    case Tuning::kDefault:
      return "";
    case Tuning::kUncapped:
      return "`max_pending_per_partition` 10,000,000";
    case Tuning::kFastCommits:
      return "`commit_interval` 10 ms";
  }
  return "";
}

consume::RuntimeOptions Options(Tuning t) {
  consume::RuntimeOptions o;
  if (t == Tuning::kUncapped) o.max_pending_per_partition = 10000000;
  if (t == Tuning::kFastCommits) o.commit_interval = milliseconds(10);
  return o;
}

// The readers of the throughput and latency sections.
struct Reader {
  std::string label;
  std::string group_settings;  // YAML flow mapping body without topics
  bool bare = false;
  bool typed = false;  // events declared with a JSON schema, so validated
  Tuning tuning = Tuning::kDefault;
  bool in_latency = false;  // also run in the latency section
};

const std::vector<Reader>& Readers() {
  static const std::string kPartition1 = "ordering: partition, concurrency: 1, dlq: bench.dlq";
  static const std::string kKey4 = "ordering: key, concurrency: 4, dlq: bench.dlq";
  static const std::vector<Reader> readers = {
      {"bare librdkafka loop (poll + async commit of stored offsets every 1 s)", "", true, false,
       Tuning::kDefault, true},
      {"GroupRuntime, no-op handler, `ordering: partition`, concurrency 1", kPartition1, false,
       false, Tuning::kDefault, true},
      {"GroupRuntime, no-op handler, `ordering: key`, concurrency 4", kKey4, false, false,
       Tuning::kDefault, true},
      {"GroupRuntime, partition/1, `max_pending_per_partition` 10,000,000", kPartition1, false,
       false, Tuning::kUncapped, false},
      {"GroupRuntime, key/4, `max_pending_per_partition` 10,000,000", kKey4, false, false,
       Tuning::kUncapped, false},
      {"GroupRuntime, partition/1, `commit_interval` 10 ms", kPartition1, false, false,
       Tuning::kFastCommits, false},
      {"GroupRuntime, key/4, `commit_interval` 10 ms", kKey4, false, false, Tuning::kFastCommits,
       false},
      {"GroupRuntime, partition/1, `max_pending_per_partition` 10,000,000, events validated "
       "against a JSON schema",
       kPartition1, false, true, Tuning::kUncapped, false},
  };
  return readers;
}

class Bench {
 public:
  Bench(Args args, std::string bootstrap, std::filesystem::path work)
      : a_(std::move(args)), bootstrap_(std::move(bootstrap)), work_(std::move(work)) {}

  // Reads |n| records of |topic| with |r| in the fresh group |group|; a
  // runtime reader records its metrics in |metrics| when not null.
  ReadResult Read(const Reader& r, const std::string& topic, const std::string& group, int64_t n,
                  std::function<void()> ready, observe::Registry* metrics = nullptr) {
    ReadJob job{bootstrap_, topic, group, n, static_cast<bool>(ready), std::move(ready)};
    if (r.bare) return BareLoop(job);
    Topology topo = MakeTopology(work_, group, topic, r.typed, r.group_settings);
    consume::RuntimeOptions options = Options(r.tuning);
    options.metrics = metrics;
    return RunRuntime(topo, job, NoOp, false, std::move(options)).read;
  }

  void Throughput() {
    std::cerr << "throughput: producing " << a_.events << " events\n";
    CreateTopic(bootstrap_, "bench.consume", 3);
    ProduceEvents(bootstrap_, "bench.consume", a_.events, 1000);
    std::cerr << "throughput: reading" << std::endl;
    const std::vector<Reader>& readers = Readers();
    std::vector<std::vector<double>> rates(readers.size()), cpu_us(readers.size());
    for (int round = 0; round < a_.rounds; ++round) {
      for (size_t i = 0; i < readers.size(); ++i) {
        if (!Selected(i)) continue;
        const std::string group = fmt::format("bench-tp-{}-{}", i, round);
        const double cpu0 = bench::ProcessCpuSeconds();
        ReadResult r = Read(readers[i], "bench.consume", group, a_.events, nullptr);
        cpu_us[i].push_back((bench::ProcessCpuSeconds() - cpu0) * 1e6 /
                            static_cast<double>(a_.events));
        std::cerr << fmt::format("throughput round {}: {}: {:.0f} records/s\n", round,
                                 readers[i].label, r.per_s);
        rates[i].push_back(r.per_s);
      }
    }
    const double bare = rates[0].empty() ? 0 : bench::Median(rates[0]);
    std::cout << fmt::format(
        "#### Throughput: {} pre-produced events (~200-byte JSON, 1000 keys, 3 partitions)\n\n"
        "Each reader in its own fresh group, from the beginning to the end, timed from its "
        "first record to its last; median of {} alternating rounds. CPU: the whole process's "
        "user + system time over the reader's run (group join and stop included) per record; "
        "the in-process broker's share is the same for every reader.\n\n",
        a_.events, a_.rounds);
    std::cout << "| reader | median records/s | runs | ratio to bare | CPU µs per record |\n"
                 "|---|---:|---|---:|---:|\n";
    for (size_t i = 0; i < readers.size(); ++i) {
      if (!Selected(i)) continue;
      std::string runs;
      for (double v : rates[i]) runs += fmt::format("{:.0f} ", v);
      std::cout << fmt::format("| {} | {:.0f} | {}| {:.2f} | {:.2f} |\n", readers[i].label,
                               bench::Median(rates[i]), runs, bench::Median(rates[i]) / bare,
                               bench::Median(cpu_us[i]));
    }
    std::cout << "\n";
  }

  void Latency() {
    const int64_t n = static_cast<int64_t>(a_.live_rate * a_.live_seconds);
    std::cout << fmt::format(
        "#### Latency: {} events/s produced live for {:.0f} s ({} events) while the reader "
        "runs\n\nPer record: handler call (bare: poll return) wall time minus the record's "
        "CreateTime, ms (producer `linger.ms=5` included), over the records created after the "
        "first second (the reader's first fetches are still starting up before); the last "
        "column is the maximum over all records.\n\n",
        a_.live_rate, a_.live_seconds, n);
    std::cout << "| reader | p50 ms | p95 ms | p99 ms | max ms | max ms, first second included |\n"
                 "|---|---:|---:|---:|---:|---:|\n";
    const std::vector<Reader>& readers = Readers();
    for (size_t i = 0; i < readers.size(); ++i) {
      if (!readers[i].in_latency) continue;
      const std::string topic = fmt::format("bench.live.{}", i);
      CreateTopic(bootstrap_, topic, 3);
      std::thread producer;
      auto start_producing = [&] {
        producer = std::thread([this, topic, n] { ProduceAtRate(topic, n); });
      };
      ReadResult r = Read(readers[i], topic, fmt::format("bench-live-{}", i), n, start_producing);
      producer.join();
      const LiveLatency l = LatencyOf(r);
      std::cout << fmt::format("| {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.0f} |\n",
                               readers[i].label, l.steady.p50, l.steady.p95, l.steady.p99,
                               l.steady.max, l.max_all);
    }
    std::cout << "\n";
  }

  // Metrics off vs on (issue 6): the runtime readers picked by --readers
  // (default rows 1 and 2, the two default configurations) over --events
  // pre-produced records; each round reads once without and once with an
  // observe::Registry ("weir_") rendered every second, then does the same
  // for a live latency run (--live-rate for --live-seconds). One warm-up
  // read per reader first, not counted.
  void Metrics() {
    std::cerr << "metrics: producing " << a_.events << " events\n";
    CreateTopic(bootstrap_, "bench.metrics", 3);
    ProduceEvents(bootstrap_, "bench.metrics", a_.events, 1000);
    const std::vector<Reader>& readers = Readers();
    std::vector<size_t> picked;
    for (size_t i = 0; i < readers.size(); ++i) {
      if (readers[i].bare) continue;
      if (a_.readers.empty() ? (i == 1 || i == 2) : a_.readers.count(i) > 0) picked.push_back(i);
    }
    const int64_t live_n = static_cast<int64_t>(a_.live_rate * a_.live_seconds);
    // One read by reader |i|; with |on|, through a fresh scraped Registry.
    auto read_once = [&](size_t i, bool on, const std::string& topic, const std::string& group,
                         int64_t n, std::function<void()> ready) {
      std::optional<observe::Registry> registry;
      std::optional<bench::PeriodicScrape> scrape;
      if (on) {
        registry.emplace("weir_");
        scrape.emplace(*registry);
      }
      const double cpu0 = bench::ProcessCpuSeconds();
      ReadResult r = Read(readers[i], topic, group, n, std::move(ready), on ? &*registry : nullptr);
      const double cpu_us = (bench::ProcessCpuSeconds() - cpu0) * 1e6 / static_cast<double>(n);
      if (scrape) {
        const auto [scrapes, bytes] = scrape->Stop();
        std::cerr << fmt::format("metrics: {}: {} scrapes, the last {} bytes\n", group, scrapes,
                                 bytes);
      }
      return std::make_pair(r, cpu_us);
    };
    std::vector<std::vector<bench::OnOffRun>> off(readers.size()), on(readers.size());
    for (size_t i : picked) {
      const double per_s = read_once(i, false, "bench.metrics", fmt::format("bench-m-warm-{}", i),
                                     a_.events, nullptr)
                               .first.per_s;
      std::cerr << fmt::format("metrics: warm-up: {}: {:.0f} records/s\n", readers[i].label, per_s);
    }
    for (int round = 0; round < a_.rounds; ++round) {
      for (size_t i : picked) {
        for (bool metrics_on : {false, true}) {
          const char* mode = metrics_on ? "on" : "off";
          const auto [r, cpu_us] =
              read_once(i, metrics_on, "bench.metrics",
                        fmt::format("bench-m-{}-{}-{}", i, round, mode), a_.events, nullptr);
          bench::OnOffRun run{r.per_s, cpu_us};
          if (live_n > 0) {
            const std::string topic = fmt::format("bench.mlive.{}.{}.{}", i, round, mode);
            CreateTopic(bootstrap_, topic, 3);
            std::thread producer;
            auto start_producing = [&] {
              producer = std::thread([this, topic, live_n] { ProduceAtRate(topic, live_n); });
            };
            const auto live =
                read_once(i, metrics_on, topic, fmt::format("bench-mlive-{}-{}-{}", i, round, mode),
                          live_n, start_producing);
            producer.join();
            const LiveLatency l = LatencyOf(live.first);
            run.p50_ms = l.steady.p50;
            run.p95_ms = l.steady.p95;
            run.p99_ms = l.steady.p99;
          }
          std::cerr << fmt::format(
              "metrics round {}: {}: metrics {}: {:.0f} records/s, {:.2f} µs CPU per record, "
              "live p50/p95/p99 {:.0f}/{:.0f}/{:.0f} ms\n",
              round, readers[i].label, mode, run.per_s, run.cpu_us, run.p50_ms, run.p95_ms,
              run.p99_ms);
          (metrics_on ? on : off)[i].push_back(run);
        }
      }
    }
    std::cout << fmt::format(
        "#### Metrics off vs on: {} pre-produced events (~200-byte JSON, 1000 keys, 3 "
        "partitions)\n\n"
        "on: `RuntimeOptions::metrics` set to an `observe::Registry(\"weir_\")` that a "
        "background thread renders once per second, as a Prometheus scrape would; off: no "
        "registry. {} rounds, each reading once off then once on, each read in its own fresh "
        "group, timed from its first record to its last, after one warm-up read per reader. "
        "CPU: the whole process's user + system time over the read (group join and stop "
        "included) per record.{}\n\n",
        a_.events, a_.rounds,
        live_n > 0 ? fmt::format(" Latency: per round, a live run of each mode ({} events/s "
                                 "for {:.0f} s), record CreateTime to handler call, after "
                                 "the first second; median over rounds.",
                                 a_.live_rate, a_.live_seconds)
                   : std::string());
    for (size_t i : picked) {
      std::cout << fmt::format("{}:\n\n", readers[i].label);
      bench::PrintOnOffTable("record", off[i], on[i], live_n > 0);
    }
  }

  void Scaling() {
    std::cerr << "scaling: producing " << a_.slow_events << " events\n";
    CreateTopic(bootstrap_, "bench.slow", 3);
    ProduceEvents(bootstrap_, "bench.slow", a_.slow_events, a_.slow_keys);
    std::cout << fmt::format(
        "#### Scaling: a handler that sleeps 1 ms, `ordering: key`, {} events over {} keys "
        "and 3 partitions\n\n",
        a_.slow_events, a_.slow_keys);
    std::cout << "| concurrency | records/s | speed-up vs 1 | ideal records/s (c × 1000) |\n"
                 "|---:|---:|---:|---:|\n";
    double base = 0;
    for (const auto& [c, tuning] : std::vector<std::pair<int, Tuning>>{{1, Tuning::kDefault},
                                                                       {4, Tuning::kDefault},
                                                                       {16, Tuning::kDefault},
                                                                       {64, Tuning::kDefault},
                                                                       {16, Tuning::kUncapped},
                                                                       {64, Tuning::kUncapped}}) {
      const std::string group = fmt::format("bench-slow-{}-{}", c, static_cast<int>(tuning));
      Topology topo =
          MakeTopology(work_, group, "bench.slow", false,
                       fmt::format("ordering: key, concurrency: {}, dlq: bench.dlq", c));
      ReadJob job{bootstrap_, "bench.slow", group, a_.slow_events, false, nullptr};
      RuntimeRun run = RunRuntime(
          topo, job,
          [](const consume::Message&) {
            std::this_thread::sleep_for(milliseconds(1));
            return consume::HandlerResult::Ok();
          },
          false, Options(tuning));
      if (c == 1) base = run.read.per_s;
      const std::string label = tuning == Tuning::kDefault
                                    ? std::to_string(c)
                                    : fmt::format("{} ({})", c, TuningLabel(tuning));
      std::cerr << fmt::format("scaling: concurrency {}: {:.0f} records/s\n", label,
                               run.read.per_s);
      std::cout << fmt::format("| {} | {:.0f} | {:.1f} | {} |\n", label, run.read.per_s,
                               run.read.per_s / base, c * 1000);
    }
    std::cout << "\n";
  }

  void DeadLetters() {
    std::cerr << "dlq: producing " << a_.dlq_events << " events\n";
    CreateTopic(bootstrap_, "bench.dlqsrc", 3);
    ProduceEvents(bootstrap_, "bench.dlqsrc", a_.dlq_events, 1000);
    const std::string settings = "ordering: key, concurrency: 4, dlq: bench.dlq";
    auto run = [&](const std::string& group, bool fail, Tuning tuning,
                   spdlog::level::level_enum level) {
      spdlog::set_level(level);
      Topology topo = MakeTopology(work_, group, "bench.dlqsrc", false, settings);
      ReadJob job{bootstrap_, "bench.dlqsrc", group, a_.dlq_events, false, nullptr};
      RuntimeRun r = RunRuntime(
          topo, job,
          [fail](const consume::Message&) {
            return fail ? consume::HandlerResult::Reject("rejected by the benchmark")
                        : consume::HandlerResult::Ok();
          },
          fail, Options(tuning));
      spdlog::set_level(spdlog::level::warn);
      std::cerr << fmt::format("dlq: {}: {:.0f} records/s, {} dead letters\n", group, r.read.per_s,
                               r.stats.dead_lettered);
      return r;
    };
    const RuntimeRun noop = run("bench-dlq-noop", false, Tuning::kDefault, spdlog::level::warn);
    const RuntimeRun dlq = run("bench-dlq-all", true, Tuning::kDefault, spdlog::level::warn);
    const RuntimeRun noop_uncapped =
        run("bench-dlq-noop-uncapped", false, Tuning::kUncapped, spdlog::level::warn);
    const RuntimeRun dlq_uncapped =
        run("bench-dlq-all-uncapped", true, Tuning::kUncapped, spdlog::level::warn);
    const RuntimeRun quiet =
        run("bench-dlq-quiet-uncapped", true, Tuning::kUncapped, spdlog::level::err);
    std::cout << fmt::format(
        "#### Dead letters: {} events, every one rejected (BUSINESS_LOGIC, not retried)\n\n"
        "`ordering: key`, concurrency 4, DLQ topic of 1 partition; a dead letter counts once the "
        "DLQ acknowledged it (its stats are polled every 10 ms). The runtime logs a warning per "
        "dead letter (stderr to a file here); the last row runs at log level error.\n\n",
        a_.dlq_events);
    std::cout << "| path | records/s | µs per record | ratio to no-op (same options) |\n"
                 "|---|---:|---:|---:|\n";
    auto row = [&](const char* label, const RuntimeRun& r, const RuntimeRun& base) {
      std::cout << fmt::format("| {} | {:.0f} | {:.2f} | {:.2f} |\n", label, r.read.per_s,
                               1e6 / r.read.per_s, r.read.per_s / base.read.per_s);
    };
    row("no-op handler", noop, noop);
    row("every record dead-lettered", dlq, noop);
    row("no-op handler, `max_pending_per_partition` 10,000,000", noop_uncapped, noop_uncapped);
    row("every record dead-lettered, `max_pending_per_partition` 10,000,000", dlq_uncapped,
        noop_uncapped);
    row("every record dead-lettered, `max_pending_per_partition` 10,000,000, log level error",
        quiet, noop_uncapped);
    std::cout << "\n";
  }

 private:
  bool Selected(size_t reader) const { return a_.readers.empty() || a_.readers.count(reader) > 0; }

  // The latency of a live run (ms): quantiles over the records created
  // after its first second, and the maximum over all.
  struct LiveLatency {
    bench::Quantiles steady;
    double max_all = 0;
  };
  static LiveLatency LatencyOf(const ReadResult& r) {
    int64_t start_ms = INT64_MAX;
    for (const auto& [ts, lat] : r.latency_ms) start_ms = std::min(start_ms, ts);
    std::vector<int64_t> all, steady;
    for (const auto& [ts, lat] : r.latency_ms) {
      all.push_back(lat);
      if (ts >= start_ms + 1000) steady.push_back(lat);
    }
    return {bench::QuantilesOf(steady), bench::QuantilesOf(all).max};
  }

  // Produces |n| events to |topic| at a_.live_rate per second.
  void ProduceAtRate(const std::string& topic, int64_t n) {
    CountingListener listener;
    kafka::ProducerOptions po;
    po.listener = &listener;
    auto producer = kafka::Producer::Create(bench::BatchingProducerConfig(bootstrap_), po);
    if (!producer.ok()) Die(producer.status().ToString());
    const auto start = Clock::now();
    const double per_ms = a_.live_rate / 1000.0;
    int64_t sent = 0;
    for (int64_t tick = 1; sent < n; ++tick) {
      const int64_t due = std::min(n, static_cast<int64_t>(per_ms * static_cast<double>(tick)));
      for (; sent < due; ++sent) {
        const std::string key = KeyOf(sent, 1000);
        const std::string value = Event(sent, key);
        kafka::ProduceRequest req;
        req.topic = topic;
        req.key = key;
        req.value = value;
        if (Status s = (*producer)->SendWithToken(req, static_cast<uint64_t>(sent)); !s.ok()) {
          Die(s.ToString());
        }
      }
      std::this_thread::sleep_until(start + milliseconds(tick));
    }
    if (Status s = (*producer)->Close(std::chrono::minutes(1)); !s.ok()) Die(s.ToString());
  }

  Args a_;
  std::string bootstrap_;
  std::filesystem::path work_;
};

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--events") {
      a.events = std::stoll(v);
    } else if (k == "--rounds") {
      a.rounds = std::stoi(v);
    } else if (k == "--slow-events") {
      a.slow_events = std::stoll(v);
    } else if (k == "--slow-keys") {
      a.slow_keys = std::stoi(v);
    } else if (k == "--dlq-events") {
      a.dlq_events = std::stoll(v);
    } else if (k == "--live-rate") {
      a.live_rate = std::stoi(v);
    } else if (k == "--live-seconds") {
      a.live_seconds = std::stod(v);
    } else if (k == "--readers") {
      std::stringstream ss(v);
      for (std::string s; std::getline(ss, s, ',');) a.readers.insert(std::stoul(s));
    } else if (k == "--sections") {
      a.sections.clear();
      std::stringstream ss(v);
      for (std::string s; std::getline(ss, s, ',');) a.sections.insert(s);
    } else {
      Die("unknown argument " + k);
    }
  }
  if (argc % 2 == 0) Die(std::string("missing value after ") + argv[argc - 1]);
  spdlog::set_level(spdlog::level::warn);
  const std::filesystem::path work =
      std::filesystem::temp_directory_path() / fmt::format("weir-bench-consume-{}", ::getpid());
  std::filesystem::create_directories(work);
  std::ofstream(work / "bench.schema.json") << R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["id", "key", "seq"],
  "properties": {
    "id": {"type": "string"}, "key": {"type": "string"}, "seq": {"type": "integer"},
    "camera": {"type": "string"}, "plate": {"type": "string"}, "pad": {"type": "string"}
  }
})";

  broker::BrokerOptions bo;
  bo.data_dir = (work / "data").string();
  bo.listen = "127.0.0.1:0";
  auto b = broker::Broker::Start(bo);
  if (!b.ok()) Die(b.status().ToString());
  const std::string bootstrap = fmt::format("127.0.0.1:{}", (*b)->port());
  CreateTopic(bootstrap, "bench.dlq", 1);

  std::cout << fmt::format(
      "One in-process embedded broker; every reader gets `{}` (the runtime adds nothing else: "
      "kafka::Consumer turns auto commit and auto offset store off, the bare loop commits "
      "the stored offsets itself).\n\n",
      [] {
        std::string s;
        for (const auto& [k, v] : ReaderProps())
          s += fmt::format("{}{}={}", s.empty() ? "" : " ", k, v);
        return s;
      }());
  Bench bench(a, bootstrap, work);
  if (a.sections.count("throughput")) bench.Throughput();
  if (a.sections.count("latency")) bench.Latency();
  if (a.sections.count("scaling")) bench.Scaling();
  if (a.sections.count("dlq")) bench.DeadLetters();
  if (a.sections.count("metrics")) bench.Metrics();
  b->reset();
  std::filesystem::remove_all(work);
  return 0;
}
