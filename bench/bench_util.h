// bench/bench_util.h — pieces the benchmark programs share: the batching
// producer settings they pre-produce with, summaries of samples, process CPU
// time, and the metrics on/off comparison (a periodic scrape and its table).
#pragma once

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "weir/kafka/client_config.h"
#include "weir/observe/metrics.h"

namespace weir::bench {

// A producer tuned for throughput (large batches, idempotent, acks=all, no
// delivery timeout); callers add compression if they want it.
inline kafka::ClientConfig BatchingProducerConfig(const std::string& bootstrap) {
  kafka::ClientConfig c;
  c.Set("bootstrap.servers", bootstrap);
  c.Set("linger.ms", "5");
  c.Set("batch.size", "1000000");
  c.Set("batch.num.messages", "10000");
  c.Set("acks", "all");
  c.Set("enable.idempotence", "true");
  c.Set("message.timeout.ms", "0");
  c.Set("queue.buffering.max.messages", "500000");
  c.Set("queue.buffering.max.kbytes", "1048576");
  return c;
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Nearest-rank quantiles of |samples| (index q × (n − 1) after sorting),
// each multiplied by |scale|; all zero when there are none.
struct Quantiles {
  double p50 = 0, p95 = 0, p99 = 0, max = 0;
};
inline Quantiles QuantilesOf(std::vector<int64_t> samples, double scale = 1.0) {
  Quantiles q;
  if (samples.empty()) return q;
  std::sort(samples.begin(), samples.end());
  auto at = [&](double f) {
    return static_cast<double>(
               samples[static_cast<size_t>(f * static_cast<double>(samples.size() - 1))]) *
           scale;
  };
  q.p50 = at(0.50);
  q.p95 = at(0.95);
  q.p99 = at(0.99);
  q.max = static_cast<double>(samples.back()) * scale;
  return q;
}

// User + system CPU time of the whole process so far.
inline double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

// Renders |registry| once per second on its own thread, as a Prometheus
// scrape of /metrics would, from construction until Stop() (or
// destruction). |registry| must outlive it.
class PeriodicScrape {
 public:
  explicit PeriodicScrape(const observe::Registry& registry)
      : thread_([this, &registry] {
          std::unique_lock<std::mutex> lock(mu_);
          while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
            lock.unlock();
            const size_t n = registry.Render().size();
            lock.lock();
            ++scrapes_;
            bytes_ = n;
          }
        }) {}
  ~PeriodicScrape() { Stop(); }
  PeriodicScrape(const PeriodicScrape&) = delete;
  PeriodicScrape& operator=(const PeriodicScrape&) = delete;

  // Stops and joins the thread; idempotent. Returns the number of renders
  // and the size of the last one, for a sanity line on stderr.
  std::pair<int, size_t> Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return {scrapes_, bytes_};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int scrapes_ = 0;
  size_t bytes_ = 0;
  std::thread thread_;  // last: starts once the members above exist
};

// One run of a metrics off/on comparison.
struct OnOffRun {
  double per_s = 0;
  double cpu_us = 0;  // process CPU per item
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;
};

// Prints the Markdown table of a metrics off/on comparison: one row per
// mode (median rate, every run, median CPU per item and latencies; the
// latency columns are left out when |with_latency| is false), then the
// ratio on ÷ off of the medians, the overhead (1 − ratio) × 100 %, the
// per-round ratios and the spread of each mode. |off| and |on| hold one
// run per round, in round order; |unit| names what is counted ("event").
inline void PrintOnOffTable(const std::string& unit, const std::vector<OnOffRun>& off,
                            const std::vector<OnOffRun>& on, bool with_latency) {
  auto median_of = [](const std::vector<OnOffRun>& rs, double OnOffRun::*field) {
    std::vector<double> v;
    for (const OnOffRun& r : rs) v.push_back(r.*field);
    return Median(v);
  };
  auto spread = [&](const std::vector<OnOffRun>& rs) {
    double lo = rs.front().per_s, hi = lo;
    for (const OnOffRun& r : rs) {
      lo = std::min(lo, r.per_s);
      hi = std::max(hi, r.per_s);
    }
    return (hi - lo) / median_of(rs, &OnOffRun::per_s) * 100.0;
  };
  std::cout << fmt::format("| metrics | median {0}s/s | runs ({0}s/s) | CPU µs per {0} |", unit);
  std::cout << (with_latency ? " p50 ms | p95 ms | p99 ms |\n|---|---:|---|---:|---:|---:|---:|\n"
                             : "\n|---|---:|---|---:|\n");
  auto row = [&](const char* name, const std::vector<OnOffRun>& rs) {
    std::string runs;
    for (const OnOffRun& r : rs) runs += fmt::format("{:.0f} ", r.per_s);
    std::cout << fmt::format("| {} | {:.0f} | {}| {:.2f} |", name, median_of(rs, &OnOffRun::per_s),
                             runs, median_of(rs, &OnOffRun::cpu_us));
    if (with_latency) {
      std::cout << fmt::format(" {:.1f} | {:.1f} | {:.1f} |", median_of(rs, &OnOffRun::p50_ms),
                               median_of(rs, &OnOffRun::p95_ms), median_of(rs, &OnOffRun::p99_ms));
    }
    std::cout << "\n";
  };
  row("off", off);
  row("on", on);
  const double ratio = median_of(on, &OnOffRun::per_s) / median_of(off, &OnOffRun::per_s);
  std::string per_round;
  for (size_t i = 0; i < std::min(off.size(), on.size()); ++i) {
    per_round += fmt::format("{}{:.2f}", i == 0 ? "" : " ", on[i].per_s / off[i].per_s);
  }
  std::cout << fmt::format(
      "\n**on ÷ off: {:.3f}, overhead {:.1f} %** (medians). Per round, on ÷ off: {}. Spread "
      "(max − min) ÷ median: off {:.0f} %, on {:.0f} %. CPU per {} on ÷ off: {:.3f}.\n\n",
      ratio, (1.0 - ratio) * 100.0, per_round, spread(off), spread(on), unit,
      median_of(on, &OnOffRun::cpu_us) / median_of(off, &OnOffRun::cpu_us));
}

}  // namespace weir::bench
