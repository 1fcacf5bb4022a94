#include "fleetops_events.h"

#include <fmt/format.h>

#include "common/wall_clock.h"
#include "weir/consume/dead_letter.h"

namespace fleetops {
namespace {

// FNV-1a over |data| from |basis|, then splitmix64's finaliser: a 64-bit
// hash with good avalanche; two bases give the two halves of a 128-bit id.
uint64_t Hash64(std::string_view data, uint64_t basis) {
  uint64_t h = basis;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

// Formats 128 bits as a UUID with the given version and the RFC variant.
std::string FormatUuid(uint64_t hi, uint64_t lo, int version) {
  hi = (hi & ~0xF000ULL) | (static_cast<uint64_t>(version) << 12);
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF,
                     hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

}  // namespace

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "INFO";
    case Severity::kWarning:
      return "WARNING";
    case Severity::kCritical:
      return "CRITICAL";
  }
  return "?";
}

std::string_view AlertStatusName(AlertStatus s) {
  switch (s) {
    case AlertStatus::kOpen:
      return "OPEN";
    case AlertStatus::kAcknowledged:
      return "ACKNOWLEDGED";
    case AlertStatus::kResolved:
      return "RESOLVED";
    case AlertStatus::kDismissed:
      return "DISMISSED";
  }
  return "?";
}

std::optional<AlertStatus> ParseAlertStatus(std::string_view name) {
  for (AlertStatus s : kAllAlertStatuses) {
    if (AlertStatusName(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view ActionTypeName(ActionType t) {
  switch (t) {
    case ActionType::kAcknowledge:
      return "ACKNOWLEDGE";
    case ActionType::kResolve:
      return "RESOLVE";
    case ActionType::kDismiss:
      return "DISMISS";
    case ActionType::kIntervene:
      return "INTERVENE";
  }
  return "?";
}

std::optional<ActionType> ParseActionType(std::string_view name) {
  for (ActionType t : {ActionType::kAcknowledge, ActionType::kResolve, ActionType::kDismiss,
                       ActionType::kIntervene}) {
    if (ActionTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::string FormatIso8601Ms(int64_t unix_ms) { return weir::consume::FormatDlqTimestamp(unix_ms); }

std::optional<int64_t> ParseIso8601Ms(std::string_view text) {
  return weir::consume::ParseDlqTimestamp(text);
}

std::string NowIso8601() { return FormatIso8601Ms(weir::WallClockMs()); }

std::string NameUuid(std::string_view name) {
  return FormatUuid(Hash64(name, 0xcbf29ce484222325ULL), Hash64(name, 0x84222325cbf29ce4ULL), 8);
}

std::string RandomUuid(std::mt19937_64& rng) {
  const uint64_t hi = rng();
  const uint64_t lo = rng();
  return FormatUuid(hi, lo, 4);
}

}  // namespace fleetops
