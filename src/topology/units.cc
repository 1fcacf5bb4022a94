// Durations, byte sizes, enum names and secret property names of weir.yaml.
#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <string>
#include <string_view>

#include "weir/topology.h"

namespace weir {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t factor;
};

// Longest suffixes first so that "ms" is not read as "m" + "s".
constexpr std::array<Unit, 6> kDurationUnits = {{
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 60 * 60 * 1000},
    {"d", 24 * 60 * 60 * 1000},
    {"w", 7 * 24 * 60 * 60 * 1000LL},
}};

constexpr std::array<Unit, 9> kByteUnits = {{
    {"KiB", 1LL << 10},
    {"MiB", 1LL << 20},
    {"GiB", 1LL << 30},
    {"TiB", 1LL << 40},
    {"KB", 1000LL},
    {"MB", 1000LL * 1000},
    {"GB", 1000LL * 1000 * 1000},
    {"TB", 1000LL * 1000 * 1000 * 1000},
    {"B", 1},
}};

// Parses a non-negative decimal integer that spans all of |digits|.
std::optional<int64_t> ParseCount(std::string_view digits) {
  if (digits.empty() || digits.front() == '+' || digits.front() == '-') return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> Multiply(int64_t count, int64_t factor) {
  if (count > std::numeric_limits<int64_t>::max() / factor) return std::nullopt;
  return count * factor;
}

}  // namespace

std::optional<int64_t> ParseDurationMs(std::string_view text) {
  if (text == "-1") return -1;
  if (text == "0") return 0;
  for (const Unit& u : kDurationUnits) {
    if (text.size() <= u.suffix.size() || !text.ends_with(u.suffix)) continue;
    std::string_view digits = text.substr(0, text.size() - u.suffix.size());
    // "5ms" also ends with "s"; only accept a unit when what precedes it is a number.
    auto count = ParseCount(digits);
    if (!count) continue;
    return Multiply(*count, u.factor);
  }
  return std::nullopt;
}

std::optional<int64_t> ParseBytes(std::string_view text) {
  if (text == "-1") return -1;
  for (const Unit& u : kByteUnits) {
    if (text.size() <= u.suffix.size() || !text.ends_with(u.suffix)) continue;
    auto count = ParseCount(text.substr(0, text.size() - u.suffix.size()));
    if (!count) continue;
    return Multiply(*count, u.factor);
  }
  return ParseCount(text);
}

std::string FormatDurationMs(int64_t ms) {
  if (ms == -1) return "-1";
  if (ms <= 0) return std::to_string(ms) + "ms";
  // Largest unit first.
  for (auto it = kDurationUnits.rbegin(); it != kDurationUnits.rend(); ++it) {
    if (ms % it->factor == 0) return std::to_string(ms / it->factor) + std::string(it->suffix);
  }
  return std::to_string(ms) + "ms";
}

bool IsSecretProperty(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Substrings of librdkafka (and weir) property names whose values are
  // credentials. ssl.keystore.* covers the keystore password and location of
  // a private key store; ssl.key.pem and ssl_key are inline private keys.
  static constexpr std::string_view kMarkers[] = {
      "password",    "passwd",     "secret",
      "token",       "jaas",       "sasl.oauthbearer.config",
      "ssl.key.pem", "ssl_key",    "ssl.keystore",
      "private.key", "credential", "api.key",
      "apikey",
  };
  for (std::string_view m : kMarkers) {
    if (lower.find(m) != std::string::npos) return true;
  }
  return false;
}

std::string_view CleanupPolicyName(CleanupPolicy p) {
  switch (p) {
    case CleanupPolicy::kDelete:
      return "delete";
    case CleanupPolicy::kCompact:
      return "compact";
    case CleanupPolicy::kCompactDelete:
      return "compact,delete";
  }
  return "delete";
}

std::string_view ErrorClassName(ErrorClass c) {
  switch (c) {
    case ErrorClass::kSchemaValidation:
      return "SCHEMA_VALIDATION";
    case ErrorClass::kProcessingFailure:
      return "PROCESSING_FAILURE";
    case ErrorClass::kTimeout:
      return "TIMEOUT";
    case ErrorClass::kBusinessLogic:
      return "BUSINESS_LOGIC";
    case ErrorClass::kUnknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

std::optional<ErrorClass> ParseErrorClass(std::string_view name) {
  for (ErrorClass c : {ErrorClass::kSchemaValidation, ErrorClass::kProcessingFailure,
                       ErrorClass::kTimeout, ErrorClass::kBusinessLogic, ErrorClass::kUnknown}) {
    if (name == ErrorClassName(c)) return c;
  }
  return std::nullopt;
}

std::string_view OrderingName(Ordering o) {
  switch (o) {
    case Ordering::kPartition:
      return "partition";
    case Ordering::kKey:
      return "key";
    case Ordering::kUnordered:
      return "unordered";
  }
  return "partition";
}

}  // namespace weir
