// Conversion between JSON and Avro values: the Avro JSON encoding, the plain
// JSON of weir's users, and the natural forms of logical types.

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "schema/avro/avro_internal.h"
#include "schema/avro/wire_util.h"
#include "weir/schema/avro.h"

namespace weir::schema {
namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

Status Error(const std::string& path, std::string_view what) {
  return Status::InvalidArgument(fmt::format("avro json: at {}: {}", path, what));
}

std::string JsonKind(const json& j) {
  if (j.is_null()) return "null";
  if (j.is_boolean()) return "a boolean";
  if (j.is_number_integer()) return fmt::format("the integer {}", j.dump());
  if (j.is_number()) return fmt::format("the number {}", j.dump());
  if (j.is_string()) {
    std::string s = j.dump();
    if (s.size() > 40) s = s.substr(0, 37) + "...";
    return fmt::format("the string {}", s);
  }
  if (j.is_array()) return "an array";
  return "an object";
}

// ----- Calendar arithmetic (proleptic Gregorian, days since 1970-01-01).

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);
}

// A small cursor over text for the date and time parsers.
struct TextCursor {
  std::string_view s;
  size_t i = 0;
  bool Digits(size_t n, int64_t* out) {
    if (s.size() - i < n) return false;
    int64_t v = 0;
    for (size_t k = 0; k < n; ++k) {
      char c = s[i + k];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    i += n;
    *out = v;
    return true;
  }
  bool Eat(char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  bool Done() const { return i == s.size(); }
};

bool ParseDate(TextCursor* c, int64_t* days) {
  int64_t y, m, d;
  if (!c->Digits(4, &y) || !c->Eat('-') || !c->Digits(2, &m) || !c->Eat('-') || !c->Digits(2, &d)) {
    return false;
  }
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  *days = DaysFromCivil(y, m, d);
  int64_t y2, m2, d2;
  CivilFromDays(*days, &y2, &m2, &d2);
  return y2 == y && m2 == m && d2 == d;  // rejects 2023-02-30
}

// Parses "HH:MM[:SS[.fraction]]" into microseconds after midnight.
bool ParseTime(TextCursor* c, int64_t* micros) {
  int64_t h, mi, sec = 0, frac = 0;
  if (!c->Digits(2, &h) || !c->Eat(':') || !c->Digits(2, &mi)) return false;
  if (c->Eat(':')) {
    if (!c->Digits(2, &sec)) return false;
    if (c->Eat('.')) {
      size_t n = 0;
      int64_t scale = 100000;
      while (c->i < c->s.size() && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        if (n < 6) frac += (c->s[c->i] - '0') * scale;
        scale /= 10;
        ++n;
        ++c->i;
      }
      if (n == 0) return false;
    }
  }
  if (h > 23 || mi > 59 || sec > 60) return false;
  *micros = ((h * 60 + mi) * 60 + sec) * 1000000 + frac;
  return true;
}

// Parses an ISO-8601 timestamp into microseconds since the epoch. Without a
// zone the time is taken as is (UTC, or local time for local-timestamp-*).
bool ParseTimestamp(std::string_view text, bool local, int64_t* micros) {
  TextCursor c{text};
  int64_t days, tod = 0;
  if (!ParseDate(&c, &days)) return false;
  if (c.Eat('T') || c.Eat('t') || c.Eat(' ')) {
    if (!ParseTime(&c, &tod)) return false;
  }
  int64_t offset_minutes = 0;
  if (c.Eat('Z') || c.Eat('z')) {
    if (local) return false;
  } else if (c.i < text.size() && (text[c.i] == '+' || text[c.i] == '-')) {
    if (local) return false;
    int sign = text[c.i] == '-' ? -1 : 1;
    ++c.i;
    int64_t oh, om = 0;
    if (!c.Digits(2, &oh)) return false;
    c.Eat(':');
    if (!c.Done() && !c.Digits(2, &om)) return false;
    offset_minutes = sign * (oh * 60 + om);
  }
  if (!c.Done()) return false;
  *micros = days * 86400000000LL + tod - offset_minutes * 60000000LL;
  return true;
}

std::string FormatDate(int64_t days) {
  int64_t y, m, d;
  CivilFromDays(days, &y, &m, &d);
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

std::string FormatTime(int64_t micros, bool millis) {
  int64_t sec = micros / 1000000;
  int64_t frac = micros % 1000000;
  std::string out = fmt::format("{:02}:{:02}:{:02}", sec / 3600, (sec / 60) % 60, sec % 60);
  if (millis) return out + fmt::format(".{:03}", frac / 1000);
  return out + fmt::format(".{:06}", frac);
}

std::string FormatTimestamp(int64_t micros, bool millis, bool local) {
  int64_t days = FloorDiv(micros, 86400000000LL);
  int64_t tod = micros - days * 86400000000LL;
  return FormatDate(days) + "T" + FormatTime(tod, millis) + (local ? "" : "Z");
}

// ----- Decimals: unscaled two's complement big-endian integers.

// Converts decimal text ("-12.5", "1e3") to the unscaled value at |scale|,
// encoded as big-endian two's complement in the minimal number of bytes.
Result<std::string> DecimalToBytes(std::string_view text, int precision, int scale,
                                   const std::string& path) {
  auto bad = [&](std::string_view why) {
    return Error(path,
                 fmt::format("\"{}\" is not a decimal({}, {}): {}", text, precision, scale, why));
  };
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  std::string digits;
  int64_t frac_digits = 0;
  bool seen_point = false, any = false;
  for (; i < text.size(); ++i) {
    char ch = text[i];
    if (ch >= '0' && ch <= '9') {
      digits.push_back(ch);
      any = true;
      if (seen_point) ++frac_digits;
    } else if (ch == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!any) return bad("no digits");
  int64_t exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) eneg = text[i++] == '-';
    if (i == text.size()) return bad("bad exponent");
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > 10000) return bad("exponent out of range");
    }
    if (eneg) exponent = -exponent;
  }
  if (i != text.size()) return bad("unexpected characters");
  // value = digits * 10^(exponent - frac_digits); unscaled = value * 10^scale.
  int64_t shift = exponent - frac_digits + scale;
  if (shift >= 0) {
    digits.append(static_cast<size_t>(shift), '0');
  } else {
    size_t drop = static_cast<size_t>(-shift);
    if (drop > digits.size()) drop = digits.size();
    if (digits.find_first_not_of('0', digits.size() - drop) != std::string::npos) {
      return bad(fmt::format("more than {} digits after the point", scale));
    }
    digits.resize(digits.size() - drop);
  }
  size_t first = digits.find_first_not_of('0');
  digits = first == std::string::npos ? "" : digits.substr(first);
  if (digits.size() > static_cast<size_t>(precision)) {
    return bad(fmt::format("more than {} significant digits", precision));
  }
  if (digits.empty()) negative = false;
  // Magnitude as little-endian base-256.
  std::vector<uint8_t> mag;
  for (char ch : digits) {
    unsigned carry = static_cast<unsigned>(ch - '0');
    for (uint8_t& b : mag) {
      unsigned t = b * 10u + carry;
      b = static_cast<uint8_t>(t & 0xff);
      carry = t >> 8;
    }
    if (carry != 0) mag.push_back(static_cast<uint8_t>(carry));
  }
  size_t bit_length = 0;
  if (!mag.empty()) {
    bit_length = (mag.size() - 1) * 8;
    for (uint8_t top = mag.back(); top != 0; top >>= 1) ++bit_length;
  }
  size_t nbytes = (bit_length + 1 + 7) / 8;  // room for the sign bit
  mag.resize(nbytes, 0);
  if (negative) {
    unsigned carry = 1;
    for (uint8_t& b : mag) {
      unsigned t = static_cast<uint8_t>(~b) + carry;
      b = static_cast<uint8_t>(t & 0xff);
      carry = t >> 8;
    }
  }
  return std::string(mag.rbegin(), mag.rend());
}

