// weir-bench-rdkafka — a bare librdkafka produce or consume loop, the
// baseline for broker benchmarks (no weir code on the client side).
//
// Usage:
//   weir-bench-rdkafka produce BOOTSTRAP TOPIC MESSAGES SIZE [name=value ...]
//   weir-bench-rdkafka consume BOOTSTRAP TOPIC MESSAGES PARTITIONS [name=value ...]
// Prints one line: "msgs_per_s=.. mb_per_s=.. p50_ms=.. p95_ms=.. p99_ms=.."
// (latency from rd_kafka_produce() to the delivery report, produce only).
// produce spreads records round-robin over partitions when given the extra
// argument partitions=N (not a librdkafka property). consume times from the
// first record received to the last, so connection set-up is not counted;
// passes=N reads the partitions N times over (re-assigned from the
// beginning), for a measurement long enough to be stable.
// Exits 1 if any message fails.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct ProduceState {
  std::vector<double> latency_ms;
  std::vector<Clock::time_point> sent;
  long failed = 0;
  long delivered = 0;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* st = static_cast<ProduceState*>(opaque);
  auto index = reinterpret_cast<uintptr_t>(m->_private);
  if (m->err) {
    if (st->failed++ == 0) std::fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
    return;
  }
  st->delivered++;
  st->latency_ms[index] =
      std::chrono::duration<double, std::milli>(Clock::now() - st->sent[index]).count();
}

rd_kafka_conf_t* MakeConf(const char* bootstrap, int argc, char** argv, int first_extra) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
  for (int i = first_extra; i < argc; ++i) {
    std::string kv = argv[i];
    size_t eq = kv.find('=');
    if (eq == std::string::npos ||
        rd_kafka_conf_set(conf, kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), err,
                          sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "bad property %s: %s\n", argv[i], err);
      std::exit(2);
    }
  }
  return conf;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

int Produce(int argc, char** argv) {
  const char* topic = argv[3];
  long n = std::atol(argv[4]);
  size_t size = static_cast<size_t>(std::atol(argv[5]));
  int partitions = 0;  // 0: librdkafka's partitioner
  for (int i = 6; i < argc; ++i) {
    if (std::strncmp(argv[i], "partitions=", 11) == 0) {
      partitions = std::atoi(argv[i] + 11);
      argv[i] = argv[argc - 1];
      --argc;
      break;
    }
  }
  ProduceState st;
  st.latency_ms.assign(static_cast<size_t>(n), 0);
  st.sent.resize(static_cast<size_t>(n));
  rd_kafka_conf_t* conf = MakeConf(argv[2], argc, argv, 6);
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_conf_set_opaque(conf, &st);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "%s\n", err);
    return 2;
  }
  std::string payload(size, 'x');
  for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    auto idx = static_cast<size_t>(i);
    st.sent[idx] = Clock::now();
    for (;;) {
      rd_kafka_resp_err_t e = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(payload.data(), payload.size()),
          RD_KAFKA_V_PARTITION(partitions > 0 ? static_cast<int32_t>(i % partitions)
                                              : RD_KAFKA_PARTITION_UA),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(i))), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk, 10);
        continue;
      }
      if (e) {
        std::fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
        return 1;
      }
      break;
    }
    if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 300000);
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  rd_kafka_destroy(rk);
  if (st.failed > 0 || st.delivered != n) {
    std::fprintf(stderr, "%ld failed, %ld of %ld delivered\n", st.failed, st.delivered, n);
    return 1;
  }
  std::printf("msgs_per_s=%.0f mb_per_s=%.1f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f\n",
              static_cast<double>(n) / secs,
              static_cast<double>(n) * static_cast<double>(size) / secs / 1e6,
              Percentile(st.latency_ms, 0.50), Percentile(st.latency_ms, 0.95),
              Percentile(st.latency_ms, 0.99));
  return 0;
}

int Consume(int argc, char** argv) {
  const char* topic = argv[3];
  long n = std::atol(argv[4]);
  int partitions = std::atoi(argv[5]);
  long passes = 1;  // passes=N: read the partitions N times from the beginning
  for (int i = 6; i < argc; ++i) {
    if (std::strncmp(argv[i], "passes=", 7) == 0) {
      passes = std::max(1L, std::atol(argv[i] + 7));
      argv[i] = argv[argc - 1];
      --argc;
      break;
    }
  }
  rd_kafka_conf_t* conf = MakeConf(argv[2], argc, argv, 6);
  char err[512];
  rd_kafka_conf_set(conf, "group.id", "weir-bench", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "%s\n", err);
    return 2;
  }
  rd_kafka_poll_set_consumer(rk);
  auto assign_from_beginning = [&] {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
  };
  assign_from_beginning();
  const long total = n * passes;
  long got = 0;
  double bytes = 0;
  auto t0 = Clock::now();
  auto deadline = t0 + std::chrono::minutes(2);
  while (got < total && Clock::now() < deadline) {
    if (got > 0 && got % n == 0 && got < total) {
      rd_kafka_assign(rk, nullptr);
      assign_from_beginning();
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (!m->err) {
      if (got == 0) t0 = Clock::now();
      got++;
      bytes += static_cast<double>(m->len);
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      std::fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (got < total) {
    std::fprintf(stderr, "consumed %ld of %ld\n", got, total);
    return 1;
  }
  // From the first record to the last: got - 1 intervals.
  double intervals = static_cast<double>(got > 1 ? got - 1 : 1);
  std::printf("msgs_per_s=%.0f mb_per_s=%.1f\n", intervals / secs,
              bytes * intervals / static_cast<double>(got) / secs / 1e6);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6 || (std::strcmp(argv[1], "produce") != 0 && std::strcmp(argv[1], "consume") != 0)) {
    std::fprintf(
        stderr,
        "usage: weir-bench-rdkafka produce BOOTSTRAP TOPIC MESSAGES SIZE [k=v ...]\n"
        "       weir-bench-rdkafka consume BOOTSTRAP TOPIC MESSAGES PARTITIONS [k=v ...]\n");
    return 2;
  }
  return std::strcmp(argv[1], "produce") == 0 ? Produce(argc, argv) : Consume(argc, argv);
}
