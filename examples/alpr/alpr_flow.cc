// weir-alpr — the ALPR flow on weir: plate events produced keyed by camera,
// consumed by the storage group with manual commits, and every arrival
// printed. On the embedded cluster (the default) this runs in one process;
// until weir's embedded broker lands, `embedded` is an in-process librdkafka
// mock cluster (see README).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "common/log.h"
#include "plate_events.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"
#include "weir/ops/cluster.h"
#include "weir/topology.h"

namespace {

std::atomic<bool> g_stop{false};
extern "C" void OnSignal(int) { g_stop.store(true); }

// Commits the storage group's progress: before partitions are revoked and
// after each processed batch.
class Committer : public weir::kafka::RebalanceListener {
 public:
  void set_consumer(weir::kafka::Consumer* c) { consumer_ = c; }
  void Processed(const weir::Record& r) {
    next_[weir::TopicPartition{std::string(r.topic()), r.partition()}] = r.offset() + 1;
  }
  weir::Status Commit() {
    if (next_.empty()) return weir::Status::Ok();
    std::vector<weir::TopicPartitionOffset> offsets;
    for (const auto& [tp, off] : next_) offsets.push_back({tp.topic, tp.partition, off, {}});
    weir::Status s = consumer_->Commit(offsets);
    if (s.ok()) next_.clear();
    return s;
  }
  void OnAssigned(const std::vector<weir::TopicPartition>& parts) override {
    for (const auto& tp : parts) fmt::print("  assigned {}[{}]\n", tp.topic, tp.partition.value());
  }
  void OnRevoked(const std::vector<weir::TopicPartition>& parts, bool lost) override {
    if (!lost) {
      weir::Status s = Commit();
      if (!s.ok()) fmt::print(stderr, "commit on revoke failed: {}\n", s.ToString());
    }
    for (const auto& tp : parts) next_.erase(tp);
  }

 private:
  weir::kafka::Consumer* consumer_ = nullptr;
  std::map<weir::TopicPartition, weir::Offset> next_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string config = "examples/alpr/weir.yaml";
  std::string bootstrap;
  int events = 200;
  int cameras = 4;
  uint64_t seed = 1;
  bool quiet = false;
  int timeout_s = 60;
  CLI::App app{"weir-alpr: ALPR plate events through weir (produce, consume, commit, print)"};
  app.add_option("-c,--config", config, "The ALPR topology")->capture_default_str();
  app.add_option("-b,--bootstrap", bootstrap, "Use this Kafka cluster instead of weir.yaml's");
  app.add_option("-n,--events", events, "Plate events to produce")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  app.add_option("--cameras", cameras, "Number of cameras")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--seed", seed, "Random seed of the synthetic reads")->capture_default_str();
  app.add_option("--timeout", timeout_s, "Give up after this many seconds")->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "Print the summary only, not every arrival");
  CLI11_PARSE(app, argc, argv);
  weir::log::Init("warn");

  auto topo = weir::LoadTopology(config);
  if (!topo.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", topo.status().message());
    return 2;
  }
  const weir::TopicSpec* plates = topo->FindTopic("alpr.events.plates");
  const weir::ConsumerGroupSpec* storage = topo->FindGroup("alpr-storage-service");
  if (plates == nullptr || storage == nullptr) {
    fmt::print(stderr,
               "weir-alpr: {} must declare topic alpr.events.plates and group "
               "alpr-storage-service\n",
               config);
    return 2;
  }
  weir::ops::ConnectOptions copts;
  copts.bootstrap = bootstrap;
  copts.create_declared_topics = true;
  auto conn = weir::ops::ConnectCluster(*topo, copts);
  if (!conn.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", conn.status().ToString());
    return 1;
  }
  fmt::print("ALPR flow on {} ({})\n", conn->config.Get("bootstrap.servers"),
             conn->embedded ? "weir embedded broker, data in " + weir::ops::EmbeddedDataDir(*topo)
                            : std::string("Kafka cluster"));
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  // Produce: every event keyed by camera_id, each delivery confirmed.
  auto producer = weir::kafka::Producer::Create(conn->config);
  if (!producer.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", producer.status().ToString());
    return 2;
  }
  alpr::PlateEventGenerator gen(seed, cameras, "DC1", "edge-01");
  std::mutex mu;
  std::set<std::string> delivered_ids;
  std::vector<std::string> failures;
  std::map<std::string, std::string> plate_of;  // event_id -> plate text
  for (int i = 0; i < events && !g_stop.load(); ++i) {
    alpr::PlateRead read = gen.Next();
    plate_of[read.event_id] = read.plate_text;
    weir::kafka::ProduceRequest req;
    req.topic = plates->name;
    req.key = read.camera_id;
    req.value = read.json;
    weir::Status s =
        (*producer)->Send(req, [&, id = read.event_id](const weir::kafka::DeliveryReport& r) {
          std::lock_guard<std::mutex> lock(mu);
          if (r.status.ok()) {
            delivered_ids.insert(id);
          } else {
            failures.push_back(fmt::format("{}: {}", id, r.status.ToString()));
          }
        });
    if (!s.ok()) failures.push_back(fmt::format("{}: {}", read.event_id, s.ToString()));
  }
  weir::Status closed = (*producer)->Close();
  fmt::print("produced {} plate events to {}: {} delivered, {} failed\n", events, plates->name,
             delivered_ids.size(), failures.size());
  for (const std::string& f : failures) fmt::print(stderr, "  not delivered: {}\n", f);

