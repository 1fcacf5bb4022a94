// weir-bench-publish: the Publisher against the bare client layer on the same
// embedded broker, in the same run (bench/publish.sh runs it; results in
// BENCHMARKS.md).
//
//   check      validate + key + encode one PlateEvent, one thread (events/s)
//   raw        kafka::Producer with pre-encoded Confluent-framed Avro bytes
//   publisher  Publisher::PublishAsync: JSON in → validate → Avro → produce
//   http       weir serve's ingest: POST /v1/events/PlateEvent, NDJSON batches
//
// raw and publisher alternate for --rounds rounds; each prints events/s and
// the latency from hand-off to outcome (p50/p95/p99). Output: one Markdown
// table on stdout. That is the "paths" section; the "metrics" section, not
// run by default (bench/metrics.sh runs it), runs the Publisher without and
// with metrics (an observe::Registry rendered every second), alternating
// for --rounds rounds, and prints their table.
//
// Usage: weir-bench-publish --schema plate_event.avsc --sample PlateEvent.json
//          [--events N] [--rounds R] [--batch B] [--http-clients C]
//          [--sections paths,metrics]
#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "bench_util.h"
#include "weir/broker/broker.h"
#include "weir/http/server.h"
#include "weir/kafka/admin.h"
#include "weir/kafka/producer.h"
#include "weir/observe/metrics.h"
#include "weir/publish/publisher.h"
#include "weir/schema/avro.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using namespace weir;

struct Args {
  std::string schema;
  std::string sample;
  int64_t events = 300000;
  int rounds = 3;
  int batch = 500;
  int http_clients = 2;
  std::set<std::string> sections = {"paths"};
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double AverageSize(const std::vector<std::string>& events) {
  size_t n = 0;
  for (const std::string& e : events) n += e.size();
  return static_cast<double>(n) / static_cast<double>(events.size());
}

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "weir-bench-publish: " << what << "\n";
  std::exit(1);
}

struct RunResult {
  double events_per_s = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;
};

RunResult Summarize(int64_t n, Clock::duration elapsed, std::vector<int64_t>& lat_us) {
  RunResult r;
  r.events_per_s = static_cast<double>(n) / std::chrono::duration<double>(elapsed).count();
  const bench::Quantiles q = bench::QuantilesOf(lat_us, 1e-3);  // µs → ms
  r.p50_ms = q.p50;
  r.p95_ms = q.p95;
  r.p99_ms = q.p99;
  return r;
}

kafka::ClientConfig ClientProps(const std::string& bootstrap) {
  kafka::ClientConfig c = bench::BatchingProducerConfig(bootstrap);
  c.Set("compression.type", "lz4");
  return c;
}

// The bare client layer: pre-encoded values, one SendWithToken per record.
class RawListener : public kafka::DeliveryListener {
 public:
  explicit RawListener(size_t n) : sent_at(n), lat_us(n) {}
  void OnDelivery(uint64_t token, const Status& status, std::string_view, Partition, Offset,
                  std::chrono::microseconds) override {
    if (!status.ok()) failed.fetch_add(1);
    lat_us[token] =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent_at[token])
            .count();
  }
  std::vector<Clock::time_point> sent_at;
  std::vector<int64_t> lat_us;
  std::atomic<int64_t> failed{0};
};

RunResult RunRaw(const std::string& bootstrap, const std::vector<std::string>& keys,
                 const std::vector<std::string>& values) {
  RawListener listener(values.size());
  kafka::ProducerOptions po;
  po.listener = &listener;
  auto producer = kafka::Producer::Create(ClientProps(bootstrap), po);
  if (!producer.ok()) Die(producer.status().ToString());
  const std::string event_type = "PlateEvent";
  const HeaderView header{"weir-event-type", event_type};
  const auto start = Clock::now();
  for (size_t i = 0; i < values.size(); ++i) {
    kafka::ProduceRequest req;
    req.topic = "bench.publish";
    req.key = keys[i];
    req.value = values[i];
    req.headers = std::span<const HeaderView>(&header, 1);
    listener.sent_at[i] = Clock::now();
    if (Status st = (*producer)->SendWithToken(req, i); !st.ok()) Die(st.ToString());
  }
  if (Status st = (*producer)->Flush(std::chrono::minutes(5)); !st.ok()) Die(st.ToString());
  const auto elapsed = Clock::now() - start;
  if (listener.failed.load() > 0) Die("raw: records failed");
  return Summarize(static_cast<int64_t>(values.size()), elapsed, listener.lat_us);
}

