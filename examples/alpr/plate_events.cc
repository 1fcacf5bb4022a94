#include "plate_events.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

namespace alpr {
namespace {

std::string Iso8601Now() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

}  // namespace

PlateEventGenerator::PlateEventGenerator(uint64_t seed, int cameras, std::string site,
                                         std::string host)
    : rng_(seed), cameras_(cameras), site_(std::move(site)), host_(std::move(host)) {}

PlateRead PlateEventGenerator::Next() {
  static constexpr const char* kTypes[] = {"car", "truck", "bus", "motorcycle", "van"};
  static constexpr const char* kColors[] = {"white", "black", "silver", "red", "blue"};
  static constexpr const char* kMakes[] = {"Toyota", "Ford", "Honda", "Tesla", "Volvo"};
  static constexpr const char* kDirections[] = {"inbound", "outbound"};
  std::uniform_int_distribution<int> letter(0, 25), digit(0, 9), pick(0, 4), cam(1, cameras_);
  std::uniform_real_distribution<double> conf(0.70, 0.99);
  PlateRead r;
  ++seq_;
  frame_ += 1 + pick(rng_);
  r.event_id = fmt::format("{:016x}-{:08x}", rng_(), static_cast<uint32_t>(seq_));
  r.camera_id = fmt::format("cam-{:02}", cam(rng_));
  for (int i = 0; i < 3; ++i) r.plate_text += static_cast<char>('A' + letter(rng_));
  r.plate_text += ' ';
  for (int i = 0; i < 4; ++i) r.plate_text += static_cast<char>('0' + digit(rng_));
  r.confidence = conf(rng_);
  std::string normalized = r.plate_text;
  normalized.erase(std::remove(normalized.begin(), normalized.end(), ' '), normalized.end());
  const std::string now = Iso8601Now();
  nlohmann::ordered_json j = {
      {"event_id", r.event_id},
      {"captured_at", now},
      {"camera_id", r.camera_id},
      {"track_id", fmt::format("t-{}", seq_ % 97)},
      {"frame_number", frame_},
      {"plate",
       {{"text", r.plate_text},
        {"normalized_text", normalized},
        {"confidence", r.confidence},
        {"region", "US-FL"}}},
      {"vehicle",
       {{"type", kTypes[pick(rng_)]},
        {"color", kColors[pick(rng_)]},
        {"make", kMakes[pick(rng_)]},
        {"model", nullptr}}},
      {"quality_score", conf(rng_)},
      {"direction", kDirections[pick(rng_) % 2]},
      {"latency_ms", 20 + pick(rng_) * 7},
      {"node", {{"site", site_}, {"host", host_}}},
      {"published_at", now},
  };
  r.json = j.dump();
  return r;
}

}  // namespace alpr
