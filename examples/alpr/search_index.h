// examples/alpr/search_index.h — the search indexer's index of plate reads
// and the search over it (by plate text, fuzzy; camera; time range).
//
// Two back ends:
//  - SQLite FTS5 (default; a file path): a trigram full-text index over the
//    plate folded for OCR confusions (O→0, I→1, B→8, S→5, Z→2), so "A8C1234"
//    finds ABC1234. Candidates share a trigram with the query; each is
//    scored by PlateSimilarity on the folded texts (a substring match
//    scores 1) and kept at or above min_similarity.
//  - OpenSearch (an http:// or https:// URL): documents are written with the
//    bulk API (POST /_bulk, NDJSON, _id = event_id, so a redelivered event
//    overwrites itself) into index `alpr-plates`; search is a bool query
//    with a fuzzy match on the plate and filters on camera and time.
// Errors: Unavailable for what a retry can fix (busy, unreachable, 429,
// 5xx), InvalidArgument for a document the index refuses (a 4xx item).
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plate_store.h"
#include "weir/status.h"

namespace alpr {

struct SearchQuery {
  std::string plate;  // any form: "abc-1234", "A8C1234"; empty = any plate
  std::string camera_id;
  std::optional<int64_t> from_ms;  // captured at or after
  std::optional<int64_t> to_ms;    // captured before
  double min_similarity = 0.7;
  size_t limit = 20;
};

struct SearchHit {
  std::string event_id;
  std::string plate;  // normalized
  std::string camera_id;
  std::string captured_at;
  double confidence = 0;
  double score = 0;  // similarity to the query, 0..1
};

class SearchIndex {
 public:
  // |target|: a file path (SQLite FTS5) or an http(s):// OpenSearch URL.
  static weir::Result<std::unique_ptr<SearchIndex>> Open(const std::string& target);
  virtual ~SearchIndex() = default;
  virtual weir::Status Index(const PlateRow& row) = 0;
  // Best score first, then newest first.
  virtual weir::Result<std::vector<SearchHit>> Search(const SearchQuery& q) = 0;
  virtual weir::Result<int64_t> Count() = 0;
  virtual std::string Describe() const = 0;
};

// The plate folded for OCR confusions: normalized, then O→0, I→1, B→8,
// S→5, Z→2.
std::string FoldPlate(std::string_view plate);

}  // namespace alpr
