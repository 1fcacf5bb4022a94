// weir/ops/record_json.h — the JSON envelope `weir consume --format json`
// prints for each record, one per line:
//
//   {"topic":"t","partition":0,"offset":42,"timestamp":1767225600000,
//    "timestamp_type":"create","key":"cam-1","key_encoding":"utf8",
//    "headers":[{"key":"source","value":"api","encoding":"utf8"}],
//    "value":{"plate":"ABC123"},"value_encoding":"json"}
//
// Encodings: "json" (the value is itself a JSON document and is embedded as
// such; values only), "utf8" (a JSON string), "base64" (bytes that are not
// UTF-8), "null" (a null key, value or header value).
#pragma once

#include <string>
#include <string_view>

#include "weir/record.h"

namespace weir::ops {

std::string RecordToJson(const Record& record);

}  // namespace weir::ops
