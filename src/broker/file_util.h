// broker/file_util.h — the broker's byte-order helpers, and (through
// common/file_util.h) the durable-file helpers shared by the partition logs,
// the topic metadata and the offsets log.
#pragma once

#include <cstdint>

#include "common/file_util.h"

namespace weir::broker {

// WriteFileAtomically(), SyncDirectory() and kTempFileSuffix live in namespace
// weir (common/file_util.h); unqualified calls from weir::broker find them.

// Big-endian unsigned integers of |n| bytes (n <= 8), as Kafka and weir's
// on-disk indexes store them.
inline uint64_t LoadBigEndian(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}
inline void StoreBigEndian(uint8_t* p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v & 0xFF);
    v >>= 8;
  }
}

}  // namespace weir::broker
