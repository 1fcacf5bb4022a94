// The Confluent Schema Registry wire format.

#include <fmt/format.h>

#include "weir/schema/avro.h"

namespace weir::schema {

std::string WrapConfluent(int32_t schema_id, std::string_view avro_bytes) {
  std::string out;
  out.reserve(kConfluentHeaderSize + avro_bytes.size());
  out.push_back('\0');
  auto id = static_cast<uint32_t>(schema_id);
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((id >> shift) & 0xff));
  out.append(avro_bytes);
  return out;
}

Result<ConfluentFrame> UnwrapConfluent(std::string_view bytes) {
  if (bytes.size() < kConfluentHeaderSize) {
    return Status::Corruption(fmt::format(
        "confluent frame: at byte 0: {} bytes is shorter than the 5-byte header (magic byte 0, "
        "4-byte schema id)",
        bytes.size()));
  }
  if (bytes[0] != '\0') {
    return Status::Corruption(fmt::format(
        "confluent frame: at byte 0: magic byte is {}, expected 0 (not Schema Registry framing)",
        static_cast<unsigned char>(bytes[0])));
  }
  uint32_t id = 0;
  for (size_t i = 1; i < kConfluentHeaderSize; ++i) {
    id = (id << 8) | static_cast<unsigned char>(bytes[i]);
  }
  ConfluentFrame frame;
  frame.schema_id = static_cast<int32_t>(id);
  frame.payload = bytes.substr(kConfluentHeaderSize);
  return frame;
}

}  // namespace weir::schema