RunResult RunPublisher(publish::Publisher& pub, const std::vector<std::string>& events) {
  std::vector<int64_t> lat_us(events.size());
  std::atomic<int64_t> done{0}, bad{0};
  std::mutex mu;
  std::condition_variable cv;
  // At most kWindow events without an outcome, as `weir produce` keeps.
  constexpr int64_t kWindow = 10000;
  const auto start = Clock::now();
  for (size_t i = 0; i < events.size(); ++i) {
    if (static_cast<int64_t>(i) - done.load() >= kWindow) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return static_cast<int64_t>(i) - done.load() < kWindow; });
    }
    const auto t0 = Clock::now();
    pub.PublishAsync("PlateEvent", events[i], [&, i, t0](publish::PublishResult r) {
      if (r.outcome != publish::PublishOutcome::kDelivered) bad.fetch_add(1);
      lat_us[i] = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
      const int64_t n = done.fetch_add(1) + 1;
      if (n == static_cast<int64_t>(events.size()) || n % 1000 == 0) {
        std::lock_guard<std::mutex> lock(mu);
        cv.notify_all();
      }
    });
  }
  const auto submitted = Clock::now();
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done.load() == static_cast<int64_t>(events.size()); });
  }
  const auto elapsed = Clock::now() - start;
  std::cerr << fmt::format(
      "publisher: handed on in {} ms, all outcomes after {} ms\n",
      std::chrono::duration_cast<std::chrono::milliseconds>(submitted - start).count(),
      std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
  if (bad.load() > 0) Die(fmt::format("publisher: {} events not delivered", bad.load()));
  return Summarize(static_cast<int64_t>(events.size()), elapsed, lat_us);
}

RunResult RunCheck(publish::Publisher& pub, const std::vector<std::string>& events) {
  const auto start = Clock::now();
  for (const std::string& e : events) {
    if (pub.Check("PlateEvent", e).outcome != publish::PublishOutcome::kDelivered) {
      Die("check refused an event");
    }
  }
  std::vector<int64_t> none;
  return Summarize(static_cast<int64_t>(events.size()), Clock::now() - start, none);
}

