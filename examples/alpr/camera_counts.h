// examples/alpr/camera_counts.h — plates per camera per minute, the ALPR
// setup seed's Kafka Streams job (plates.groupBy(camera).windowedBy(1 min)
// .count() → alpr.analytics.camera-counts), as a weir consumer group.
//
// Tumbling windows on capture time. A camera's stream time is the latest
// capture time read for it; a window of the camera is final once its stream
// time passes the window's end plus the grace period, and is then published
// once, as a CameraCount event keyed by camera. Events for a window already
// published are late: dropped and counted, as Kafka Streams drops records
// after the grace period. Stream time is kept per camera (the key), not per
// partition as Kafka Streams does, so that the windows stay right when the
// camera's events move to another topic or partition count (weir migrate
// alpr.plates.detected → alpr.events.plates): per-key order holds across
// the move, partition membership does not. The cost: a camera that stops
// sending leaves its last window open until it sends again.
//
// A final window is written, in the same transaction that removes its
// events, to an outbox table; a thread of the counter publishes the outbox
// and marks each window once the Publisher confirms it. The consumer's
// handler therefore never waits for Kafka, and a window is never lost: one
// not confirmed before a crash is published again after the restart (its
// count_id makes the copy a duplicate).
//
// State lives in a local SQLite file (the role of Kafka Streams' state
// store): each event is recorded by event_id (a redelivered event counts
// once), windows are emitted from it, and a restart resumes where the
// committed offsets left off. The count_id "<camera>/<window start>" makes
// a window re-emitted after a crash a duplicate the Publisher drops. The
// state is not shared: run one instance of the group (a second instance
// would count its partitions in its own file, which is fine, but a
// camera whose partition moves between instances restarts its open
// windows).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "plate_store.h"
#include "weir/status.h"

namespace weir::publish {
class Publisher;
}

namespace alpr {

class SqliteDb;

inline constexpr const char* kCameraCountEvent = "CameraCount";

struct CameraCountsOptions {
  std::string state_path;  // the SQLite state file
  int64_t window_ms = 60'000;
  int64_t grace_ms = 5'000;
};

struct CameraWindow {
  std::string camera_id;
  int64_t window_start_ms = 0;
  int64_t plates = 0;           // plate events in the window
  int64_t distinct_plates = 0;  // distinct normalized plates
};

struct CameraCountsStats {
  uint64_t events = 0;            // counted (first delivery of each event)
  uint64_t redelivered = 0;       // seen before, not counted again
  uint64_t late = 0;              // for a window already published
  uint64_t windows_emitted = 0;   // published and confirmed by this instance
  uint64_t publish_failures = 0;  // publish attempts that failed (retried)
};

class CameraCounter {
 public:
  // |publisher| must declare CameraCount and outlive the counter.
  static weir::Result<std::unique_ptr<CameraCounter>> Open(CameraCountsOptions options,
                                                           weir::publish::Publisher* publisher);
  // Stops the outbox thread after giving it up to |deadline| to publish
  // the final windows. Idempotent; the destructor calls it.
  void Stop(std::chrono::milliseconds deadline);
  ~CameraCounter();

  // One plate event. Unavailable when a window could not be published (the
  // event is recorded; a retry publishes it).
  weir::Status Handle(const PlateRow& row);

  // Windows final but not yet confirmed published.
  int64_t Unpublished() const;
  // Every final window (from the state file), oldest first.
  weir::Result<std::vector<CameraWindow>> Emitted();
  // Events in windows not yet final.
  weir::Result<int64_t> OpenEvents();
  CameraCountsStats Stats() const;

 private:
  CameraCounter() = default;
  void RunEmitter();
  weir::Status Record(const PlateRow& row);
  weir::Status EmitClosed(const std::string& camera, int64_t final_end_ms);

  CameraCountsOptions options_;
  weir::publish::Publisher* publisher_ = nullptr;
  mutable std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
  std::map<std::string, int64_t> stream_time_;   // per camera
  std::map<std::string, int64_t> checked_upto_;  // per camera: the last window end checked
  CameraCountsStats stats_;
  // The outbox (guarded by mu_).
  std::condition_variable cv_;
  int64_t unpublished_ = 0;
  int64_t in_flight_ = 0;
  bool failed_round_ = false;
  bool stopping_ = false;
  std::vector<std::pair<std::string, int64_t>> confirmed_;
  std::thread emitter_;
};

}  // namespace alpr
