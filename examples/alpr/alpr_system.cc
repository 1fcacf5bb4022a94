#include "alpr_system.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "common/wall_clock.h"
#include "weir/http/server.h"
#include "weir/kafka/admin.h"
#include "weir/kafka/producer.h"
#include "weir/observe/metrics.h"
#include "weir/ops/dlq_monitor.h"
#include "weir/ops/metric_events.h"
#include "weir/publish/publisher.h"

namespace alpr {

using weir::Status;
using weir::consume::HandlerResult;

namespace {

// A store's or notifier's error as the runtime's outcome: what a retry can
// fix is retried (PROCESSING_FAILURE), a refused event is BUSINESS_LOGIC
// (dead-lettered at once), anything else UNKNOWN (retried, per the group's
// `on:`).
HandlerResult FromStatus(const Status& s) {
  if (s.ok()) return HandlerResult::Ok();
  switch (s.code()) {
    case weir::StatusCode::kUnavailable:
    case weir::StatusCode::kTimeout:
      return HandlerResult::Retry(s.message());
    case weir::StatusCode::kInvalidArgument:
      return HandlerResult::Fail(weir::ErrorClass::kBusinessLogic, s.message());
    default:
      return HandlerResult::Fail(weir::ErrorClass::kUnknown, s.message());
  }
}

// End-to-end latencies in 1 ms buckets (published_at has ms resolution).
class LatencyHistogram {
 public:
  void Add(int64_t ms) {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t b = static_cast<size_t>(std::clamp<int64_t>(ms, 0, kMax));
    ++buckets_[b];
    ++count_;
    max_ = std::max(max_, b);
  }
  void Fill(Snapshot& s) const {
    std::lock_guard<std::mutex> lock(mu_);
    s.latency_samples = count_;
    if (count_ == 0) return;
    auto quantile = [&](double q) {
      const auto rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
      uint64_t seen = 0;
      for (size_t i = 0; i < buckets_.size(); ++i) {
        seen += buckets_[i];
        if (seen >= rank) return static_cast<double>(i);
      }
      return static_cast<double>(kMax);
    };
    s.p50_ms = quantile(0.50);
    s.p95_ms = quantile(0.95);
    s.p99_ms = quantile(0.99);
    s.max_ms = static_cast<double>(max_);
  }

 private:
  static constexpr int64_t kMax = 600'000;
  mutable std::mutex mu_;
  std::vector<uint64_t> buckets_ = std::vector<uint64_t>(kMax + 1);
  uint64_t count_ = 0;
  size_t max_ = 0;
};

bool Has(const std::set<std::string>& roles, const char* role) { return roles.count(role) > 0; }

}  // namespace

const std::vector<std::string>& AllRoles() {
  static const std::vector<std::string> roles = {
      "storage", "alerts", "search", "counts", "dlq-monitor", "metrics-consumer", "source"};
  return roles;
}

struct AlprSystem::Impl {
  weir::Topology topo;
  weir::kafka::ClientConfig config;
  AlprOptions o;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  std::unique_ptr<weir::observe::Registry> metrics, dlq_metrics, consumer_metrics;
  std::vector<std::pair<std::string, std::unique_ptr<weir::http::Server>>> servers;
  std::unique_ptr<weir::publish::Publisher> publisher;
  std::unique_ptr<weir::ops::MetricEventPublisher> host_metrics;
  std::unique_ptr<PlateStore> store;
  std::unique_ptr<SearchIndex> search;
  std::unique_ptr<AlertEngine> alerts;
  std::unique_ptr<CameraCounter> counts;
  Watchlist watchlist;
  std::vector<std::pair<std::string, std::unique_ptr<weir::consume::GroupRuntime>>> runtimes;
  std::unique_ptr<weir::ops::DlqMonitor> dlq;
  std::unique_ptr<weir::ops::MetricsConsumer> metrics_consumer;
  std::unique_ptr<weir::kafka::Admin> admin;
  std::map<std::string, int32_t> partitions;  // topic -> partition count
  weir::observe::Histogram* latency_metric = nullptr;
  LatencyHistogram latency;
  bool clean_start = true;  // the stores were empty at start

