#include "event_processor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/uuid.h"
#include "weir/consume/dead_letter.h"

namespace alpr {

double PlateSimilarity(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  if (n == 0 && m == 0) return 1.0;
  if (a == b) return 1.0;
  // One row of the edit-distance table; plates fit the stack.
  size_t small[32];
  std::vector<size_t> large;
  size_t* row = small;
  if (m + 1 > std::size(small)) {
    large.resize(m + 1);
    row = large.data();
  }
  for (size_t j = 0; j <= m; ++j) row[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diag = up;
    }
  }
  return 1.0 - static_cast<double>(row[m]) / static_cast<double>(std::max(n, m));
}

bool SimilarAtLeast(std::string_view a, std::string_view b, double threshold) {
  // similarity >= threshold  <=>  distance <= k, k = floor((1 - threshold) * longer).
  const size_t longer = std::max(a.size(), b.size());
  if (longer == 0) return true;
  const auto k =
      static_cast<size_t>(std::floor((1.0 - threshold) * static_cast<double>(longer) + 1e-9));
  const size_t diff = longer - std::min(a.size(), b.size());
  if (diff > k) return false;
  if (k == 0) return a == b;
  if (k == 1) {
    // At most one substitution, insertion or deletion: skip the common
    // prefix and suffix and see what is left.
    size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
    size_t ea = a.size(), eb = b.size();
    while (ea > i && eb > i && a[ea - 1] == b[eb - 1]) {
      --ea;
      --eb;
    }
    return ea - i <= 1 && eb - i <= 1;
  }
  return PlateSimilarity(a, b) >= threshold;
}

EventProcessor::EventProcessor(ProcessorOptions options)
    : options_(std::move(options)), id_rng_(options_.id_seed) {}

std::string EventProcessor::NewId() {
  if (options_.id_seed == 0) return weir::NewUuidV4();
  const uint64_t hi = (id_rng_() & ~0xf000ULL) | 0x4000ULL;        // version 4
  const uint64_t lo = (id_rng_() & ~(3ULL << 62)) | (2ULL << 62);  // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xffff,
                     hi & 0xffff, lo >> 48, lo & 0xffffffffffffULL);
}

std::vector<EdgeEvent> EventProcessor::Process(const Pass& pass) {
  ++stats_.passes;
  std::vector<EdgeEvent> out;
  std::deque<Recent>& recent = recent_[pass.camera_id];
  bool any_confident = false;
  for (const OcrRead& r : pass.reads) {
    ++stats_.reads;
    if (r.confidence < options_.min_confidence) {
      ++stats_.low_confidence;
      continue;
    }
    any_confident = true;
    const std::string plate = NormalizePlate(r.text);
    if (plate.size() < 2 || plate.size() > 10) {
      ++stats_.invalid_text;
      continue;
    }
    while (!recent.empty() && recent.front().at_ms < r.captured_ms - options_.window_ms) {
      recent.pop_front();
    }
    const bool near_duplicate = std::any_of(recent.begin(), recent.end(), [&](const Recent& x) {
      return SimilarAtLeast(x.plate, plate, options_.similarity_threshold);
    });
    if (near_duplicate) {
      ++stats_.near_duplicates;
      continue;
    }
    recent.push_back({r.captured_ms, plate});
    EdgeEvent e;
    e.type = "PlateEvent";
    e.event_id = NewId();
    e.camera_id = pass.camera_id;
    e.normalized_plate = plate;
    e.captured_ms = r.captured_ms;
    e.watchlisted = pass.watchlisted && plate == NormalizePlate(pass.vehicle.plate);
    nlohmann::ordered_json j = {
        {"event_id", e.event_id},
        {"captured_at", weir::consume::FormatDlqTimestamp(r.captured_ms)},
        {"camera_id", pass.camera_id},
        {"track_id", pass.track_id},
        {"frame_number", r.frame_number},
        {"plate",
         {{"text", r.text},
          {"normalized_text", plate},
          {"confidence", r.confidence},
          {"region", options_.region}}},
        {"vehicle",
         {{"type", pass.vehicle.type},
          {"color", pass.vehicle.color},
          {"make", pass.vehicle.make},
          {"model", pass.vehicle.model}}},
        {"plate_image_path",
         fmt::format("crops/{}/{}_{}.jpg",
                     weir::consume::FormatDlqTimestamp(r.captured_ms).substr(0, 10), pass.camera_id,
                     pass.track_id)},
        {"quality_score", r.quality},
        {"direction", pass.direction},
        {"latency_ms", 0},
        {"node", {{"site", pass.site}, {"host", pass.host}}},
    };
    e.json = j.dump();
    ++stats_.plate_events;
    out.push_back(std::move(e));
  }
  if (!any_confident) {
    EdgeEvent e;
    e.type = "VehicleEvent";
    e.event_id = NewId();
    e.camera_id = pass.camera_id;
    e.captured_ms = pass.first_seen_ms;
    nlohmann::ordered_json j = {
        {"event_id", e.event_id},
        {"captured_at", weir::consume::FormatDlqTimestamp(pass.first_seen_ms)},
        {"camera_id", pass.camera_id},
        {"track_id", pass.track_id},
        {"vehicle",
         {{"type", pass.vehicle.type},
          {"color", pass.vehicle.color},
          {"bbox",
           {{"x1", pass.bbox[0]},
            {"y1", pass.bbox[1]},
            {"x2", pass.bbox[2]},
            {"y2", pass.bbox[3]}}},
          {"confidence", pass.detection_confidence}}},
        {"tracking",
         {{"direction", pass.direction},
          {"speed_kmh", pass.speed_kmh},
          {"dwell_time_seconds",
           static_cast<double>(pass.last_seen_ms - pass.first_seen_ms) / 1000.0},
          {"first_seen_at", weir::consume::FormatDlqTimestamp(pass.first_seen_ms)},
          {"last_seen_at", weir::consume::FormatDlqTimestamp(pass.last_seen_ms)}}},
        {"latency_ms", 0},
        {"node", {{"site", pass.site}, {"host", pass.host}}},
    };
    e.json = j.dump();
    ++stats_.vehicle_events;
    out.push_back(std::move(e));
  }
  return out;
}

std::string EventProcessor::Stamp(const EdgeEvent& e, int64_t now_ms) {
  if (e.type != "PlateEvent") return e.json;
  // The JSON ends with '}'; published_at is the schema's last field.
  std::string out = e.json;
  out.pop_back();
  out += fmt::format(R"(,"published_at":"{}"}})", weir::consume::FormatDlqTimestamp(now_ms));
  return out;
}

}  // namespace alpr