// Formats the two's complement big-endian |bytes| as a decimal at |scale|.
std::string BytesToDecimal(std::string_view bytes, int scale) {
  std::vector<uint8_t> mag(bytes.begin(), bytes.end());  // big-endian
  bool negative = !mag.empty() && (mag[0] & 0x80) != 0;
  if (negative) {
    unsigned carry = 1;
    for (auto it = mag.rbegin(); it != mag.rend(); ++it) {
      unsigned t = static_cast<uint8_t>(~*it) + carry;
      *it = static_cast<uint8_t>(t & 0xff);
      carry = t >> 8;
    }
  }
  std::string digits;
  while (true) {
    bool nonzero = false;
    unsigned rem = 0;
    for (uint8_t& b : mag) {
      unsigned cur = (rem << 8) | b;
      b = static_cast<uint8_t>(cur / 10);
      rem = cur % 10;
      nonzero |= b != 0;
    }
    digits.push_back(static_cast<char>('0' + rem));
    if (!nonzero) break;
  }
  while (digits.size() <= static_cast<size_t>(scale)) digits.push_back('0');
  std::string out(digits.rbegin(), digits.rend());
  if (scale > 0) out.insert(out.size() - static_cast<size_t>(scale), ".");
  if (negative && out.find_first_not_of("0.") != std::string::npos) out.insert(0, "-");
  return out;
}