  std::thread source;
  std::atomic<bool> stop_source{false};
  std::atomic<bool> source_done{false};
  std::atomic<uint64_t> published_events{0};

  mutable std::mutex mu;  // guards the fields below
  std::condition_variable room_cv;
  int64_t in_flight = 0;
  SourceStats src;
  std::map<std::string, uint64_t> by_topic;
  std::map<std::string, Published> published;
  int reported_failures = 0;

  Status Build();
  Status AddGroup(
      const char* group,
      const std::function<HandlerResult(const PlateRow&, const weir::consume::Message&)>& handler);
  Status StartServer(const std::string& what, const std::string& listen,
                     weir::observe::Registry* registry);
  void RunSource();
  void Publish(const EdgeEvent& e, bool resend);
  Status InjectPoison();
  std::optional<int64_t> Lag(const std::string& group);
};

Status AlprSystem::Impl::StartServer(const std::string& what, const std::string& listen,
                                     weir::observe::Registry* registry) {
  if (listen == "off") return Status::Ok();
  weir::http::ServerOptions so;
  so.listen = listen;
  so.max_body_bytes = 64 << 10;  // /metrics only: GET
  auto server = weir::http::Server::Start(so, nullptr, nullptr, registry);
  if (!server.ok()) {
    return Status(server.status().code(),
                  fmt::format("{} on {}: {}", what, listen, server.status().message()));
  }
  servers.emplace_back(what, std::move(*server));
  return Status::Ok();
}

Status AlprSystem::Impl::AddGroup(
    const char* group,
    const std::function<HandlerResult(const PlateRow&, const weir::consume::Message&)>& handler) {
  weir::consume::RuntimeOptions ro = o.runtime;
  ro.metrics = metrics.get();
  WEIR_ASSIGN_OR_RETURN(auto rt, weir::consume::GroupRuntime::Create(topo, group, config, ro));
  WEIR_RETURN_IF_ERROR(rt->OnEventType("PlateEvent", [handler](const weir::consume::Message& m) {
    auto row = ParsePlateEvent(m.json());
    if (!row.ok()) {
      return HandlerResult::Fail(weir::ErrorClass::kSchemaValidation, row.status().message());
    }
    return handler(*row, m);
  }));
  runtimes.emplace_back(group, std::move(rt));
  return Status::Ok();
}

Status AlprSystem::Impl::Build() {
  namespace fs = std::filesystem;
  if (o.roles.empty()) o.roles.insert(AllRoles().begin(), AllRoles().end());
  for (const std::string& r : o.roles) {
    if (std::find(AllRoles().begin(), AllRoles().end(), r) == AllRoles().end()) {
      return Status::InvalidArgument(
          fmt::format("unknown role \"{}\" (roles: {})", r, fmt::join(AllRoles(), ", ")));
    }
  }
  for (const char* g :
       {kStorageGroup, kAlertGroup, kSearchGroup, kCountsGroup, kDlqGroup, kMetricsGroup}) {
    if (topo.FindGroup(g) == nullptr) {
      return Status::InvalidArgument(fmt::format(
          "{}: consumer group {} is not declared (the ALPR system runs it)", topo.path, g));
    }
  }
  std::error_code ec;
  fs::create_directories(o.data_dir, ec);
  if (ec) return Status::Io(fmt::format("data folder {}: {}", o.data_dir, ec.message()));
  auto in_data = [&](const std::string& v, const char* file) {
    return v.empty() ? (fs::path(o.data_dir) / file).string() : v;
  };
  o.store = in_data(o.store, "plates.sqlite");
  o.search = in_data(o.search, "search.sqlite");
  o.notify = in_data(o.notify, "notifications.jsonl");
  o.spool_dir = in_data(o.spool_dir, "spool");
  if (o.counts.state_path.empty()) o.counts.state_path = in_data("", "camera-counts.sqlite");
  if (o.metrics_listen.empty()) o.metrics_listen = topo.metrics.listen;

  metrics = std::make_unique<weir::observe::Registry>(topo.metrics.prefix);
  dlq_metrics = std::make_unique<weir::observe::Registry>(topo.metrics.prefix);
  consumer_metrics = std::make_unique<weir::observe::Registry>(topo.metrics.prefix);
  latency_metric = &metrics->GetHistogram(
      "end_to_end_latency_seconds",
      "Plate events: published_at at the edge to stored by the storage service");

  weir::publish::PublisherOptions po;
  po.metrics = metrics.get();
  po.spool_dir = o.spool_dir;
  WEIR_ASSIGN_OR_RETURN(publisher, weir::publish::Publisher::Create(topo, config, po));
  WEIR_ASSIGN_OR_RETURN(admin, weir::kafka::Admin::Create(config));

  // The watchlist: a file, or the simulator's (written out for the user).
  if (!o.watchlist.empty()) {
    WEIR_ASSIGN_OR_RETURN(watchlist, Watchlist::Load(o.watchlist));
  } else {
    CameraSimulator probe(o.sim);
    watchlist = Watchlist::FromPlates(probe.watchlist(), "simulated watchlist");
    WEIR_RETURN_IF_ERROR(watchlist.Save((fs::path(o.data_dir) / "watchlist.txt").string()));
  }

  if (Has(o.roles, "storage")) {
    WEIR_ASSIGN_OR_RETURN(store, PlateStore::Open(o.store));
    WEIR_ASSIGN_OR_RETURN(int64_t existing, store->Count());
    clean_start = clean_start && existing == 0;
    WEIR_RETURN_IF_ERROR(
        AddGroup(kStorageGroup, [this](const PlateRow& r, const weir::consume::Message&) {
          auto inserted = store->Insert(r);
          if (!inserted.ok()) return FromStatus(inserted.status());
          if (*inserted) {
            const int64_t ms = weir::WallClockMs() - r.published_ms;
            latency.Add(ms);
            latency_metric->Observe(static_cast<double>(ms) / 1000.0);
          }
          return HandlerResult::Ok();
        }));
  }
  if (Has(o.roles, "alerts")) {
    WEIR_ASSIGN_OR_RETURN(auto notifier, Notifier::Open(o.notify));
    WEIR_ASSIGN_OR_RETURN(
        alerts, AlertEngine::Open(in_data("", "alerts.sqlite"), watchlist, std::move(notifier)));
    WEIR_RETURN_IF_ERROR(
        AddGroup(kAlertGroup, [this](const PlateRow& r, const weir::consume::Message&) {
          Status s = alerts->Handle(r);
          // A notification that failed, for whatever reason, is retried and
          // then dead-lettered as PROCESSING_FAILURE ([plan] §4.2).
          if (!s.ok()) return HandlerResult::Retry(s.message());
          return HandlerResult::Ok();
        }));
  }
  if (Has(o.roles, "search")) {
    WEIR_ASSIGN_OR_RETURN(search, SearchIndex::Open(o.search));
    WEIR_RETURN_IF_ERROR(
        AddGroup(kSearchGroup, [this](const PlateRow& r, const weir::consume::Message&) {
          return FromStatus(search->Index(r));
        }));
  }
  if (Has(o.roles, "counts")) {
    WEIR_ASSIGN_OR_RETURN(counts, CameraCounter::Open(o.counts, publisher.get()));
    WEIR_ASSIGN_OR_RETURN(int64_t open, counts->OpenEvents());
    WEIR_ASSIGN_OR_RETURN(auto emitted, counts->Emitted());
    clean_start = clean_start && open == 0 && emitted.empty();
    WEIR_RETURN_IF_ERROR(
        AddGroup(kCountsGroup, [this](const PlateRow& r, const weir::consume::Message&) {
          return FromStatus(counts->Handle(r));
        }));
  }
  if (Has(o.roles, "dlq-monitor")) {
    WEIR_ASSIGN_OR_RETURN(
        dlq, weir::ops::DlqMonitor::Create(topo, kDlqGroup, config, dlq_metrics.get()));
  }
  if (Has(o.roles, "metrics-consumer")) {
    WEIR_ASSIGN_OR_RETURN(
        metrics_consumer,
        weir::ops::MetricsConsumer::Create(topo, kMetricsGroup, config, consumer_metrics.get()));
  }
  if (Has(o.roles, "source")) {
    weir::ops::MetricEventPublisherOptions mo;
    mo.host_id = fmt::format("{}-edge", o.sim.site);
    mo.site_id = o.sim.site;
    mo.interval = o.host_metrics_interval;
    WEIR_ASSIGN_OR_RETURN(host_metrics,
                          weir::ops::MetricEventPublisher::Create(publisher.get(), mo));
    WEIR_RETURN_IF_ERROR(
        host_metrics->AddRate(weir::ops::MetricType::kFps, "pipeline_events_per_second", "events/s",
                              {}, [this] { return static_cast<double>(published_events.load()); }));
  }
  // Partition counts for the lag.
  WEIR_ASSIGN_OR_RETURN(auto md, admin->Metadata(std::chrono::seconds(10)));
  for (const auto& t : md.topics) partitions[t.name] = static_cast<int32_t>(t.partitions.size());
  return Status::Ok();
}

void AlprSystem::Impl::Publish(const EdgeEvent& e, bool resend) {
  {
    std::unique_lock<std::mutex> lock(mu);
    room_cv.wait(lock, [&] { return in_flight < 50'000 || stop_source.load(); });
    ++in_flight;
    if (resend) ++src.resent;
  }
  const std::string json = EventProcessor::Stamp(e, weir::WallClockMs());
  publisher->PublishAsync(
      e.type, json,
      [this, type = e.type, id = e.event_id, camera = e.camera_id, plate = e.normalized_plate,
       captured = e.captured_ms](weir::publish::PublishResult r) {
        std::lock_guard<std::mutex> lock(mu);
        --in_flight;
        room_cv.notify_one();
        if (r.outcome == weir::publish::PublishOutcome::kDuplicate) {
          ++src.duplicates_dropped;
          return;
        }
        if (!r.accepted()) {
          ++src.failed;
          if (++reported_failures <= 5) {
            spdlog::error("{} {} not published: {}", type, id, r.status.ToString());
          }
          return;
        }
        for (const auto& d : r.deliveries) ++by_topic[d.topic];
        published_events.fetch_add(1, std::memory_order_relaxed);
        if (type == "PlateEvent") {
          ++src.plate_events;
          if (watchlist.Find(plate)) ++src.watchlist_plates;
          published.emplace(id, Published{camera, plate, captured});
        } else {
          ++src.vehicle_events;
        }
      });
}

void AlprSystem::Impl::RunSource() {
  CameraSimulator sim(o.sim);
  EventProcessor processor(o.processor);
  std::mt19937_64 resend_rng(o.sim.seed ^ 0x5eedULL);
  std::uniform_real_distribution<double> unit(0, 1);
  const auto start = std::chrono::steady_clock::now();
  int64_t sent = 0;
  while (!stop_source.load() && (o.max_events == 0 || sent < o.max_events)) {
    std::vector<EdgeEvent> events = processor.Process(sim.Next());
    for (const EdgeEvent& e : events) {
      if (stop_source.load() || (o.max_events != 0 && sent >= o.max_events)) break;
      if (o.rate > 0) {
        const auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(
                                     static_cast<double>(sent) * 1e9 / o.rate));
        std::unique_lock<std::mutex> lock(mu);
        room_cv.wait_until(lock, due, [&] { return stop_source.load(); });
        if (stop_source.load()) break;
      }
      Publish(e, false);
      ++sent;
      if (unit(resend_rng) < o.resend_share) Publish(e, true);
    }
    std::lock_guard<std::mutex> lock(mu);
    src.processor = processor.stats();
  }
  source_done.store(true);
}

Status AlprSystem::Impl::InjectPoison() {
  if (o.inject_poison <= 0 || !Has(o.roles, "source")) return Status::Ok();
  WEIR_ASSIGN_OR_RETURN(auto producer, weir::kafka::Producer::Create(config));
  for (int i = 0; i < o.inject_poison; ++i) {
    const std::string value = fmt::format("not a PlateEvent: injected poison record #{}", i + 1);
    weir::kafka::ProduceRequest req;
    req.topic = kPlatesTopic;
    req.key = "cam-01";
    req.value = value;
    weir::kafka::DeliveryReport rep = producer->Send(req).get();
    if (!rep.status.ok()) return rep.status;
    std::lock_guard<std::mutex> lock(mu);
    ++src.poison;
    src.poison_at.emplace_back(rep.partition.value(), rep.offset.value());
  }
  WEIR_RETURN_IF_ERROR(producer->Close());
  return Status::Ok();
}

std::optional<int64_t> AlprSystem::Impl::Lag(const std::string& group) {
  const weir::ConsumerGroupSpec* spec = topo.FindGroup(group);
  if (spec == nullptr) return std::nullopt;
  std::vector<weir::TopicPartition> tps;
  for (const std::string& t : spec->topics) {
    auto it = partitions.find(t);
    if (it == partitions.end()) return std::nullopt;
    for (int32_t p = 0; p < it->second; ++p) tps.push_back({t, weir::Partition(p)});
  }
  auto committed = admin->CommittedOffsets(group, tps, std::chrono::seconds(5));
  if (!committed.ok()) return std::nullopt;
  int64_t lag = 0;
  for (const weir::TopicPartitionOffset& c : *committed) {
    auto ends = admin->ListOffsets({c.topic, c.partition}, std::chrono::seconds(5));
    if (!ends.ok()) return std::nullopt;
    const int64_t end = ends->second.value();
    const int64_t at = c.offset.value() >= 0 ? c.offset.value() : ends->first.value();
    lag += std::max<int64_t>(0, end - at);
  }
  return lag;
}

AlprSystem::AlprSystem(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

weir::Result<std::unique_ptr<AlprSystem>> AlprSystem::Create(const weir::Topology& topology,
                                                             weir::kafka::ClientConfig config,
                                                             AlprOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->topo = topology;
  impl->config = std::move(config);
  impl->o = std::move(options);
  WEIR_RETURN_IF_ERROR(impl->Build());
  return std::unique_ptr<AlprSystem>(new AlprSystem(std::move(impl)));
}

AlprSystem::~AlprSystem() { (void)Stop(std::chrono::seconds(5)); }

Status AlprSystem::Start() {
  Impl& m = *impl_;
  WEIR_RETURN_IF_ERROR(m.StartServer("weir metrics (publisher, consumer groups)",
                                     m.o.metrics_listen, m.metrics.get()));
  if (m.dlq) {
    WEIR_RETURN_IF_ERROR(m.StartServer("DLQ monitor", m.o.dlq_listen, m.dlq_metrics.get()));
    WEIR_RETURN_IF_ERROR(m.dlq->Start());
  }
  if (m.metrics_consumer) {
    WEIR_RETURN_IF_ERROR(
        m.StartServer("metrics consumer", m.o.metrics_consumer_listen, m.consumer_metrics.get()));
    WEIR_RETURN_IF_ERROR(m.metrics_consumer->Start());
  }
  for (auto& [name, rt] : m.runtimes) WEIR_RETURN_IF_ERROR(rt->Start());
  WEIR_RETURN_IF_ERROR(m.InjectPoison());
  if (Has(m.o.roles, "source")) {
    WEIR_RETURN_IF_ERROR(m.host_metrics->Start());
    m.source = std::thread([&m] { m.RunSource(); });
  } else {
    m.source_done.store(true);
  }
  return Status::Ok();
}

bool AlprSystem::SourceDone() const { return impl_->source_done.load(); }

Status AlprSystem::StopSource(std::chrono::milliseconds timeout) {
  Impl& m = *impl_;
  m.stop_source.store(true);
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.room_cv.notify_all();
  }
  if (m.source.joinable()) m.source.join();
  if (m.host_metrics) {
    m.host_metrics->Stop();
    (void)m.host_metrics->PublishNow();  // a last round, so the summary's numbers are published
  }
  return m.publisher ? m.publisher->Flush(timeout) : Status::Ok();
}

bool AlprSystem::Drained() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.in_flight > 0) return false;
  }
  for (auto& [name, rt] : m.runtimes) {
    const weir::consume::GroupStats st = rt->Stats();
    if (st.in_flight > 0) return false;
    auto lag = m.Lag(name);
    if (!lag || *lag > 0) return false;
  }
  if (m.counts && m.counts->Unpublished() > 0) return false;
  if (m.dlq) {
    auto lag = m.Lag(kDlqGroup);
    if (!lag || *lag > 0) return false;
  }
  if (m.metrics_consumer) {
    auto lag = m.Lag(kMetricsGroup);
    if (!lag || *lag > 0) return false;
  }
  return true;
}