RunResult RunHttp(const std::string& address, const std::vector<std::string>& events, int batch,
                  int clients) {
  std::vector<std::string> bodies;
  for (size_t i = 0; i < events.size(); i += static_cast<size_t>(batch)) {
    std::string body;
    for (size_t j = i; j < std::min(events.size(), i + static_cast<size_t>(batch)); ++j) {
      body += events[j];
      body += '\n';
    }
    bodies.push_back(std::move(body));
  }
  std::atomic<size_t> next{0};
  std::vector<std::vector<int64_t>> lat(static_cast<size_t>(clients));
  std::atomic<int> failures{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("http://" + address);
      client.set_read_timeout(120, 0);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      for (size_t i; (i = next.fetch_add(1)) < bodies.size();) {
        const auto t0 = Clock::now();
        auto res = client.Post("/v1/events/PlateEvent", bodies[i], "application/x-ndjson");
        if (!res || res->status != 202) {
          failures.fetch_add(1);
          continue;
        }
        lat[static_cast<size_t>(c)].push_back(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const auto elapsed = Clock::now() - start;
  if (failures.load() > 0) Die(fmt::format("http: {} requests failed", failures.load()));
  std::vector<int64_t> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  return Summarize(static_cast<int64_t>(events.size()), elapsed, all);
}

// The paths section: check, raw vs Publisher alternating, HTTP ingest; one
// Markdown table.
void ComparePaths(const Args& a, const Topology& topo, const std::string& bootstrap,
                  const std::vector<std::string>& events) {
  auto pub = publish::Publisher::Create(topo, ClientProps(bootstrap));
  if (!pub.ok()) Die(pub.status().ToString());
  // Pre-encoded values for the raw run: exactly what the Publisher produces.
  auto schema = schema::AvroSchema::Parse(Slurp(a.schema));
  if (!schema.ok()) Die(schema.status().ToString());
  std::vector<std::string> keys, values;
  for (const std::string& e : events) {
    auto v = schema::JsonToAvro(*schema, e);
    if (!v.ok()) Die(v.status().ToString());
    keys.push_back(json::parse(e)["camera_id"].get<std::string>());
    values.push_back(schema::WrapConfluent(1, *schema::EncodeBinary(*schema, *v)));
  }
  size_t bytes = 0;
  for (const std::string& v : values) bytes += v.size();

  RunResult check = RunCheck(**pub, events);
  std::vector<RunResult> raw, published, http_runs;
  for (int r = 0; r < a.rounds; ++r) {
    raw.push_back(RunRaw(bootstrap, keys, values));
    published.push_back(RunPublisher(**pub, events));
  }
  http::ServerOptions so;
  so.listen = "127.0.0.1:0";
  so.max_body_bytes = int64_t{64} << 20;
  auto server = http::Server::Start(so, pub->get(), nullptr);
  if (!server.ok()) Die(server.status().ToString());
  for (int r = 0; r < a.rounds; ++r) {
    http_runs.push_back(RunHttp((*server)->address(), events, a.batch, a.http_clients));
  }
  (*server)->Stop();
  if (Status st = (*pub)->Close(); !st.ok()) Die(st.ToString());

  auto median_of = [](const std::vector<RunResult>& rs, double RunResult::*field) {
    std::vector<double> v;
    for (const RunResult& r : rs) v.push_back(r.*field);
    return bench::Median(v);
  };
  auto row = [&](const char* name, const std::vector<RunResult>& rs, const std::string& ratio) {
    std::string runs;
    for (const RunResult& r : rs) runs += fmt::format("{:.0f} ", r.events_per_s);
    std::cout << fmt::format("| {} | {:.0f} | {}| {:.1f} | {:.1f} | {:.1f} | {} |\n", name,
                             median_of(rs, &RunResult::events_per_s), runs,
                             median_of(rs, &RunResult::p50_ms), median_of(rs, &RunResult::p95_ms),
                             median_of(rs, &RunResult::p99_ms), ratio);
  };
  const double raw_med = median_of(raw, &RunResult::events_per_s);
  const double pub_med = median_of(published, &RunResult::events_per_s);
  std::cout << fmt::format(
      "{} PlateEvents ({} bytes of Confluent-framed Avro, {:.0f} bytes each on average; JSON in: "
      "{:.0f} bytes each), 3 partitions of one in-process embedded broker, {} rounds, "
      "alternating raw/publisher.\n\n",
      a.events, bytes, static_cast<double>(bytes) / static_cast<double>(a.events),
      AverageSize(events), a.rounds);
  std::cout << "| path | median events/s | runs | p50 ms | p95 ms | p99 ms | ratio to raw |\n";
  std::cout << "|---|---:|---|---:|---:|---:|---:|\n";
  row("raw: kafka::Producer, pre-encoded bytes", raw, "1.00");
  row("Publisher: JSON → validate → Avro → produce", published,
      fmt::format("{:.2f}", pub_med / raw_med));
  row(fmt::format("HTTP ingest: NDJSON batches of {}, {} clients", a.batch, a.http_clients).c_str(),
      http_runs, fmt::format("{:.2f}", median_of(http_runs, &RunResult::events_per_s) / raw_med));
  std::cout << fmt::format(
      "\nvalidate + key + encode (Publisher::Check), one thread: {:.0f} events/s per core\n",
      check.events_per_s);
}

// One Publisher run of the metrics section, with a Publisher of its own:
// with |on|, PublisherOptions::metrics is a fresh Registry("weir_") that a
// background thread renders every second; without, no registry.
bench::OnOffRun RunPublisherMetrics(const Topology& topo, const std::string& bootstrap,
                                    const std::vector<std::string>& events, bool on) {
  std::optional<observe::Registry> registry;
  if (on) registry.emplace("weir_");
  publish::PublisherOptions po;
  po.metrics = on ? &*registry : nullptr;
  auto pub = publish::Publisher::Create(topo, ClientProps(bootstrap), po);
  if (!pub.ok()) Die(pub.status().ToString());
  std::optional<bench::PeriodicScrape> scrape;
  if (on) scrape.emplace(*registry);
  const double cpu0 = bench::ProcessCpuSeconds();
  const RunResult r = RunPublisher(**pub, events);
  const double cpu_us =
      (bench::ProcessCpuSeconds() - cpu0) * 1e6 / static_cast<double>(events.size());
  if (scrape) {
    const auto [scrapes, bytes] = scrape->Stop();
    std::cerr << fmt::format("metrics on: {} scrapes, the last {} bytes\n", scrapes, bytes);
  }
  if (Status st = (*pub)->Close(); !st.ok()) Die(st.ToString());
  return {r.events_per_s, cpu_us, r.p50_ms, r.p95_ms, r.p99_ms};
}

// The metrics section (issue 6): the Publisher without and with metrics,
// alternating off/on for a.rounds rounds after one warm-up run (not
// counted); one Markdown table.
void CompareMetrics(const Args& a, const Topology& topo, const std::string& bootstrap,
                    const std::vector<std::string>& events) {
  RunPublisherMetrics(topo, bootstrap, events, false);  // warm-up
  std::vector<bench::OnOffRun> off, on;
  for (int r = 0; r < a.rounds; ++r) {
    for (bool metrics_on : {false, true}) {
      const bench::OnOffRun run = RunPublisherMetrics(topo, bootstrap, events, metrics_on);
      std::cerr << fmt::format(
          "metrics round {}: Publisher, metrics {}: {:.0f} events/s, {:.2f} µs CPU per event\n", r,
          metrics_on ? "on" : "off", run.per_s, run.cpu_us);
      (metrics_on ? on : off).push_back(run);
    }
  }
  std::cout << fmt::format(
      "#### Metrics off vs on: Publisher::PublishAsync of {} PlateEvents (JSON in: {:.0f} bytes "
      "each)\n\n"
      "on: `PublisherOptions::metrics` set to an `observe::Registry(\"weir_\")` that a background "
      "thread renders once per second, as a Prometheus scrape would; off: no registry. A fresh "
      "Publisher per run, at most 10,000 events without an outcome; {} rounds, each running off "
      "then on, after one warm-up run. CPU: the whole process's user + system time (in-process "
      "broker included) per event. Latency: hand-off to outcome, per event, median over "
      "rounds.\n\n",
      a.events, AverageSize(events), a.rounds);
  bench::PrintOnOffTable("event", off, on, true);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--schema") {
      a.schema = v;
    } else if (k == "--sample") {
      a.sample = v;
    } else if (k == "--events") {
      a.events = std::stoll(v);
    } else if (k == "--rounds") {
      a.rounds = std::stoi(v);
    } else if (k == "--batch") {
      a.batch = std::stoi(v);
    } else if (k == "--http-clients") {
      a.http_clients = std::stoi(v);
    } else if (k == "--sections") {
      a.sections.clear();
      std::stringstream ss(v);
      for (std::string s; std::getline(ss, s, ',');) a.sections.insert(s);
    } else {
      Die("unknown argument " + k);
    }
  }
  if (a.schema.empty() || a.sample.empty()) Die("--schema and --sample are required");
  const std::filesystem::path work =
      std::filesystem::temp_directory_path() / fmt::format("weir-bench-publish-{}", ::getpid());
  std::filesystem::create_directories(work);

  broker::BrokerOptions bo;
  bo.data_dir = (work / "data").string();
  bo.listen = "127.0.0.1:0";
  auto b = broker::Broker::Start(bo);
  if (!b.ok()) Die(b.status().ToString());
  const std::string bootstrap = fmt::format("127.0.0.1:{}", (*b)->port());
  {
    auto admin = kafka::Admin::Create(ClientProps(bootstrap));
    if (!admin.ok()) Die(admin.status().ToString());
    auto r = (*admin)->CreateTopics({{"bench.publish", 3, -1, {}}}, std::chrono::seconds(10));
    if (!r.ok() || !(*r)[0].status.ok()) Die("cannot create bench.publish");
  }
  std::ofstream(work / "weir.yaml") << fmt::format(R"(
registry: {{folder: registry}}
publisher: {{spool: {{dir: spool}}}}
topics: {{bench.publish: {{partitions: 3, key: camera_id}}}}
event_types:
  PlateEvent: {{schema: {}, topic: bench.publish, id: event_id}}
)",
                                                   std::filesystem::absolute(a.schema).string());
  auto topo = LoadTopology((work / "weir.yaml").string());
  if (!topo.ok()) Die(topo.status().ToString());

  // The events: the ALPR sample with its id, camera and frame varied.
  json sample = json::parse(Slurp(a.sample));
  std::vector<std::string> events;
  events.reserve(static_cast<size_t>(a.events));
  for (int64_t i = 0; i < a.events; ++i) {
    sample["event_id"] = fmt::format("{:08x}-5d2f-4f7e-9a51-{:012x}", i, i);
    sample["camera_id"] = fmt::format("cam-{:02}", i % 20);
    sample["frame_number"] = i;
    events.push_back(sample.dump());
  }

  if (a.sections.count("paths")) ComparePaths(a, *topo, bootstrap, events);
  if (a.sections.count("metrics")) CompareMetrics(a, *topo, bootstrap, events);
  b->reset();
  std::filesystem::remove_all(work);
  return 0;
}
