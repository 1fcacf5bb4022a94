#include "weir/ops/record_json.h"

#include <simdjson.h>

#include <nlohmann/json.hpp>

#include "common/base64.h"

namespace weir::ops {

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
