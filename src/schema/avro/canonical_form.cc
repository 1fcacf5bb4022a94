// Parsing Canonical Form, CRC-64-AVRO fingerprints and schema-to-JSON.

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "schema/avro/avro_internal.h"
#include "weir/schema/avro.h"

namespace weir::schema {
namespace {

using nlohmann::json;

// Appends the canonical form of |node|. Named types are written in full on
// their first occurrence and by full name afterwards.
void AppendCanonical(const AvroNode& node, std::set<std::string>* seen, std::string* out) {
  if (!node.full_name.empty()) {
    if (!seen->insert(node.full_name).second) {
      *out += fmt::format("\"{}\"", node.full_name);
      return;
    }
  }
  switch (node.type) {
    case AvroType::kRecord: {
      *out += fmt::format("{{\"name\":\"{}\",\"type\":\"record\",\"fields\":[", node.full_name);
      for (size_t i = 0; i < node.fields.size(); ++i) {
        if (i > 0) *out += ',';
        *out += fmt::format("{{\"name\":\"{}\",\"type\":", node.fields[i].name);
        AppendCanonical(*node.fields[i].type, seen, out);
        *out += '}';
      }
      *out += "]}";
      return;
    }
    case AvroType::kEnum: {
      *out += fmt::format("{{\"name\":\"{}\",\"type\":\"enum\",\"symbols\":[", node.full_name);
      for (size_t i = 0; i < node.symbols.size(); ++i) {
        *out += fmt::format("{}\"{}\"", i > 0 ? "," : "", node.symbols[i]);
      }
      *out += "]}";
      return;
    }
    case AvroType::kFixed:
      *out += fmt::format("{{\"name\":\"{}\",\"type\":\"fixed\",\"size\":{}}}", node.full_name,
                          node.size);
      return;
    case AvroType::kArray:
    case AvroType::kMap:
      *out += node.type == AvroType::kArray ? "{\"type\":\"array\",\"items\":"
                                            : "{\"type\":\"map\",\"values\":";
      AppendCanonical(*node.items, seen, out);
      *out += '}';
      return;
    case AvroType::kUnion:
      *out += '[';
      for (size_t i = 0; i < node.branches.size(); ++i) {
        if (i > 0) *out += ',';
        AppendCanonical(*node.branches[i], seen, out);
      }
      *out += ']';
      return;
    default:
      *out += fmt::format("\"{}\"", AvroTypeName(node.type));
      return;
  }
}

std::string_view LogicalName(AvroLogicalType t) {
  switch (t) {
    case AvroLogicalType::kNone:
      return "";
    case AvroLogicalType::kDecimal:
      return "decimal";
    case AvroLogicalType::kUuid:
      return "uuid";
    case AvroLogicalType::kDate:
      return "date";
    case AvroLogicalType::kTimeMillis:
      return "time-millis";
    case AvroLogicalType::kTimeMicros:
      return "time-micros";
    case AvroLogicalType::kTimestampMillis:
      return "timestamp-millis";
    case AvroLogicalType::kTimestampMicros:
      return "timestamp-micros";
    case AvroLogicalType::kLocalTimestampMillis:
      return "local-timestamp-millis";
    case AvroLogicalType::kLocalTimestampMicros:
      return "local-timestamp-micros";
    case AvroLogicalType::kDuration:
      return "duration";
  }
  return "";
}

json ToJsonNode(const AvroNode& node, std::set<std::string>* seen) {
  if (!node.full_name.empty() && !seen->insert(node.full_name).second) return node.full_name;
  json j = json::object();
  j["type"] = std::string(AvroTypeName(node.type));
  if (!node.full_name.empty()) {
    j["name"] = node.full_name;
    if (!node.aliases.empty()) j["aliases"] = node.aliases;
    if (!node.doc.empty()) j["doc"] = node.doc;
  }
  switch (node.type) {
    case AvroType::kRecord: {
      json fields = json::array();
      for (const AvroField& f : node.fields) {
        json jf = json::object();
        jf["name"] = f.name;
        jf["type"] = ToJsonNode(*f.type, seen);
        if (!f.default_json.empty()) jf["default"] = json::parse(f.default_json);
        if (!f.aliases.empty()) jf["aliases"] = f.aliases;
        if (!f.doc.empty()) jf["doc"] = f.doc;
        if (!f.order.empty()) jf["order"] = f.order;
        fields.push_back(std::move(jf));
      }
      j["fields"] = std::move(fields);
      break;
    }
    case AvroType::kEnum:
      j["symbols"] = node.symbols;
      if (node.enum_default) j["default"] = *node.enum_default;
      break;
    case AvroType::kFixed:
      j["size"] = node.size;
      break;
    case AvroType::kArray:
      j["items"] = ToJsonNode(*node.items, seen);
      break;
    case AvroType::kMap:
      j["values"] = ToJsonNode(*node.items, seen);
      break;
    case AvroType::kUnion: {
      json branches = json::array();
      for (const AvroNode* b : node.branches) branches.push_back(ToJsonNode(*b, seen));
      return branches;
    }
    default:
      if (node.logical == AvroLogicalType::kNone) return j["type"];
      break;
  }
  if (node.logical != AvroLogicalType::kNone) {
    j["logicalType"] = std::string(LogicalName(node.logical));
    if (node.logical == AvroLogicalType::kDecimal) {
      j["precision"] = node.precision;
      j["scale"] = node.scale;
    }
  }
  return j;
}

}  // namespace

std::string AvroSchema::CanonicalForm() const {
  std::set<std::string> seen;
  std::string out;
  AppendCanonical(*root_, &seen, &out);
  return out;
}

uint64_t AvroSchema::Fingerprint() const {
  constexpr uint64_t kEmpty = 0xc15d213aa4d7a795ULL;
  static const auto* kTable = [] {
    auto* table = new uint64_t[256];
    for (uint64_t i = 0; i < 256; ++i) {
      uint64_t fp = i;
      for (int j = 0; j < 8; ++j) fp = (fp >> 1) ^ (kEmpty & (0 - (fp & 1)));
      table[i] = fp;
    }
    return table;
  }();
  uint64_t fp = kEmpty;
  for (unsigned char c : CanonicalForm()) fp = (fp >> 8) ^ kTable[(fp ^ c) & 0xff];
  return fp;
}

std::string AvroSchema::ToJson() const {
  std::set<std::string> seen;
  return ToJsonNode(*root_, &seen).dump();
}

}  // namespace weir::schema