  // Consume as the storage group, committing after each processed batch.
  Committer committer;
  weir::kafka::ClientConfig ccfg = conn->config;
  ccfg.SetDefault("auto.offset.reset", "earliest");
  for (const auto& [k, v] : storage->properties) ccfg.Set(k, v.value);
  auto consumer = weir::kafka::Consumer::Create(ccfg, {storage->name, &committer});
  if (!consumer.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", consumer.status().ToString());
    return 2;
  }
  committer.set_consumer(consumer->get());
  if (weir::Status s = (*consumer)->Subscribe(storage->topics); !s.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", s.ToString());
    return 1;
  }
  std::set<std::string> arrived_ids;
  std::map<std::string, int> per_camera;
  std::map<int32_t, int> per_partition;
  int duplicates = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (!g_stop.load() && arrived_ids.size() < delivered_ids.size() &&
         std::chrono::steady_clock::now() < deadline) {
    auto batch = (*consumer)->Poll(std::chrono::milliseconds(200));
    if (!batch.ok()) {
      fmt::print(stderr, "weir-alpr: consume failed: {}\n", batch.status().ToString());
      break;
    }
    for (const weir::Record& r : *batch) {
      auto ev = nlohmann::json::parse(r.value().value_or(""), nullptr, false);
      if (ev.is_discarded() || !ev.contains("event_id")) {
        fmt::print(stderr, "  unreadable record at {}[{}]@{}\n", r.topic(), r.partition().value(),
                   r.offset().value());
        committer.Processed(r);
        continue;
      }
      const std::string id = ev["event_id"].get<std::string>();
      if (!arrived_ids.insert(id).second) ++duplicates;
      ++per_camera[std::string(r.key().value_or(""))];
      ++per_partition[r.partition().value()];
      if (!quiet) {
        fmt::print("  {}[{}]@{:<5} camera={} plate={:<9} confidence={:.2f} vehicle={} {}\n",
                   r.topic(), r.partition().value(), r.offset().value(), r.key().value_or(""),
                   ev["plate"]["text"].get<std::string>(), ev["plate"]["confidence"].get<double>(),
                   ev["vehicle"]["color"].get<std::string>(),
                   ev["vehicle"]["type"].get<std::string>());
      }
      committer.Processed(r);
    }
    if (weir::Status s = committer.Commit(); !s.ok()) {
      fmt::print(stderr, "commit failed (will retry): {}\n", s.ToString());
    }
  }
  (void)committer.Commit();
  (void)(*consumer)->Close();

  size_t missing = 0;
  for (const std::string& id : delivered_ids) missing += arrived_ids.count(id) == 0;
  fmt::print("\nconsumed {} distinct events as group {} ({} redelivered)\n", arrived_ids.size(),
             storage->name, duplicates);
  for (const auto& [p, n] : per_partition) fmt::print("  partition {}: {} events\n", p, n);
  for (const auto& [c, n] : per_camera) fmt::print("  {}: {} events\n", c, n);
  if (missing > 0 || !failures.empty() || !closed.ok()) {
    fmt::print(stderr, "weir-alpr: {} delivered event(s) did not arrive, {} not delivered\n",
               missing, failures.size());
    return 1;
  }
  fmt::print("all {} delivered events arrived.\n", delivered_ids.size());
  return 0;
}
