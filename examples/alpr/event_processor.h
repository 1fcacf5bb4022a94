// examples/alpr/event_processor.h — the edge event processor of the ALPR
// setup seed (EventProcessorService(min_confidence=0.70,
// dedup_similarity_threshold=0.85, dedup_time_window_seconds=300)): turns a
// camera's OCR reads into plate events and vehicle events.
//
// Rules, per read, in capture order:
//  - a read below min_confidence is dropped;
//  - a read whose normalized text is not 2..10 characters is dropped;
//  - a read similar to a plate this camera published within the window
//    (similarity = 1 - Levenshtein distance / longer length, >= threshold)
//    is a near-duplicate and dropped: the same vehicle read again, or one
//    character misread — for 7-character plates one edit is 0.857;
//  - otherwise it becomes a PlateEvent.
// A pass none of whose reads reaches min_confidence becomes a VehicleEvent
// (a vehicle tracked without a plate). The seed's processor works per edge
// host; the window here is per camera, which is the same for one camera
// per host and avoids suppressing a plate seen by two cameras.
//
// Not thread-safe: one processor per source thread.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "camera_sim.h"

namespace alpr {

struct ProcessorOptions {
  double min_confidence = 0.70;
  double similarity_threshold = 0.85;
  int64_t window_ms = 300'000;
  std::string region = "US-FL";  // [setup] region="US-FL"
  uint64_t id_seed = 0;          // event ids: 0 = random UUIDs, else seeded (reproducible)
};

struct ProcessorStats {
  uint64_t passes = 0;
  uint64_t reads = 0;
  uint64_t low_confidence = 0;
  uint64_t invalid_text = 0;
  uint64_t near_duplicates = 0;
  uint64_t plate_events = 0;
  uint64_t vehicle_events = 0;
};

// An event ready to publish.
struct EdgeEvent {
  std::string type;  // "PlateEvent" or "VehicleEvent"
  std::string event_id;
  std::string camera_id;
  std::string normalized_plate;  // PlateEvent only
  int64_t captured_ms = 0;
  bool watchlisted = false;  // the simulation's truth, for checks
  std::string json;          // without published_at: see Stamp()
};

class EventProcessor {
 public:
  explicit EventProcessor(ProcessorOptions options = {});
  // The events of one pass, in capture order.
  std::vector<EdgeEvent> Process(const Pass& pass);
  const ProcessorStats& stats() const { return stats_; }

  // Adds published_at (now, ISO-8601 with ms) to a PlateEvent's JSON.
  static std::string Stamp(const EdgeEvent& e, int64_t now_ms);

 private:
  std::string NewId();
  struct Recent {
    int64_t at_ms;
    std::string plate;
  };
  ProcessorOptions options_;
  ProcessorStats stats_;
  std::mt19937_64 id_rng_;
  std::unordered_map<std::string, std::deque<Recent>> recent_;  // per camera
};

// 1 - Levenshtein(a, b) / max(|a|, |b|); 1 for two empty strings.
double PlateSimilarity(std::string_view a, std::string_view b);
// PlateSimilarity(a, b) >= threshold, without the full table when the
// threshold allows at most one edit (as 0.85 does for plates up to 10
// characters).
bool SimilarAtLeast(std::string_view a, std::string_view b, double threshold);

}  // namespace alpr