// ----- Strings of code points U+0000..U+00FF (the Avro JSON bytes form).

Result<std::string> CodePointsToBytes(const std::string& s, const std::string& path) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c == 0xc2 || c == 0xc3) && i + 1 < s.size()) {
      auto c2 = static_cast<unsigned char>(s[++i]);
      out.push_back(static_cast<char>(((c & 0x03) << 6) | (c2 & 0x3f)));
    } else {
      return Error(path, "bytes in the Avro JSON encoding must be code points U+0000..U+00FF");
    }
  }
  return out;
}

std::string BytesToCodePoints(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xc0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
  return out;
}

// Well-formed UTF-8 only (RFC 3629): no overlong forms, no surrogates, nothing
// above U+10FFFF. JSON output replaces anything else, which would change the
// data silently.
bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    unsigned char second_min = 0x80, second_max = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      if (c == 0xe0) second_min = 0xa0;  // overlong
      if (c == 0xed) second_max = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      if (c == 0xf0) second_min = 0x90;  // overlong
      if (c == 0xf4) second_max = 0x8f;  // above U+10FFFF
    } else {
      return false;  // a continuation byte, an overlong lead (c0, c1) or f5..ff
    }
    if (s.size() - i < n) return false;
    auto second = static_cast<unsigned char>(s[i + 1]);
    if (second < second_min || second > second_max) return false;
    for (size_t k = 2; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

using avro_internal::IsUuid;

// ----- JSON to Avro.

class FromJson {
 public:
  FromJson(AvroJsonMode mode, bool for_default) : mode_(mode), for_default_(for_default) {}

  Result<AvroValue> Convert(const AvroNode& node, const json& j, const std::string& path,
                            int depth) {
    if (depth > 200) return Error(path, "nesting too deep");
    const bool plain = mode_ == AvroJsonMode::kPlain && !for_default_;
    switch (node.type) {
      case AvroType::kNull:
        if (!j.is_null()) return Mismatch(node, j, path);
        return AvroValue();
      case AvroType::kBoolean:
        if (!j.is_boolean()) return Mismatch(node, j, path);
        return AvroValue(j.get<bool>());
      case AvroType::kInt: {
        int64_t v = 0;
        if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT32_MAX)) {
          return Error(path, fmt::format("{} does not fit an int (32 bits)", j.dump()));
        } else if (j.is_number_integer()) {
          v = j.get<int64_t>();
        } else if (plain && j.is_string() && node.logical == AvroLogicalType::kDate) {
          TextCursor c{j.get_ref<const std::string&>()};
          if (!ParseDate(&c, &v) || !c.Done()) return Error(path, "date must be YYYY-MM-DD");
        } else if (plain && j.is_string() && node.logical == AvroLogicalType::kTimeMillis) {
          TextCursor c{j.get_ref<const std::string&>()};
          if (!ParseTime(&c, &v) || !c.Done()) return Error(path, "time must be HH:MM:SS[.fff]");
          v /= 1000;
        } else {
          return Mismatch(node, j, path);
        }
        if (v < INT32_MIN || v > INT32_MAX) {
          return Error(path, fmt::format("{} does not fit an int (32 bits)", v));
        }
        return AvroValue(static_cast<int32_t>(v));
      }
      case AvroType::kLong: {
        if (j.is_number_integer() && !j.is_number_unsigned()) return AvroValue(j.get<int64_t>());
        if (j.is_number_unsigned()) {
          if (j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
            return Error(path, fmt::format("{} does not fit a long (64 bits)", j.dump()));
          }
          return AvroValue(static_cast<int64_t>(j.get<uint64_t>()));
        }
        if (plain && j.is_string() && node.logical != AvroLogicalType::kNone) {
          const std::string& s = j.get_ref<const std::string&>();
          int64_t micros = 0;
          bool ok = false;
          bool millis = false;
          switch (node.logical) {
            case AvroLogicalType::kTimeMicros: {
              TextCursor c{s};
              ok = ParseTime(&c, &micros) && c.Done();
              break;
            }
            case AvroLogicalType::kTimestampMillis:
              millis = true;
              [[fallthrough]];
            case AvroLogicalType::kTimestampMicros:
              ok = ParseTimestamp(s, false, &micros);
              break;
            case AvroLogicalType::kLocalTimestampMillis:
              millis = true;
              [[fallthrough]];
            case AvroLogicalType::kLocalTimestampMicros:
              ok = ParseTimestamp(s, true, &micros);
              break;
            default:
              break;
          }
          if (!ok) {
            return Error(
                path,
                fmt::format("{} is not a valid {} (ISO-8601 expected)", JsonKind(j),
                            node.logical == AvroLogicalType::kTimeMicros ? "time" : "timestamp"));
          }
          return AvroValue(millis ? FloorDiv(micros, 1000) : micros);
        }
        return Mismatch(node, j, path);
      }
      case AvroType::kFloat:
      case AvroType::kDouble: {
        double d = 0;
        if (j.is_number()) {
          d = j.get<double>();
        } else if (j.is_string() && j == "NaN") {
          d = std::numeric_limits<double>::quiet_NaN();
        } else if (j.is_string() && j == "Infinity") {
          d = std::numeric_limits<double>::infinity();
        } else if (j.is_string() && j == "-Infinity") {
          d = -std::numeric_limits<double>::infinity();
        } else {
          return Mismatch(node, j, path);
        }
        if (node.type == AvroType::kFloat) return AvroValue(static_cast<float>(d));
        return AvroValue(d);
      }
      case AvroType::kString:
        if (!j.is_string()) return Mismatch(node, j, path);
        if (plain && node.logical == AvroLogicalType::kUuid &&
            !IsUuid(j.get_ref<const std::string&>())) {
          return Error(path, fmt::format("{} is not a UUID", JsonKind(j)));
        }
        return AvroValue(j.get<std::string>());
      case AvroType::kBytes:
      case AvroType::kFixed: {
        std::string data;
        if (plain && node.logical == AvroLogicalType::kDecimal &&
            (j.is_number() || j.is_string())) {
          std::string text = j.is_string()         ? j.get<std::string>()
                             : j.is_number_float() ? fmt::format("{}", j.get<double>())
                                                   : j.dump();
          WEIR_ASSIGN_OR_RETURN(data, DecimalToBytes(text, node.precision, node.scale, path));
          if (node.type == AvroType::kFixed) {
            if (data.size() > node.size) return Error(path, "decimal does not fit the fixed size");
            char fill = (!data.empty() && (data[0] & 0x80)) ? '\xff' : '\0';
            data.insert(0, node.size - data.size(), fill);
          }
        } else if (!j.is_string()) {
          return Mismatch(node, j, path);
        } else if (plain) {
          data = j.get<std::string>();
        } else {
          WEIR_ASSIGN_OR_RETURN(data, CodePointsToBytes(j.get_ref<const std::string&>(), path));
        }
        if (node.type == AvroType::kBytes) return AvroValue(AvroBytes{std::move(data)});
        if (data.size() != node.size) {
          return Error(path, fmt::format("fixed {} needs {} bytes, got {}", node.full_name,
                                         node.size, data.size()));
        }
        return AvroValue(AvroFixed{std::move(data)});
      }
      case AvroType::kEnum: {
        if (!j.is_string()) return Mismatch(node, j, path);
        int index = node.SymbolIndex(j.get_ref<const std::string&>());
        if (index < 0) {
          return Error(path,
                       fmt::format("{} is not a symbol of enum {}", JsonKind(j), node.full_name));
        }
        return AvroValue(AvroEnum{index, j.get<std::string>()});
      }
      case AvroType::kArray: {
        if (!j.is_array()) return Mismatch(node, j, path);
        AvroArray a;
        a.items.reserve(j.size());
        for (size_t i = 0; i < j.size(); ++i) {
          WEIR_ASSIGN_OR_RETURN(
              AvroValue v, Convert(*node.items, j[i], fmt::format("{}[{}]", path, i), depth + 1));
          a.items.push_back(std::move(v));
        }
        return AvroValue(std::move(a));
      }
      case AvroType::kMap: {
        if (!j.is_object()) return Mismatch(node, j, path);
        AvroMap m;
        for (auto it = j.begin(); it != j.end(); ++it) {
          WEIR_ASSIGN_OR_RETURN(AvroValue v,
                                Convert(*node.items, it.value(),
                                        fmt::format("{}[\"{}\"]", path, it.key()), depth + 1));
          m.entries.emplace_back(it.key(), std::move(v));
        }
        return AvroValue(std::move(m));
      }
      case AvroType::kRecord: {
        if (!j.is_object()) return Mismatch(node, j, path);
        AvroRecord r;
        r.fields.reserve(node.fields.size());
        for (const AvroField& f : node.fields) {
          const std::string field_path = path + "." + f.name;
          auto it = j.find(f.name);
          if (it != j.end()) {
            WEIR_ASSIGN_OR_RETURN(AvroValue v, Convert(*f.type, *it, field_path, depth + 1));
            r.fields.emplace_back(f.name, std::move(v));
          } else if (f.default_value != nullptr) {
            r.fields.emplace_back(f.name, *f.default_value);
          } else {
            return Error(field_path, "missing required field (it has no default)");
          }
        }
        for (auto it = j.begin(); it != j.end(); ++it) {
          if (node.FieldIndex(it.key()) < 0) {
            return Error(path + "." + it.key(),
                         fmt::format("record {} has no such field", node.full_name));
          }
        }
        return AvroValue(std::move(r));
      }
      case AvroType::kUnion:
        return ConvertUnion(node, j, path, depth);
    }
    return Status::Internal("unhandled Avro type");
  }

 private:
  Result<AvroValue> ConvertUnion(const AvroNode& node, const json& j, const std::string& path,
                                 int depth) {
    if (for_default_) {
      WEIR_ASSIGN_OR_RETURN(AvroValue v, Convert(*node.branches[0], j, path, depth + 1));
      return AvroValue(AvroUnion(0, std::move(v)));
    }
    if (j.is_null()) {
      for (size_t i = 0; i < node.branches.size(); ++i) {
        if (node.branches[i]->type == AvroType::kNull) {
          return AvroValue(AvroUnion(static_cast<int32_t>(i), AvroValue()));
        }
      }
    }
    if (mode_ == AvroJsonMode::kAvro) {
      if (!j.is_object() || j.size() != 1) {
        return Error(path,
                     fmt::format("a union value must be null or {{\"<type>\": value}}, got {}",
                                 JsonKind(j)));
      }
      const std::string& key = j.begin().key();
      for (size_t i = 0; i < node.branches.size(); ++i) {
        const AvroNode& b = *node.branches[i];
        if (avro_internal::BranchName(b) == key || (!b.name.empty() && b.name == key)) {
          WEIR_ASSIGN_OR_RETURN(AvroValue v, Convert(b, j.begin().value(), path, depth + 1));
          return AvroValue(AvroUnion(static_cast<int32_t>(i), std::move(v)));
        }
      }
      return Error(path, fmt::format("the union has no branch \"{}\"", key));
    }
    // Plain JSON: the first branch that accepts the value.
    std::string first_error;
    for (size_t i = 0; i < node.branches.size(); ++i) {
      auto v = Convert(*node.branches[i], j, path, depth + 1);
      if (v.ok()) return AvroValue(AvroUnion(static_cast<int32_t>(i), std::move(v).value()));
      if (first_error.empty()) first_error = v.status().message();
    }
    std::string names;
    for (const AvroNode* b : node.branches) {
      names += (names.empty() ? "" : ", ") + avro_internal::BranchName(*b);
    }
    return Error(path, fmt::format("no branch of union [{}] accepts {} (first branch: {})", names,
                                   JsonKind(j), first_error));
  }

  static Status Mismatch(const AvroNode& node, const json& j, const std::string& path) {
    return Error(path,
                 fmt::format("expected {}, got {}", avro_internal::Describe(node), JsonKind(j)));
  }

  AvroJsonMode mode_;
  bool for_default_;
};