Status AlprSystem::Stop(std::chrono::milliseconds deadline) {
  Impl& m = *impl_;
  Status first = StopSource(deadline);
  for (auto& [name, rt] : m.runtimes) {
    Status s = rt->Stop(deadline);
    if (first.ok() && !s.ok()) first = s;
  }
  if (m.counts) m.counts->Stop(deadline);  // publishes the windows made final
  if (m.dlq) {
    Status s = m.dlq->Stop(deadline);
    if (first.ok() && !s.ok()) first = s;
  }
  if (m.metrics_consumer) {
    Status s = m.metrics_consumer->Stop(deadline);
    if (first.ok() && !s.ok()) first = s;
  }
  if (m.publisher) {
    Status s = m.publisher->Flush(deadline, /*drain_spool=*/true);
    if (first.ok() && !s.ok()) first = s;
  }
  for (auto& [what, server] : m.servers) server->Stop();
  return first;
}

Status AlprSystem::Error() const {
  for (const auto& [name, rt] : impl_->runtimes) {
    Status s = rt->error();
    if (!s.ok()) return Status(s.code(), fmt::format("{}: {}", name, s.message()));
  }
  return Status::Ok();
}

Snapshot AlprSystem::Take() {
  Impl& m = *impl_;
  Snapshot s;
  s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - m.started).count();
  {
    std::lock_guard<std::mutex> lock(m.mu);
    s.source = m.src;
    s.published_by_topic = m.by_topic;
  }
  if (m.host_metrics) s.source.metric_events = m.host_metrics->Stats().published;
  for (auto& [name, rt] : m.runtimes) s.groups.push_back({name, rt->Stats(), m.Lag(name)});
  if (m.dlq) {
    const weir::ops::DlqStats d = m.dlq->Stats();
    weir::consume::GroupStats read;
    read.handled = static_cast<uint64_t>(d.total + m.dlq->unreadable());
    s.groups.push_back({kDlqGroup, read, m.Lag(kDlqGroup)});
    s.dlq_total = d.total;
    for (const auto& [c, n] : d.by_error_type) {
      s.dlq_by_type[std::string(weir::ErrorClassName(c))] = n;
    }
  }
  if (m.metrics_consumer) {
    const weir::ops::MetricsConsumerStats mc = m.metrics_consumer->Stats();
    s.metric_series = mc.series;
    weir::consume::GroupStats read;
    read.handled = mc.received;
    s.groups.push_back({kMetricsGroup, read, m.Lag(kMetricsGroup)});
  }
  if (m.store) {
    auto n = m.store->Count();
    s.stored = n.ok() ? *n : -1;
  }
  if (m.search) {
    auto n = m.search->Count();
    s.indexed = n.ok() ? *n : -1;
  }
  if (m.alerts) {
    auto all = m.alerts->Alerts();
    if (all.ok()) {
      s.alerts = std::count_if(all->begin(), all->end(),
                               [](const Alert& a) { return !a.notified_at.empty(); });
    }
  }
  if (m.counts) s.windows_emitted = static_cast<int64_t>(m.counts->Stats().windows_emitted);
  m.latency.Fill(s);
  return s;
}

