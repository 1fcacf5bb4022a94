// broker/clock.h — the broker's notion of wall-clock time, replaceable in tests.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/wall_clock.h"

namespace weir::broker {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override { return WallClockMs(); }
  static const SystemClock& Instance() {
    static const SystemClock clock;
    return clock;
  }
};

// A clock tests move by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  void Advance(int64_t ms) { now_ += ms; }
  void Set(int64_t ms) { now_ = ms; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace weir::broker
