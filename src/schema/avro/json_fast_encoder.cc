// AvroJsonFastEncoder: see json_fast_encoder.h. Every rule here mirrors a
// rule of FromJson::Convert (json_codec.cc) in plain mode; where the two
// could disagree, this encoder answers kAbort and the exact path decides.
#include "schema/avro/json_fast_encoder.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "schema/avro/wire_util.h"

namespace weir::schema {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

using avro_internal::IsUuid;
using avro_internal::PutLittleEndian;
using avro_internal::PutLong;

void PutString(std::string_view s, std::string* out) {
  PutLong(static_cast<int64_t>(s.size()), out);
  out->append(s);
}

// True when the object has a key twice (nlohmann keeps the last, simdjson
// finds the first: the exact path must decide).
bool HasDuplicateKeys(simdjson::dom::object obj) {
  const size_t n = obj.size();
  if (n < 2) return false;
  if (n <= 16) {
    std::string_view keys[16];
    size_t i = 0;
    for (auto field : obj) keys[i++] = field.key;
    for (size_t a = 0; a < n; ++a) {
      for (size_t b = a + 1; b < n; ++b) {
        if (keys[a] == keys[b]) return true;
      }
    }
    return false;
  }
  std::vector<std::string_view> keys;
  keys.reserve(n);
  for (auto field : obj) keys.push_back(field.key);
  std::sort(keys.begin(), keys.end());
  return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
}

}  // namespace

AvroJsonFastEncoder::AvroJsonFastEncoder(const AvroSchema& schema) : schema_(schema) {
  // Pre-encode defaults, walking every named type once.
  std::vector<const AvroNode*> stack = {&schema.root()};
  std::vector<const AvroNode*> seen;
  while (!stack.empty()) {
    const AvroNode* n = stack.back();
    stack.pop_back();
    if (std::find(seen.begin(), seen.end(), n) != seen.end()) continue;
    seen.push_back(n);
    for (const AvroField& f : n->fields) {
      if (f.default_value != nullptr) {
        auto bytes = EncodeBinary(AvroSchema(nullptr, f.type), *f.default_value);
        if (bytes.ok()) defaults_.emplace(&f, std::move(*bytes));
      }
      stack.push_back(f.type);
    }
    if (n->items != nullptr) stack.push_back(n->items);
    for (const AvroNode* b : n->branches) stack.push_back(b);
  }
}

bool AvroJsonFastEncoder::Encode(element doc, std::string* out) const {
  return EncodeNode(schema_.root(), doc, out, 0) == Verdict::kOk;
}

