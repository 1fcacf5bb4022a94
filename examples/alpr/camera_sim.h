// examples/alpr/camera_sim.h — a seeded simulation of edge cameras watching
// traffic: vehicles pass each camera, a tracker follows each one over a few
// frames, and the OCR reads its plate on some of them — with confidence,
// character confusions (0/O, 1/I, 8/B, 5/S, 2/Z) and occlusions — and the
// classifier gives its type, colour, make and model.
//
// Camera time is simulated: each camera sees a vehicle every
// `mean_gap_ms` on average (exponential gaps), and passes are returned in
// capture-time order across cameras. It is decoupled from wall time, so a
// run paced at thousands of events per second covers hours of traffic;
// everything downstream (the processor's 300 s window, the per-minute
// counts) works on capture time.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <vector>

namespace alpr {

struct Vehicle {
  std::string plate;  // the true plate, "ABC 1234"
  std::string type;   // car, truck, bus, motorcycle, van
  std::string color;
  std::string make;
  std::string model;
};

// One OCR read of a plate on one frame.
struct OcrRead {
  int64_t frame_number = 0;
  int64_t captured_ms = 0;  // capture time, ms since the epoch
  std::string text;         // as read (may differ from the true plate)
  double confidence = 0;
  double quality = 0;  // crop quality 0..1
};

// One vehicle passing one camera: the tracker's view of it.
struct Pass {
  std::string camera_id;
  std::string site;
  std::string host;
  std::string track_id;
  Vehicle vehicle;
  bool watchlisted = false;    // the vehicle is on the simulation's watchlist
  std::vector<OcrRead> reads;  // empty when the plate was never visible
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  std::string direction;  // inbound, outbound
  double speed_kmh = 0;
  float bbox[4] = {0, 0, 0, 0};  // x1, y1, x2, y2 in pixels (1920x1080)
  double detection_confidence = 0;
};

struct CameraSimOptions {
  uint64_t seed = 1;
  int cameras = 4;
  int cameras_per_host = 4;         // cameras 1..4 on edge-01, 5..8 on edge-02, ...
  std::string site = "DC1";         // [setup] EventProcessorService(site_id="DC1")
  int64_t start_ms = 0;             // capture time of the first pass; 0 = now
  int64_t mean_gap_ms = 2000;       // mean time between vehicles at one camera
  int fleet_size = 20000;           // distinct vehicles on the roads
  int watchlist_size = 8;           // of them, on the watchlist
  double watchlist_share = 0.01;    // share of passes that are watchlisted vehicles
  double plate_hidden_share = 0.1;  // passes whose plate is never visible
  double fps = 15;                  // camera frame rate
};

class CameraSimulator {
 public:
  explicit CameraSimulator(CameraSimOptions options);

  // The next pass, in capture-time order across all cameras.
  Pass Next();

  // The plates of the watchlisted vehicles ("ABC 1234").
  const std::vector<std::string>& watchlist() const { return watchlist_; }
  const CameraSimOptions& options() const { return options_; }

 private:
  struct Pending {
    int64_t at_ms;
    int camera;
    bool operator>(const Pending& o) const {
      return at_ms != o.at_ms ? at_ms > o.at_ms : camera > o.camera;
    }
  };
  Vehicle MakeVehicle();
  std::string OcrNoise(const std::string& plate, int errors);
  int64_t Gap();

  CameraSimOptions options_;
  std::mt19937_64 rng_;
  std::vector<Vehicle> fleet_;
  std::vector<std::string> watchlist_;
  std::vector<int64_t> frame_of_camera_;
  std::vector<uint64_t> tracks_of_camera_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> next_;
};

// "cam-01", ...
std::string CameraName(int index);

// Upper case without spaces and dashes: the seed's normalized_text.
std::string NormalizePlate(std::string_view text);

}  // namespace alpr
