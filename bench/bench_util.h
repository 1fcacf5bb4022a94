// bench/bench_util.h — pieces the benchmark programs share: the batching
// producer settings they pre-produce with, and summaries of samples.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "weir/kafka/client_config.h"

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

}  // namespace weir::bench
