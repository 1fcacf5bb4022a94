#include "weir/ops/record_json.h"

#include <simdjson.h>

#include <nlohmann/json.hpp>

namespace weir::ops {

std::string Base64Encode(std::string_view in) {
  // Hand-written on purpose: 15 lines, and no Debian library we already link
  // offers it without pulling OpenSSL's EVP into the tools layer.
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

namespace {

void PutBytes(nlohmann::ordered_json& j, const char* field, const char* enc_field,
              std::optional<std::string_view> bytes, bool allow_json) {
  if (!bytes) {
    j[field] = nullptr;
    j[enc_field] = "null";
    return;
  }
  if (!simdjson::validate_utf8(bytes->data(), bytes->size())) {
    j[field] = Base64Encode(*bytes);
    j[enc_field] = "base64";
    return;
  }
  if (allow_json) {
    auto parsed = nlohmann::ordered_json::parse(bytes->begin(), bytes->end(), nullptr, false);
    if (!parsed.is_discarded()) {
      j[field] = std::move(parsed);
      j[enc_field] = "json";
      return;
    }
  }
  j[field] = std::string(*bytes);
  j[enc_field] = "utf8";
}

}  // namespace

std::string RecordToJson(const Record& record) {
  nlohmann::ordered_json j;
  j["topic"] = std::string(record.topic());
  j["partition"] = record.partition().value();
  j["offset"] = record.offset().value();
  j["timestamp"] = record.timestamp().ms;
  switch (record.timestamp().type) {
    case TimestampType::kCreateTime:
      j["timestamp_type"] = "create";
      break;
    case TimestampType::kLogAppendTime:
      j["timestamp_type"] = "log_append";
      break;
    case TimestampType::kNone:
      j["timestamp_type"] = "none";
      break;
  }
  PutBytes(j, "key", "key_encoding", record.key(), false);
  nlohmann::ordered_json headers = nlohmann::ordered_json::array();
  for (const HeaderView& h : record.headers()) {
    nlohmann::ordered_json hj;
    if (simdjson::validate_utf8(h.key.data(), h.key.size())) {
      hj["key"] = std::string(h.key);
    } else {
      hj["key"] = Base64Encode(h.key);
      hj["key_encoding"] = "base64";
    }
    PutBytes(hj, "value", "encoding", h.value, false);
    headers.push_back(std::move(hj));
  }
  j["headers"] = std::move(headers);
  PutBytes(j, "value", "value_encoding", record.value(), true);
  return j.dump();
}

}  // namespace weir::ops
