// Reading weir.yaml's YAML tree with every problem collected as a
// "file:line:column: key.path: message" line. Private to src/topology: keeps
// yaml-cpp out of the public headers.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/topology.h"

namespace weir::topology {

// Appends |key| to the dotted key path |path|. Keys that hold a dot, a space
// or a quote are written in double quotes: topics."alpr.events.plates".
std::string JoinPath(const std::string& path, std::string_view key);

// The entry of |known| closest to |key| by edit distance when it is close
// enough to be a likely typo; empty otherwise.
std::string ClosestMatch(std::string_view key, const std::vector<std::string>& known);

// One key/value pair of a YAML map, in file order.
struct MapEntry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
  std::string path;  // key path of the value
};

// Collects errors and reads values. Not thread-safe; one per file.
class YamlReader {
 public:
  // |file| names the file in messages; |env| resolves ${NAME} (not null).
  YamlReader(std::string file, EnvLookup env) : file_(std::move(file)), env_(env) {}

  // Where |node| starts (1-based), or |fallback| when the node has no mark.
  SourceLocation Where(const YAML::Node& node, const SourceLocation& fallback = {}) const;
  SourceLocation WhereLine(int line, int column) const;

  void Error(const SourceLocation& where, std::string_view path, std::string_view message);
  void Error(const YAML::Node& node, std::string_view path, std::string_view message) {
    Error(Where(node), path, message);
  }
  bool ok() const { return errors_.empty(); }
  // All errors, one per line, ordered by position in the file.
  std::string ErrorText() const;

  // Reads |node| as a map with free-form keys (topic names, group names).
  // A null node is an empty map. Reports a non-map, non-scalar keys and
  // duplicate keys (naming both lines); a duplicate is skipped.
  std::vector<MapEntry> Entries(const YAML::Node& node, const std::string& path);
  // Same, and reports every key not in |known| (suggesting the closest one).
  std::vector<MapEntry> Fields(const YAML::Node& node, const std::string& path,
                               std::initializer_list<std::string_view> known);

  // Scalar readers. Each substitutes ${ENV}, reports a wrong type or a bad
  // value against |e| and returns nullopt then. |secret| values are never
  // quoted in messages.
  std::optional<std::string> String(const MapEntry& e, bool secret = false);
  std::optional<std::string> String(const YAML::Node& node, const std::string& path,
                                    bool secret = false);
  std::optional<int64_t> Int(const MapEntry& e, int64_t min, int64_t max);
  std::optional<double> Double(const MapEntry& e);
  std::optional<bool> Bool(const MapEntry& e);
  std::optional<int64_t> DurationMs(const MapEntry& e);
  std::optional<int64_t> Bytes(const MapEntry& e);
  // A sequence of scalars. |allow_empty| false reports an empty list. Each
  // element's node is returned in |nodes| when not null.
  std::optional<std::vector<std::string>> StringList(const MapEntry& e, bool allow_empty,
                                                     std::vector<YAML::Node>* nodes = nullptr);

 private:
  struct Diagnostic {
    SourceLocation where;
    std::string text;
  };
  std::string file_;
  EnvLookup env_;
  std::vector<Diagnostic> errors_;
};

// "a map", "a list", "a scalar", "nothing" — for "expected X, got Y".
std::string_view KindName(const YAML::Node& node);

}  // namespace weir::topology
