// schema/avro/wire_util.h — the primitives of Avro's binary encoding and the
// UUID text check, shared by the encoders of the Avro codec.
#pragma once

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

namespace weir::schema::avro_internal {

// Appends |v| as an unsigned LEB128 varint.
inline void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Appends |v| zig-zag encoded (Avro int and long).
inline void PutLong(int64_t v, std::string* out) {
  PutVarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63), out);
}

// Appends the bytes of |bits| little-endian (Avro float and double).
template <typename Bits>
void PutLittleEndian(Bits bits, std::string* out) {
  for (size_t i = 0; i < sizeof(Bits); ++i) {
    out->push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  }
}

// True for the 8-4-4-4-12 hex form of a UUID.
inline bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const char c = s[i];
    if (dash != (c == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace weir::schema::avro_internal
