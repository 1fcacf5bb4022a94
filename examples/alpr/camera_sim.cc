#include "camera_sim.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/wall_clock.h"

namespace alpr {
namespace {

constexpr const char* kTypes[] = {"car", "car", "car", "truck", "bus", "motorcycle", "van"};
constexpr const char* kColors[] = {"white", "black", "silver", "grey", "red", "blue", "green"};
struct MakeModel {
  const char* make;
  const char* model;
};
constexpr MakeModel kMakes[] = {{"Toyota", "Camry"},    {"Toyota", "Corolla"}, {"Ford", "F-150"},
                                {"Honda", "Civic"},     {"Tesla", "Model 3"},  {"Volvo", "XC90"},
                                {"Chevrolet", "Tahoe"}, {"Nissan", "Altima"}};

// OCR confusions: what a character is misread as.
char Confuse(char c, std::mt19937_64& rng) {
  switch (c) {
    case '0':
      return 'O';
    case 'O':
      return '0';
    case '1':
      return 'I';
    case 'I':
      return '1';
    case '8':
      return 'B';
    case 'B':
      return '8';
    case '5':
      return 'S';
    case 'S':
      return '5';
    case '2':
      return 'Z';
    case 'Z':
      return '2';
    default:
      break;
  }
  if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
    return static_cast<char>('0' + (c - '0' + 1 + static_cast<int>(rng() % 9)) % 10);
  }
  return static_cast<char>('A' + (c - 'A' + 1 + static_cast<int>(rng() % 25)) % 26);
}

}  // namespace

std::string CameraName(int index) { return fmt::format("cam-{:02}", index); }

std::string NormalizePlate(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == ' ' || c == '-') continue;
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

CameraSimulator::CameraSimulator(CameraSimOptions options)
    : options_(std::move(options)), rng_(options_.seed) {
  options_.cameras = std::max(1, options_.cameras);
  options_.cameras_per_host = std::max(1, options_.cameras_per_host);
  options_.fleet_size = std::max(options_.fleet_size, options_.watchlist_size + 1);
  if (options_.start_ms == 0) options_.start_ms = weir::WallClockMs();
  fleet_.reserve(static_cast<size_t>(options_.fleet_size));
  for (int i = 0; i < options_.fleet_size; ++i) fleet_.push_back(MakeVehicle());
  for (int i = 0; i < options_.watchlist_size; ++i) {
    watchlist_.push_back(fleet_[static_cast<size_t>(i)].plate);
  }
  frame_of_camera_.assign(static_cast<size_t>(options_.cameras), 0);
  tracks_of_camera_.assign(static_cast<size_t>(options_.cameras), 0);
  for (int c = 0; c < options_.cameras; ++c) next_.push({options_.start_ms + Gap(), c});
}

int64_t CameraSimulator::Gap() {
  std::exponential_distribution<double> gap(1.0 / static_cast<double>(options_.mean_gap_ms));
  return std::max<int64_t>(1, static_cast<int64_t>(gap(rng_)));
}

Vehicle CameraSimulator::MakeVehicle() {
  Vehicle v;
  for (int i = 0; i < 3; ++i) v.plate += static_cast<char>('A' + rng_() % 26);
  v.plate += ' ';
  for (int i = 0; i < 4; ++i) v.plate += static_cast<char>('0' + rng_() % 10);
  v.type = kTypes[rng_() % std::size(kTypes)];
  v.color = kColors[rng_() % std::size(kColors)];
  const MakeModel& mm = kMakes[rng_() % std::size(kMakes)];
  v.make = mm.make;
  v.model = mm.model;
  return v;
}

std::string CameraSimulator::OcrNoise(const std::string& plate, int errors) {
  std::string out = plate;
  for (int e = 0; e < errors; ++e) {
    size_t i = rng_() % out.size();
    if (out[i] == ' ') i = (i + 1) % out.size();
    out[i] = Confuse(out[i], rng_);
  }
  return out;
}

Pass CameraSimulator::Next() {
  Pending p = next_.top();
  next_.pop();
  next_.push({p.at_ms + Gap(), p.camera});
  const auto cam = static_cast<size_t>(p.camera);
  std::uniform_real_distribution<double> unit(0, 1);

  Pass pass;
  pass.camera_id = CameraName(p.camera + 1);
  pass.site = options_.site;
  pass.host = fmt::format("edge-{:02}", p.camera / options_.cameras_per_host + 1);
  pass.track_id = fmt::format("{}-t{}", pass.camera_id, ++tracks_of_camera_[cam]);
  size_t which;
  if (!watchlist_.empty() && unit(rng_) < options_.watchlist_share) {
    which = rng_() % watchlist_.size();
    pass.watchlisted = true;
  } else {
    which = static_cast<size_t>(options_.watchlist_size) +
            rng_() % (fleet_.size() - static_cast<size_t>(options_.watchlist_size));
  }
  pass.vehicle = fleet_[which];
  pass.direction = rng_() % 2 == 0 ? "inbound" : "outbound";
  pass.speed_kmh = 20 + 60 * unit(rng_);
  pass.detection_confidence = 0.80 + 0.19 * unit(rng_);
  const float x1 = static_cast<float>(200 + rng_() % 1200),
              y1 = static_cast<float>(300 + rng_() % 400);
  pass.bbox[0] = x1;
  pass.bbox[1] = y1;
  pass.bbox[2] = x1 + static_cast<float>(250 + rng_() % 250);
  pass.bbox[3] = y1 + static_cast<float>(150 + rng_() % 200);

  // The tracker follows the vehicle for 5..20 frames.
  const int frames = 5 + static_cast<int>(rng_() % 16);
  const double frame_ms = 1000.0 / options_.fps;
  int64_t& frame = frame_of_camera_[cam];
  frame += 1 + static_cast<int64_t>(rng_() % 30);
  pass.first_seen_ms = p.at_ms;
  pass.last_seen_ms = p.at_ms + static_cast<int64_t>(frames * frame_ms);
  const bool hidden = unit(rng_) < options_.plate_hidden_share;
  // A plate is read on some of the frames: more often on a clean crop.
  const double base_quality = 0.4 + 0.6 * unit(rng_);
  for (int f = 0; f < frames && !hidden; ++f) {
    if (unit(rng_) > 0.35) continue;
    OcrRead r;
    r.frame_number = frame + f;
    r.captured_ms = p.at_ms + static_cast<int64_t>(f * frame_ms);
    r.quality = std::clamp(base_quality + 0.1 * (unit(rng_) - 0.5), 0.0, 1.0);
    const double noise = unit(rng_);
    const int errors = noise < 0.70 ? 0 : noise < 0.92 ? 1 : 2;
    r.text = OcrNoise(pass.vehicle.plate, errors);
    // Confidence follows crop quality and drops with each misread character.
    r.confidence =
        std::clamp(0.45 + 0.5 * r.quality - 0.12 * errors + 0.08 * (unit(rng_) - 0.5), 0.05, 0.99);
    pass.reads.push_back(std::move(r));
  }
  frame += frames;
  return pass;
}

}  // namespace alpr
