#include "topology/yaml_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "topology/env_substitution.h"

namespace weir::topology {
namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string_view KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "nothing";
  }
}

std::string JoinPath(const std::string& path, std::string_view key) {
  bool quote = key.empty() || key.find_first_of(". \"'[]") != std::string_view::npos;
  std::string segment = quote ? fmt::format("\"{}\"", key) : std::string(key);
  return path.empty() ? segment : path + "." + segment;
}

std::string ClosestMatch(std::string_view key, const std::vector<std::string>& known) {
  std::string best;
  size_t best_distance = 0;
  for (const std::string& k : known) {
    size_t d = EditDistance(key, k);
    if (best.empty() || d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  // A typo changes a few letters; anything further is a different word.
  size_t limit = std::max<size_t>(1, std::min<size_t>(3, key.size() / 3));
  if (best.empty() || best_distance > limit || best_distance >= key.size()) return {};
  return best;
}

SourceLocation YamlReader::Where(const YAML::Node& node, const SourceLocation& fallback) const {
  if (!node.IsDefined()) return fallback.line > 0 ? fallback : SourceLocation{file_, 0, 0};
  YAML::Mark m = node.Mark();
  if (m.is_null() || m.line < 0) return fallback.line > 0 ? fallback : SourceLocation{file_, 0, 0};
  return SourceLocation{file_, m.line + 1, m.column + 1};
}

SourceLocation YamlReader::WhereLine(int line, int column) const {
  return SourceLocation{file_, line, column};
}

void YamlReader::Error(const SourceLocation& where, std::string_view path,
                       std::string_view message) {
  std::string text = path.empty() ? fmt::format("{}: {}", where.ToString(), message)
                                  : fmt::format("{}: {}: {}", where.ToString(), path, message);
  errors_.push_back({where, std::move(text)});
}

std::string YamlReader::ErrorText() const {
  std::vector<const Diagnostic*> sorted;
  for (const Diagnostic& d : errors_) sorted.push_back(&d);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic* a, const Diagnostic* b) {
    return std::pair(a->where.line, a->where.column) < std::pair(b->where.line, b->where.column);
  });
  std::string out;
  for (const Diagnostic* d : sorted) {
    if (!out.empty()) out += '\n';
    out += d->text;
  }
  return out;
}

std::vector<MapEntry> YamlReader::Entries(const YAML::Node& node, const std::string& path) {
  std::vector<MapEntry> entries;
  if (!node.IsDefined() || node.IsNull()) return entries;
  if (!node.IsMap()) {
    Error(node, path, fmt::format("expected a map, got {}", KindName(node)));
    return entries;
  }
  std::map<std::string, SourceLocation> seen;
  for (const auto& kv : node) {
    // Copies: yaml-cpp's iterator yields a temporary pair of node handles.
    const YAML::Node k = kv.first;
    if (!k.IsScalar()) {
      Error(k, path, fmt::format("expected a plain name as key, got {}", KindName(k)));
      continue;
    }
    std::string key = k.Scalar();
    SourceLocation where = Where(k);
    auto [prev, inserted] = seen.emplace(key, where);
    if (!inserted) {
      Error(where, JoinPath(path, key),
            fmt::format("duplicate key \"{}\" (first at line {}, again at line {}; keep one)", key,
                        prev->second.line, where.line));
      continue;
    }
    entries.push_back(MapEntry{key, k, kv.second, JoinPath(path, key)});
  }
  return entries;
}

std::vector<MapEntry> YamlReader::Fields(const YAML::Node& node, const std::string& path,
                                         std::initializer_list<std::string_view> known) {
  std::vector<MapEntry> entries = Entries(node, path);
  std::vector<std::string> names(known.begin(), known.end());
  std::vector<MapEntry> kept;
  for (MapEntry& e : entries) {
    if (std::find(names.begin(), names.end(), e.key) != names.end()) {
      kept.push_back(std::move(e));
      continue;
    }
    std::string suggestion = ClosestMatch(e.key, names);
    std::string message = fmt::format("unknown key \"{}\"", e.key);
    if (!suggestion.empty()) {
      message += fmt::format(" (did you mean \"{}\"?)", suggestion);
    } else {
      std::string list;
      for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
      message += fmt::format(" (expected one of: {})", list);
    }
    Error(Where(e.key_node), e.path, message);
  }
  return kept;
}

