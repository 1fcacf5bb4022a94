// weir/broker/broker.h — weir's embedded broker: a durable, single-node
// Kafka-protocol broker.
//
// A Broker listens on a TCP address and speaks the Kafka wire protocol
// (non-flexible versions, see docs/design/embedded-broker.md), so weir, kcat,
// librdkafka-based and kafka-python clients use it unchanged. It stores each
// partition as segment files under |data_dir| and survives kill -9 of its
// process without losing an acknowledged record (and, with fsync, power loss).
//
// Lifetime: Start() returns a running broker; Stop() (or the destructor)
// closes the listener and every connection, releases parked requests and
// closes the logs cleanly. Any thread may call any method.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "weir/status.h"

namespace weir::observe {
class Registry;
}

namespace weir::broker {

class Clock;

struct BrokerOptions {
  // Where topics, logs, group offsets and metadata live. Created when absent.
  std::filesystem::path data_dir;
  // "host:port" to listen on; port 0 picks a free port. Loopback by default:
  // the broker has no authentication.
  std::string listen = "127.0.0.1:9092";
  // Host name given to clients in Metadata; empty: the listen host (or
  // 127.0.0.1 when listening on 0.0.0.0).
  std::string advertised_host;
  // fdatasync() every append and offset commit before acknowledging it:
  // survives power loss, at the cost of a disk flush per request and
  // partition (see BENCHMARKS.md). Off: survives kill -9 of the broker.
  bool fsync = false;
  // auto.create.topics.enable: off, so that a misspelt topic is an error.
  bool auto_create_topics = false;
  int32_t default_partitions = 1;                     // num.partitions
  int64_t log_retention_ms = 7LL * 24 * 3600 * 1000;  // log.retention.ms
  int64_t log_segment_bytes = 1LL << 30;              // log.segment.bytes
  int32_t message_max_bytes = 1048588;                // message.max.bytes
  // Largest request frame accepted (socket.request.max.bytes).
  int32_t max_request_bytes = 100 * 1024 * 1024;
  // How often retention runs (log.retention.check.interval.ms).
  int64_t retention_check_interval_ms = 5 * 60 * 1000;
  // group.initial.rebalance.delay.ms (Kafka: 3000).
  int64_t group_initial_rebalance_delay_ms = 0;
  // Tests may replace the wall clock (retention, timestamps, sessions).
  const Clock* clock = nullptr;
  // Where the broker reports its metrics (docs/metrics.md, "Broker"):
  // requests by API, request and response bytes, connections, and per
  // partition the log size and offsets. Null: none. Must outlive the broker.
  observe::Registry* metrics = nullptr;
};

class Broker {
 public:
  // Locks the data folder (DATA/lock), opens it (running recovery), binds the
  // listener, records its address in DATA/broker.addr and starts serving.
  // kAlreadyExists when another process's broker holds the folder; other
  // errors name the folder or address that failed.
  static Result<std::unique_ptr<Broker>> Start(BrokerOptions options);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // "host:port" for bootstrap.servers.
  std::string bootstrap_servers() const;
  uint16_t port() const;
  const std::filesystem::path& data_dir() const;

  // Runs retention on every partition now; returns the segments deleted.
  int RunRetention();
  // Moves group session/rebalance timers (called every 100 ms internally).
  void TickGroups();

  // Stops serving; idempotent.
  void Stop();

 private:
  struct Impl;
  explicit Broker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The bootstrap address of the broker that another process runs on
// |data_dir| (from DATA/broker.addr). Waits up to |wait_ms| for a broker that
// is still starting. kNotFound when no broker holds the folder.
Result<std::string> RunningBrokerAddress(const std::filesystem::path& data_dir,
                                         int wait_ms = 10000);

}  // namespace weir::broker
