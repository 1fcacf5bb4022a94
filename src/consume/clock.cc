#include <algorithm>

#include "weir/consume/runtime.h"

namespace weir::consume {
namespace {

class SteadyClock : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) const override {
    cv.wait_until(lock, deadline);
  }
};

}  // namespace

const Clock& Clock::Steady() {
  static const SteadyClock clock;
  return clock;
}

Clock::TimePoint ManualClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

void ManualClock::WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                            TimePoint deadline) const {
  // Advance() cannot reach the waiter's condition variable, so wake up often
  // in real time and let the caller look at Now() again.
  if (Now() >= deadline) return;
  cv.wait_for(lock, std::chrono::milliseconds(2));
}

void ManualClock::Advance(std::chrono::nanoseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

}  // namespace weir::consume
