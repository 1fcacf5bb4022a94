// examples/alpr/alpr_system.h — the whole ALPR system of the two ALPR seeds
// on weir, in one process or split by role:
//
//   source            camera simulator → edge event processor → Publisher:
//                     PlateEvent → alpr.events.plates, VehicleEvent →
//                     alpr.events.vehicles (keyed by camera_id), host
//                     MetricEvents → alpr.metrics (keyed by host_id)
//   storage           alpr-storage-service: plate events → PlateStore
//                     (SQLite or PostgreSQL)
//   alerts            alpr-alert-engine: watchlist matches → alert store +
//                     notifier; persistent notification failure → alpr.dlq
//   search            alpr-search-indexer: plate events → SearchIndex
//                     (SQLite FTS5 or OpenSearch bulk API)
//   counts            alpr-camera-counts: plates per camera per minute →
//                     alpr.analytics.camera-counts
//   dlq-monitor       alpr-dlq-monitor: dlq_messages_total, oldest age
//                     (plan §5.1: port 8005)
//   metrics-consumer  alpr-metrics-consumer: alpr.metrics as gauges
//                     (plan §5.2: port 8006)
// Retries, timeouts, dead letters, commits and metrics are weir's
// (weir.yaml's consumer_groups); this file holds the business logic's
// wiring and the numbers the live summary shows.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "alert_engine.h"
#include "camera_counts.h"
#include "camera_sim.h"
#include "event_processor.h"
#include "plate_store.h"
#include "search_index.h"
#include "weir/consume/runtime.h"
#include "weir/kafka/client_config.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace alpr {

inline constexpr const char* kStorageGroup = "alpr-storage-service";
inline constexpr const char* kAlertGroup = "alpr-alert-engine";
inline constexpr const char* kSearchGroup = "alpr-search-indexer";
inline constexpr const char* kCountsGroup = "alpr-camera-counts";
inline constexpr const char* kDlqGroup = "alpr-dlq-monitor";
inline constexpr const char* kMetricsGroup = "alpr-metrics-consumer";
inline constexpr const char* kPlatesTopic = "alpr.events.plates";

// The roles, in start order (sinks before the source).
const std::vector<std::string>& AllRoles();

struct AlprOptions {
  std::set<std::string> roles;  // empty = all
  std::string data_dir;         // stores and state; created
  std::string store;      // plate store: path or postgresql:// URL; default DATA/plates.sqlite
  std::string search;     // search index: path or http(s):// URL; default DATA/search.sqlite
  std::string notify;     // alert notifier: URL or file; default DATA/notifications.jsonl
  std::string watchlist;  // file; empty = the simulator's, written to DATA/watchlist.txt
  std::string dlq_listen = "127.0.0.1:8005";               // plan §5.1
  std::string metrics_consumer_listen = "127.0.0.1:8006";  // plan §5.2
  std::string metrics_listen;  // weir's own /metrics; empty = weir.yaml metrics.listen; "off"
  std::string spool_dir;       // the Publisher's spool; default DATA/spool

  CameraSimOptions sim;
  ProcessorOptions processor;
  double rate = 200;           // published events per second; 0 = as fast as possible
  int64_t max_events = 0;      // stop the source after this many events; 0 = no limit
  double resend_share = 0.01;  // events the edge sends twice (same event_id)
  int inject_poison = 0;       // undecodable records produced to alpr.events.plates
  std::chrono::milliseconds host_metrics_interval{5000};
  CameraCountsOptions counts;             // state_path default DATA/camera-counts.sqlite
  weir::consume::RuntimeOptions runtime;  // applied to every group
};

// What the source has published, as the checks need it.
struct SourceStats {
  uint64_t plate_events = 0;  // accepted (delivered or spooled), distinct ids
  uint64_t vehicle_events = 0;
  uint64_t resent = 0;              // second sends of an event (the Publisher's dedup drops them)
  uint64_t duplicates_dropped = 0;  // kDuplicate outcomes
  uint64_t failed = 0;              // refused or failed by the Publisher
  uint64_t watchlist_plates = 0;    // accepted plate events whose plate is on the watchlist
  uint64_t poison = 0;              // undecodable records produced
  std::vector<std::pair<int32_t, int64_t>> poison_at;  // their partitions and offsets
  uint64_t metric_events = 0;
  ProcessorStats processor;
};

struct GroupView {
  std::string group;
  weir::consume::GroupStats stats;
  std::optional<int64_t> lag;  // end offsets - committed, when known
};

struct Snapshot {
  double uptime_s = 0;
  SourceStats source;
  std::map<std::string, uint64_t> published_by_topic;
  std::vector<GroupView> groups;
  int64_t stored = -1;  // rows in the plate store (-1 unknown)
  int64_t indexed = -1;
  int64_t alerts = -1;  // alerts notified
  int64_t windows_emitted = 0;
  int64_t dlq_total = 0;  // read by the DLQ monitor
  std::map<std::string, int64_t> dlq_by_type;
  uint64_t metric_series = 0;  // gauges held by the metrics consumer
  // End-to-end latency, published_at → stored, ms; over the whole run.
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
  uint64_t latency_samples = 0;
};

class AlprSystem {
 public:
  static weir::Result<std::unique_ptr<AlprSystem>> Create(const weir::Topology& topology,
                                                          weir::kafka::ClientConfig config,
                                                          AlprOptions options);
  ~AlprSystem();

  // Starts the sinks, the monitors and the source.
  weir::Status Start();
  // True once the source has published max_events (or has no source).
  bool SourceDone() const;
  // Stops the source and flushes the Publisher.
  weir::Status StopSource(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // True when every consumer group has finished everything the source
  // published (and the DLQ monitor has read every dead letter).
  bool Drained();
  // Stops everything, sinks last.
  weir::Status Stop(std::chrono::milliseconds deadline = std::chrono::seconds(30));
  // The first error a group stopped with, or OK.
  weir::Status Error() const;

  Snapshot Take();
  // Where metrics are served ("what: http://host:port/metrics").
  std::vector<std::string> Endpoints() const;
  // The business checks at the end of a drained run; empty when all hold.
  std::vector<std::string> Check();

  PlateStore* store();
  SearchIndex* search();
  AlertEngine* alerts();
  CameraCounter* counts();
  const Watchlist& watchlist() const;
  // Every plate event the source had accepted: event_id → camera, plate,
  // capture time.
  struct Published {
    std::string camera_id;
    std::string plate;
    int64_t captured_ms;
  };
  std::map<std::string, Published> PublishedPlates() const;

 private:
  struct Impl;
  explicit AlprSystem(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Renders |s| as the one-screen summary (no trailing newline); rates are
// taken against |prev| when given.
std::string RenderSummary(const Snapshot& s, const Snapshot* prev,
                          const std::vector<std::string>& endpoints, const std::string& title);

}  // namespace alpr