AvroJsonFastEncoder::Verdict AvroJsonFastEncoder::EncodeNode(const AvroNode& node, element e,
                                                             std::string* out, int depth) const {
  if (depth > 200) return Verdict::kAbort;
  const element_type t = e.type();
  switch (node.type) {
    case AvroType::kNull:
      if (t != element_type::NULL_VALUE) return Verdict::kReject;
      return Verdict::kOk;
    case AvroType::kBoolean:
      if (t != element_type::BOOL) return Verdict::kReject;
      out->push_back(e.get_bool().value_unsafe() ? 1 : 0);
      return Verdict::kOk;
    case AvroType::kInt:
    case AvroType::kLong: {
      if (t == element_type::INT64) {
        const int64_t v = e.get_int64().value_unsafe();
        if (node.type == AvroType::kInt &&
            (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())) {
          return Verdict::kReject;
        }
        PutLong(v, out);
        return Verdict::kOk;
      }
      if (t == element_type::UINT64) return Verdict::kReject;  // beyond INT64_MAX
      if (t == element_type::DOUBLE) return Verdict::kAbort;   // 1e2, -0: JSON's kind is open
      if (t == element_type::STRING && node.logical != AvroLogicalType::kNone) {
        return Verdict::kAbort;  // dates, times and timestamps as text
      }
      return Verdict::kReject;
    }
    case AvroType::kFloat:
    case AvroType::kDouble: {
      double d = 0;
      if (t == element_type::DOUBLE) {
        d = e.get_double().value_unsafe();
      } else if (t == element_type::INT64) {
        d = static_cast<double>(e.get_int64().value_unsafe());
      } else if (t == element_type::UINT64) {
        d = static_cast<double>(e.get_uint64().value_unsafe());
      } else if (t == element_type::STRING) {
        std::string_view s = e.get_string().value_unsafe();
        if (s == "NaN") {
          d = std::numeric_limits<double>::quiet_NaN();
        } else if (s == "Infinity") {
          d = std::numeric_limits<double>::infinity();
        } else if (s == "-Infinity") {
          d = -std::numeric_limits<double>::infinity();
        } else {
          return Verdict::kReject;
        }
      } else {
        return Verdict::kReject;
      }
      if (node.type == AvroType::kFloat) {
        PutLittleEndian(std::bit_cast<uint32_t>(static_cast<float>(d)), out);
      } else {
        PutLittleEndian(std::bit_cast<uint64_t>(d), out);
      }
      return Verdict::kOk;
    }
    case AvroType::kString: {
      if (t != element_type::STRING) return Verdict::kReject;
      std::string_view s = e.get_string().value_unsafe();
      if (node.logical == AvroLogicalType::kUuid && !IsUuid(s)) return Verdict::kReject;
      PutString(s, out);
      return Verdict::kOk;
    }
    case AvroType::kBytes:
    case AvroType::kFixed: {
      if (node.logical == AvroLogicalType::kDecimal) return Verdict::kAbort;
      if (t != element_type::STRING) return Verdict::kReject;
      std::string_view s = e.get_string().value_unsafe();
      if (node.type == AvroType::kFixed) {
        if (s.size() != node.size) return Verdict::kReject;
        out->append(s);
      } else {
        PutString(s, out);
      }
      return Verdict::kOk;
    }
    case AvroType::kEnum: {
      if (t != element_type::STRING) return Verdict::kReject;
      const int index = node.SymbolIndex(e.get_string().value_unsafe());
      if (index < 0) return Verdict::kReject;
      PutLong(index, out);
      return Verdict::kOk;
    }
    case AvroType::kArray: {
      if (t != element_type::ARRAY) return Verdict::kReject;
      simdjson::dom::array a = e.get_array().value_unsafe();
      const size_t n = a.size();
      if (n > 0) PutLong(static_cast<int64_t>(n), out);
      for (element item : a) {
        if (Verdict v = EncodeNode(*node.items, item, out, depth + 1); v != Verdict::kOk) return v;
      }
      out->push_back(0);
      return Verdict::kOk;
    }
    case AvroType::kMap: {
      if (t != element_type::OBJECT) return Verdict::kReject;
      simdjson::dom::object obj = e.get_object().value_unsafe();
      if (HasDuplicateKeys(obj)) return Verdict::kAbort;
      // The exact path keeps map entries in key order (nlohmann's std::map).
      std::vector<std::pair<std::string_view, element>> entries;
      entries.reserve(obj.size());
      for (auto field : obj) entries.emplace_back(field.key, field.value);
      std::sort(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      if (!entries.empty()) PutLong(static_cast<int64_t>(entries.size()), out);
      for (const auto& [key, value] : entries) {
        PutString(key, out);
        if (Verdict v = EncodeNode(*node.items, value, out, depth + 1); v != Verdict::kOk) return v;
      }
      out->push_back(0);
      return Verdict::kOk;
    }
    case AvroType::kRecord: {
      if (t != element_type::OBJECT) return Verdict::kReject;
      simdjson::dom::object obj = e.get_object().value_unsafe();
      if (HasDuplicateKeys(obj)) return Verdict::kAbort;
      size_t found = 0;
      for (const AvroField& f : node.fields) {
        element value;
        if (obj.at_key(f.name).get(value) == simdjson::SUCCESS) {
          ++found;
          if (Verdict v = EncodeNode(*f.type, value, out, depth + 1); v != Verdict::kOk) return v;
        } else if (f.default_value == nullptr) {
          return Verdict::kReject;  // a required field is missing
        } else {
          auto it = defaults_.find(&f);
          if (it == defaults_.end()) return Verdict::kAbort;
          out->append(it->second);
        }
      }
      if (found != obj.size()) return Verdict::kReject;  // a key that is no field
      return Verdict::kOk;
    }
    case AvroType::kUnion: {
      // A null takes the first null branch; otherwise the first branch that
      // accepts the value, as the exact path does.
      if (t == element_type::NULL_VALUE) {
        for (size_t i = 0; i < node.branches.size(); ++i) {
          if (node.branches[i]->type == AvroType::kNull) {
            PutLong(static_cast<int64_t>(i), out);
            return Verdict::kOk;
          }
        }
      }
      const size_t mark = out->size();
      for (size_t i = 0; i < node.branches.size(); ++i) {
        PutLong(static_cast<int64_t>(i), out);
        Verdict v = EncodeNode(*node.branches[i], e, out, depth + 1);
        if (v != Verdict::kReject) return v;
        out->resize(mark);
      }
      return Verdict::kReject;
    }
  }
  return Verdict::kAbort;
}

}  // namespace weir::schema
