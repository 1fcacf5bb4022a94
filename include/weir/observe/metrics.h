// weir/observe/metrics.h — Prometheus metrics: counters, gauges and
// histograms with labels, rendered in the Prometheus text exposition format
// (version 0.0.4) for a /metrics endpoint.
//
// A Registry owns metric families. Get*() returns the series of a family for
// one set of label values, creating it on first use; the reference stays
// valid for the Registry's lifetime, so hot paths look a series up once and
// then only touch atomics:
//
//   observe::Registry reg("alpr_");
//   observe::Counter& sent = reg.GetCounter("multi_topic_events_published_total",
//                                           "Events published", {{"topic", "alpr.events.plates"}});
//   sent.Inc();
//   std::string text = reg.Render();   // alpr_multi_topic_events_published_total{topic="..."} 1
//
// Every family name gets the registry's prefix (weir.yaml `metrics.prefix`,
// "weir_" by default), so the ALPR reference system exposes exactly the
// names of its plan. Values that are cheaper to compute when scraped (lag,
// spool depth, queue lengths) come from collectors, called by Render().
//
// Names follow Prometheus' rules ([a-zA-Z_:][a-zA-Z0-9_:]* for metrics,
// [a-zA-Z_][a-zA-Z0-9_]* for labels, no label starting with "__"); a bad
// name, or a family asked for again with another type, help or label set, is
// a programming error and throws std::invalid_argument at registration.
//
// Threads: every method may be called from any thread. Inc/Set/Observe are
// lock-free; Get*() and Render() take the registry's lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::observe {

// Label name/value pairs of one series, e.g. {{"topic", "alpr.dlq"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  // Adds |v| (must be >= 0; a negative value is ignored).
  void Inc(double v = 1.0) {
    if (v > 0) value_.fetch_add(v, std::memory_order_relaxed);
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  void Dec(double v = 1.0) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // |bounds|: the upper bounds of the buckets, strictly increasing; +Inf is
  // implied.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (= count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Take() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // non-cumulative, bounds_.size() + 1
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Seconds, from 0.5 ms to 60 s: processing and end-to-end latency.
std::vector<double> LatencyBuckets();

// What a collector adds at scrape time.
class Scrape {
 public:
  // One sample of a gauge (or counter, with |counter|) family; samples of
  // one family may come from several calls and are grouped in the output.
  void Gauge(std::string_view name, std::string_view help, const Labels& labels, double value);
  void Counter(std::string_view name, std::string_view help, const Labels& labels, double value);

 private:
  friend class Registry;
  struct Sample {
    bool counter = false;
    std::string help;
    Labels labels;
    double value = 0;
  };
  explicit Scrape(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string prefix_;
  std::map<std::string, std::vector<Sample>> samples_;  // full name → samples
};

class Registry {
 public:
  // |prefix| is prepended to every family name ("weir_", "alpr_", "").
  explicit Registry(std::string prefix = "weir_");
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  // |bounds| applies when the family is created; later calls reuse it.
  Histogram& GetHistogram(std::string_view name, std::string_view help, const Labels& labels = {},
                          std::vector<double> bounds = LatencyBuckets());

  // Adds a function called on every Render(), one render at a time and
  // under no lock a collector could take (so it may lock its owner's state);
  // it must not throw (an exception is caught, logged and the collector's
  // samples of that scrape dropped). Returns an id for RemoveCollector().
  int AddCollector(std::function<void(Scrape&)> collect);
  // Once this returns, the collector is not running and never runs again,
  // so its owner may be destroyed. Must not be called from a collector, nor
  // while holding a lock that a collector takes.
  void RemoveCollector(int id);

  // The whole registry in the text exposition format, families sorted by
  // name, each with # HELP and # TYPE lines.
  std::string Render() const;

  const std::string& prefix() const { return prefix_; }

  // "text/plain; version=0.0.4; charset=utf-8".
  static const char* ContentType();

 private:
  struct Family;
  Family& FamilyFor(std::string_view name, std::string_view help, int type, const Labels& labels);
  const std::string prefix_;
  mutable std::mutex mu_;
  // Held while collectors run (Render) and by RemoveCollector; taken before mu_.
  mutable std::mutex collect_mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;  // by full name
  std::map<int, std::function<void(Scrape&)>> collectors_;
  int next_collector_ = 1;
};

// Checks a metric or label name against Prometheus' rules.
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

}  // namespace weir::observe
