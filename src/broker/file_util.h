// broker/file_util.h — the broker's small durable-file and byte-order
// helpers, shared by the partition logs, the topic metadata and the offsets
// log.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "weir/status.h"

namespace weir::broker {

// The suffix of the temporary file WriteFileAtomically() writes first.
inline constexpr std::string_view kTempFileSuffix = ".tmp";

// fsync()s |dir| itself, so that a rename or a new file in it is durable.
Status SyncDirectory(const std::filesystem::path& dir);

// Replaces |path| with |content| so that a crash leaves either the old or
// the new content: writes path + ".tmp", fsyncs it, renames it over |path|
// and fsyncs the folder. On failure the temporary file is removed and |path|
// is unchanged. Errors name the file and the failing step.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view content);

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
