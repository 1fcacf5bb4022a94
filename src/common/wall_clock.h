// common/wall_clock.h — the wall clock in milliseconds since the Unix epoch,
// for record timestamps, TTLs that outlive the process, and ages.
#pragma once

#include <chrono>
#include <cstdint>

namespace weir {

inline int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace weir