std::vector<std::string> AlprSystem::Endpoints() const {
  std::vector<std::string> out;
  for (const auto& [what, server] : impl_->servers) {
    out.push_back(fmt::format("{}: http://{}/metrics", what, server->address()));
  }
  return out;
}

std::vector<std::string> AlprSystem::Check() {
  Impl& m = *impl_;
  std::vector<std::string> bad;
  // The checks compare the sinks with what this process published: without
  // the source here there is nothing to compare with.
  if (!Has(m.o.roles, "source")) return bad;
  const Snapshot s = Take();
  const auto published = PublishedPlates();
  const std::vector<std::string> plate_groups = [&] {
    std::vector<std::string> g;
    for (const auto& [name, rt] : m.runtimes) g.push_back(name);
    return g;
  }();
  if (s.source.failed > 0) {
    bad.push_back(fmt::format("{} event(s) were not published", s.source.failed));
  }
  if (m.store) {
    auto ids = m.store->EventIds();
    if (!ids.ok()) {
      bad.push_back("plate store: " + ids.status().ToString());
    } else {
      std::set<std::string> stored(ids->begin(), ids->end());
      size_t missing = 0;
      for (const auto& [id, p] : published) missing += stored.count(id) == 0;
      if (missing > 0) {
        bad.push_back(fmt::format("{} published plate event(s) are not in the store", missing));
      }
      if (m.clean_start && stored.size() != published.size()) {
        bad.push_back(fmt::format("the store holds {} plate events; {} were published",
                                  stored.size(), published.size()));
      }
    }
  }
  if (m.search && m.clean_start && s.indexed != static_cast<int64_t>(published.size())) {
    bad.push_back(fmt::format("the search index holds {} plate events; {} were published",
                              s.indexed, published.size()));
  }
  if (m.alerts && m.clean_start && s.alerts != static_cast<int64_t>(s.source.watchlist_plates)) {
    bad.push_back(fmt::format("{} alert(s) notified; {} watchlist plate events were published",
                              s.alerts, s.source.watchlist_plates));
  }
  for (const auto& [name, rt] : m.runtimes) {
    const weir::consume::GroupStats st = rt->Stats();
    const auto poison = static_cast<uint64_t>(s.source.poison);
    const uint64_t schema = st.dead_by_class[static_cast<int>(weir::ErrorClass::kSchemaValidation)];
    if (schema != poison || st.dead_lettered != poison) {
      bad.push_back(
          fmt::format("{}: {} dead letter(s) ({} SCHEMA_VALIDATION); {} poison record(s) "
                      "were injected and nothing else should fail",
                      name, st.dead_lettered, schema, poison));
    }
  }
  if (m.dlq && plate_groups.size() == 4) {  // every group reading plates runs here
    const int64_t expected = static_cast<int64_t>(s.source.poison * plate_groups.size());
    if (m.clean_start && s.dlq_total != expected) {
      bad.push_back(fmt::format("the DLQ monitor read {} dead letter(s); {} expected", s.dlq_total,
                                expected));
    }
  }
  if (m.counts && m.clean_start) {
    auto windows = m.counts->Emitted();
    if (!windows.ok()) {
      bad.push_back("camera counts: " + windows.status().ToString());
    } else {
      std::map<std::pair<std::string, int64_t>, int64_t> expected;
      const int64_t w = m.o.counts.window_ms;
      for (const auto& [id, p] : published) {
        expected[{p.camera_id, p.captured_ms - ((p.captured_ms % w) + w) % w}]++;
      }
      size_t wrong = 0;
      for (const CameraWindow& cw : *windows) {
        wrong += expected[{cw.camera_id, cw.window_start_ms}] != cw.plates;
      }
      if (wrong > 0) {
        bad.push_back(
            fmt::format("{} of {} camera-count window(s) disagree with the published "
                        "events",
                        wrong, windows->size()));
      }
    }
  }
  return bad;
}