std::optional<std::string> YamlReader::String(const MapEntry& e, bool secret) {
  if (!e.value.IsDefined() || e.value.IsNull()) {
    Error(Where(e.key_node), e.path, "missing value");
    return std::nullopt;
  }
  return String(e.value, e.path, secret);
}

std::optional<std::string> YamlReader::String(const YAML::Node& node, const std::string& path,
                                              bool secret) {
  // Messages below never quote the value.
  if (!node.IsDefined() || node.IsNull()) {
    Error(node, path, "missing value");
    return std::nullopt;
  }
  if (!node.IsScalar()) {
    Error(node, path, fmt::format("expected a single value, got {}", KindName(node)));
    return std::nullopt;
  }
  std::string error;
  std::optional<std::string> v = SubstituteEnv(node.Scalar(), env_, &error, secret);
  if (!v) Error(node, path, error);
  return v;
}

std::optional<int64_t> YamlReader::Int(const MapEntry& e, int64_t min, int64_t max) {
  auto s = String(e);
  if (!s) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (s->empty() || ec != std::errc() || end != s->data() + s->size()) {
    Error(e.value, e.path, fmt::format("expected a whole number, got \"{}\"", *s));
    return std::nullopt;
  }
  if (v < min || v > max) {
    Error(e.value, e.path, fmt::format("{} is out of range (expected {} to {})", v, min, max));
    return std::nullopt;
  }
  return v;
}

std::optional<double> YamlReader::Double(const MapEntry& e) {
  auto s = String(e);
  if (!s) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (s->empty() || ec != std::errc() || end != s->data() + s->size()) {
    Error(e.value, e.path, fmt::format("expected a number, got \"{}\"", *s));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> YamlReader::Bool(const MapEntry& e) {
  auto s = String(e);
  if (!s) return std::nullopt;
  std::string lower = *s;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  Error(e.value, e.path, fmt::format("expected true or false, got \"{}\"", *s));
  return std::nullopt;
}

std::optional<int64_t> YamlReader::DurationMs(const MapEntry& e) {
  auto s = String(e);
  if (!s) return std::nullopt;
  auto v = ParseDurationMs(*s);
  if (!v) {
    Error(e.value, e.path,
          fmt::format("invalid duration \"{}\" (expected a whole number with a unit: ms, s, m, h, "
                      "d, w; or -1 for infinite)",
                      *s));
  }
  return v;
}

std::optional<int64_t> YamlReader::Bytes(const MapEntry& e) {
  auto s = String(e);
  if (!s) return std::nullopt;
  auto v = ParseBytes(*s);
  if (!v) {
    Error(e.value, e.path,
          fmt::format("invalid size \"{}\" (expected a whole number of bytes, optionally with a "
                      "unit: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; or -1 for unlimited)",
                      *s));
  }
  return v;
}

std::optional<std::vector<std::string>> YamlReader::StringList(const MapEntry& e, bool allow_empty,
                                                               std::vector<YAML::Node>* nodes) {
  if (!e.value.IsDefined() || e.value.IsNull()) {
    Error(Where(e.key_node), e.path, "missing value (expected a list)");
    return std::nullopt;
  }
  if (!e.value.IsSequence()) {
    Error(e.value, e.path,
          fmt::format("expected a list such as [a, b], got {}", KindName(e.value)));
    return std::nullopt;
  }
  if (e.value.size() == 0 && !allow_empty) {
    Error(e.value, e.path, "the list must not be empty");
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < e.value.size(); ++i) {
    YAML::Node item = e.value[i];
    auto s = String(item, fmt::format("{}[{}]", e.path, i));
    if (!s) {
      ok = false;
      continue;
    }
    out.push_back(std::move(*s));
    if (nodes != nullptr) nodes->push_back(item);
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace weir::topology