// ----- Avro to JSON.

class ToJson {
 public:
  explicit ToJson(AvroJsonMode mode) : plain_(mode == AvroJsonMode::kPlain) {}

  Result<ordered_json> Convert(const AvroNode& node, const AvroValue& v, const std::string& path) {
    if (node.type == AvroType::kUnion) {
      if (v.type() != AvroType::kUnion) return Mismatch(node, v, path);
      const AvroUnion& u = v.get<AvroUnion>();
      if (u.branch < 0 || static_cast<size_t>(u.branch) >= node.branches.size()) {
        return Error(path, fmt::format("union branch {} out of range", u.branch));
      }
      const AvroNode& b = *node.branches[static_cast<size_t>(u.branch)];
      WEIR_ASSIGN_OR_RETURN(ordered_json inner, Convert(b, *u.value, path));
      if (plain_ || b.type == AvroType::kNull) return inner;
      ordered_json wrapped = ordered_json::object();
      wrapped[avro_internal::BranchName(b)] = std::move(inner);
      return wrapped;
    }
    if (v.type() != node.type) return Mismatch(node, v, path);
    switch (node.type) {
      case AvroType::kNull:
        return ordered_json(nullptr);
      case AvroType::kBoolean:
        return ordered_json(v.get<bool>());
      case AvroType::kInt: {
        int32_t i = v.get<int32_t>();
        if (plain_ && node.logical == AvroLogicalType::kDate) return ordered_json(FormatDate(i));
        if (plain_ && node.logical == AvroLogicalType::kTimeMillis) {
          return ordered_json(FormatTime(int64_t{i} * 1000, true));
        }
        return ordered_json(i);
      }
      case AvroType::kLong: {
        int64_t l = v.get<int64_t>();
        if (plain_) {
          switch (node.logical) {
            case AvroLogicalType::kTimeMicros:
              return ordered_json(FormatTime(l, false));
            case AvroLogicalType::kTimestampMillis:
              if (l > INT64_MAX / 1000 || l < INT64_MIN / 1000) break;
              return ordered_json(FormatTimestamp(l * 1000, true, false));
            case AvroLogicalType::kTimestampMicros:
              return ordered_json(FormatTimestamp(l, false, false));
            case AvroLogicalType::kLocalTimestampMillis:
              if (l > INT64_MAX / 1000 || l < INT64_MIN / 1000) break;
              return ordered_json(FormatTimestamp(l * 1000, true, true));
            case AvroLogicalType::kLocalTimestampMicros:
              return ordered_json(FormatTimestamp(l, false, true));
            default:
              break;
          }
        }
        return ordered_json(l);
      }
      case AvroType::kFloat:
        return FloatJson(v.get<float>());
      case AvroType::kDouble:
        return FloatJson(v.get<double>());
      case AvroType::kString:
        if (!IsValidUtf8(v.get<std::string>())) return Error(path, "string is not valid UTF-8");
        return ordered_json(v.get<std::string>());
      case AvroType::kBytes:
      case AvroType::kFixed: {
        const std::string& data =
            node.type == AvroType::kBytes ? v.get<AvroBytes>().data : v.get<AvroFixed>().data;
        if (plain_ && node.logical == AvroLogicalType::kDecimal) {
          return ordered_json(BytesToDecimal(data, node.scale));
        }
        if (plain_ && IsValidUtf8(data)) return ordered_json(data);
        return ordered_json(BytesToCodePoints(data));
      }
      case AvroType::kEnum: {
        const AvroEnum& e = v.get<AvroEnum>();
        if (e.index < 0 || static_cast<size_t>(e.index) >= node.symbols.size()) {
          return Error(path, fmt::format("enum index {} out of range", e.index));
        }
        return ordered_json(node.symbols[static_cast<size_t>(e.index)]);
      }
      case AvroType::kArray: {
        ordered_json out = ordered_json::array();
        const auto& items = v.get<AvroArray>().items;
        for (size_t i = 0; i < items.size(); ++i) {
          WEIR_ASSIGN_OR_RETURN(ordered_json item,
                                Convert(*node.items, items[i], fmt::format("{}[{}]", path, i)));
          out.push_back(std::move(item));
        }
        return out;
      }
      case AvroType::kMap: {
        ordered_json out = ordered_json::object();
        for (const auto& [key, value] : v.get<AvroMap>().entries) {
          // As for string values: JSON text would silently replace the bytes.
          if (!IsValidUtf8(key)) return Error(path, "map key is not valid UTF-8");
          WEIR_ASSIGN_OR_RETURN(ordered_json item,
                                Convert(*node.items, value, fmt::format("{}[\"{}\"]", path, key)));
          out[key] = std::move(item);
        }
        return out;
      }
      case AvroType::kRecord: {
        ordered_json out = ordered_json::object();
        const AvroRecord& r = v.get<AvroRecord>();
        for (const AvroField& f : node.fields) {
          const AvroValue* fv = r.Find(f.name);
          if (fv == nullptr) return Error(path + "." + f.name, "missing field");
          WEIR_ASSIGN_OR_RETURN(ordered_json item, Convert(*f.type, *fv, path + "." + f.name));
          out[f.name] = std::move(item);
        }
        return out;
      }
      case AvroType::kUnion:
        break;
    }
    return Status::Internal("unhandled Avro type");
  }

