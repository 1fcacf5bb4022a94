// examples/alpr/plate_events.h — synthetic ALPR plate reads, shaped like the
// events the ALPR setup seed's event processor builds.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace alpr {

struct PlateRead {
  std::string event_id;
  std::string camera_id;
  std::string plate_text;
  double confidence = 0;
  std::string json;  // the whole event
};

// Deterministic for a given seed.
class PlateEventGenerator {
 public:
  PlateEventGenerator(uint64_t seed, int cameras, std::string site, std::string host);
  PlateRead Next();

 private:
  std::mt19937_64 rng_;
  int cameras_;
  std::string site_;
  std::string host_;
  uint64_t seq_ = 0;
  int64_t frame_ = 0;
};

}  // namespace alpr