PlateStore* AlprSystem::store() { return impl_->store.get(); }
SearchIndex* AlprSystem::search() { return impl_->search.get(); }
AlertEngine* AlprSystem::alerts() { return impl_->alerts.get(); }
CameraCounter* AlprSystem::counts() { return impl_->counts.get(); }
const Watchlist& AlprSystem::watchlist() const { return impl_->watchlist; }

std::map<std::string, AlprSystem::Published> AlprSystem::PublishedPlates() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->published;
}

std::string RenderSummary(const Snapshot& s, const Snapshot* prev,
                          const std::vector<std::string>& endpoints, const std::string& title) {
  const double dt = prev != nullptr ? std::max(1e-3, s.uptime_s - prev->uptime_s) : 0;
  auto rate = [&](uint64_t now, uint64_t before) {
    return prev != nullptr ? fmt::format("{:>9.1f}", static_cast<double>(now - before) / dt)
                           : fmt::format("{:>9}", "-");
  };
  std::string out = fmt::format("{} — {:.0f} s\n", title, s.uptime_s);
  const ProcessorStats& p = s.source.processor;
  out += fmt::format(
      "edge: {} vehicle passes, {} OCR reads → dropped {} below 0.70 confidence, {} near-duplicate "
      "(≥0.85 within 300 s); {} re-sent by the edge, {} dropped by weir's dedup\n\n",
      p.passes, p.reads, p.low_confidence, p.near_duplicates, s.source.resent,
      s.source.duplicates_dropped);
  out += fmt::format("{:<32}{:>10}{:>9}\n", "topic", "events", "/s");
  auto topic_row = [&](const std::string& t, uint64_t now, uint64_t before) {
    out += fmt::format("{:<32}{:>10}{}\n", t, now, rate(now, before));
  };
  auto topic = [](const Snapshot& x, const char* t) {
    auto it = x.published_by_topic.find(t);
    return it == x.published_by_topic.end() ? uint64_t{0} : it->second;
  };
  for (const char* t : {"alpr.events.plates", "alpr.events.vehicles"}) {
    topic_row(t, topic(s, t), prev != nullptr ? topic(*prev, t) : 0);
  }
  topic_row("alpr.metrics", s.source.metric_events,
            prev != nullptr ? prev->source.metric_events : 0);
  topic_row("alpr.analytics.camera-counts", static_cast<uint64_t>(s.windows_emitted),
            prev != nullptr ? static_cast<uint64_t>(prev->windows_emitted) : 0);
  if (s.source.poison > 0) {
    out += fmt::format("{:<32}{:>10}   (undecodable records injected into alpr.events.plates)\n",
                       "  injected poison", s.source.poison);
  }
  out += fmt::format("\n{:<24}{:>10}{:>9}{:>9}{:>7}{:>8}{:>8}\n", "consumer group", "handled", "/s",
                     "retries", "dead", "in-fl.", "lag");
  for (const GroupView& g : s.groups) {
    const GroupView* before = nullptr;
    if (prev != nullptr) {
      for (const GroupView& x : prev->groups) {
        if (x.group == g.group) before = &x;
      }
    }
    out += fmt::format("{:<24}{:>10}{}{:>9}{:>7}{:>8}{:>8}\n", g.group, g.stats.handled,
                       rate(g.stats.handled, before != nullptr ? before->stats.handled : 0),
                       g.stats.retries, g.stats.dead_lettered, g.stats.in_flight,
                       g.lag ? std::to_string(*g.lag) : std::string("?"));
  }
  auto num = [](int64_t v) { return v < 0 ? std::string("-") : std::to_string(v); };
  std::string by_type;
  for (const auto& [t, n] : s.dlq_by_type) by_type += fmt::format(" {} {}", t, n);
  out += fmt::format(
      "\nstored {} | indexed {} | alerts {} (watchlist plates seen {}) | camera-count windows {} | "
      "dead letters {}{}\n",
      num(s.stored), num(s.indexed), num(s.alerts), s.source.watchlist_plates, s.windows_emitted,
      s.dlq_total, by_type.empty() ? "" : " (" + by_type.substr(1) + ")");
  if (s.latency_samples > 0) {
    out += fmt::format(
        "end-to-end latency (published → stored): p50 {:.0f} ms  p95 {:.0f} ms  p99 {:.0f} ms  "
        "max {:.0f} ms over {} events\n",
        s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms, s.latency_samples);
  }
  if (s.metric_series > 0) {
    out += fmt::format("metrics consumer: {} gauge series from alpr.metrics\n", s.metric_series);
  }
  for (const std::string& e : endpoints) out += e + "\n";
  if (!out.empty()) out.pop_back();
  return out;
}

}  // namespace alpr