 private:
  static ordered_json FloatJson(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    return d;
  }

  static Status Mismatch(const AvroNode& node, const AvroValue& v, const std::string& path) {
    return Error(path, fmt::format("schema wants {}, the value is {}",
                                   avro_internal::Describe(node), AvroTypeName(v.type())));
  }

  bool plain_;
};

}  // namespace

namespace avro_internal {

Result<AvroValue> JsonToValue(const AvroNode& node, const nlohmann::json& json, AvroJsonMode mode,
                              bool for_default, const std::string& path) {
  FromJson converter(mode, for_default);
  return converter.Convert(node, json, path, 0);
}

}  // namespace avro_internal

Result<AvroValue> JsonToAvro(const AvroSchema& schema, std::string_view json_text,
                             AvroJsonMode mode) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    return Status::InvalidArgument(
        fmt::format("avro json: the datum is not valid JSON (at byte {}): {}", e.byte, e.what()));
  }
  return avro_internal::JsonToValue(schema.root(), j, mode, false,
                                    avro_internal::PathRoot(schema.root()));
}

Result<std::string> AvroToJson(const AvroSchema& schema, const AvroValue& value,
                               AvroJsonMode mode) {
  ToJson converter(mode);
  WEIR_ASSIGN_OR_RETURN(ordered_json j, converter.Convert(schema.root(), value,
                                                          avro_internal::PathRoot(schema.root())));
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace weir::schema
