// broker/crc32c.cc — CRC-32C (Castagnoli), as record batch v2 uses it.
//
// Debian bookworm ships no C library for CRC-32C, so this is hand-written:
// the SSE4.2 crc32 instruction when the CPU has it (eight bytes per
// instruction), otherwise a byte-at-a-time table over the reflected
// polynomial 0x82F63B78. Both compute the standard CRC (initial value
// 0xFFFFFFFF, final xor 0xFFFFFFFF): Crc32c("123456789") == 0xE3069283.

#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include "broker/record_batch.h"

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define WEIR_CRC32C_HAVE_SSE42 1
#endif

namespace weir::broker {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // reflected Castagnoli

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1) != 0 ? (crc >> 1) ^ kPolynomial : crc >> 1;
    }
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

// |crc| is the running (pre-inverted) value.
uint32_t SoftwareUpdate(uint32_t crc, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    crc = kTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  }
  return crc;
}

#ifdef WEIR_CRC32C_HAVE_SSE42
__attribute__((target("sse4.2"))) uint32_t HardwareUpdate(uint32_t crc, const uint8_t* p,
                                                          size_t n) {
#if defined(__x86_64__)
  uint64_t crc64 = crc;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));  // little-endian, as the instruction expects
    crc64 = _mm_crc32_u64(crc64, word);
    p += 8;
    n -= 8;
  }
  crc = static_cast<uint32_t>(crc64);
#endif
  while (n > 0) {
    crc = _mm_crc32_u8(crc, *p);
    ++p;
    --n;
  }
  return crc;
}

bool HaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

}  // namespace

uint32_t Crc32cPortable(std::span<const uint8_t> bytes) {
  return SoftwareUpdate(0xFFFFFFFFu, bytes.data(), bytes.size()) ^ 0xFFFFFFFFu;
}

uint32_t Crc32c(std::span<const uint8_t> bytes) {
  uint32_t crc = 0xFFFFFFFFu;
#ifdef WEIR_CRC32C_HAVE_SSE42
  if (HaveSse42()) return HardwareUpdate(crc, bytes.data(), bytes.size()) ^ 0xFFFFFFFFu;
#endif
  return SoftwareUpdate(crc, bytes.data(), bytes.size()) ^ 0xFFFFFFFFu;
}

}  // namespace weir::broker
