// examples/deeplens/vector_index.h — the vector DB of the seed's
// "Vector Indexing" stage, on SQLite (WAL): one row per image with its
// tenant, colour-histogram vector and perceptual hash, and the duplicate
// decision of the seed's "Duplicate Detection" stage.
//
// Duplicates. An image is a duplicate when an *original* (a row that is not
// itself a duplicate) of the same tenant has a perceptual hash within
// max_distance bits (default kDefaultDuplicateDistance); duplicate_of is
// the nearest such original (the earliest indexed on a tie). Comparing with
// originals only keeps every duplicate pointing at the root of its group.
// Images of different tenants are never duplicates of each other. The
// first of two near-identical images to be indexed is the original: Add()
// decides and inserts in one IMMEDIATE transaction, so two of them indexed
// at once cannot both miss each other.
//
// Idempotence. Add() of an image_id already indexed changes nothing and
// returns the stored entry (inserted = false) with its original decision
// and time, so a redelivered ImageProcessedEvent yields one row and an
// identical ImageIndexedEvent.
//
// Threads: every method may be called from any thread (one connection,
// serialised by a mutex). Several processes may share the file (SQLite
// locking, busy timeout 5 s).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "weir/status.h"

struct sqlite3;

namespace deeplens {

// Up to 10 differing bits of 64, a common pHash threshold: re-encoded,
// rescaled and slightly brightened copies of the generated pictures stay
// well below (0 bits), unrelated ones differ in 24 to 42 (the tests require
// copies <= 10 and unrelated pictures > 20).
inline constexpr int kDefaultDuplicateDistance = 10;

struct IndexEntry {
  std::string image_id;
  std::string tenant_id;
  uint64_t phash = 0;
  std::vector<double> histogram;
  std::string storage_path;
  std::optional<std::string> duplicate_of;
  std::optional<int> hash_distance;  // to duplicate_of
  std::string indexed_at;            // ISO-8601, when first indexed
};

struct AddOutcome {
  IndexEntry entry;       // as stored
  bool inserted = false;  // false: the image was already indexed
};

// One image similar to another, for Similar().
struct Neighbour {
  std::string image_id;
  double distance = 0;  // L1 distance of the histograms, 0..2
};

class VectorIndex {
 public:
  // Opens (creating when missing) the index at |path|.
  static weir::Result<std::unique_ptr<VectorIndex>> Open(
      const std::string& path, int max_distance = kDefaultDuplicateDistance);
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  // Indexes |entry| (its duplicate_of, hash_distance and indexed_at are
  // decided here; indexed_at is |now_iso| for a new row).
  weir::Result<AddOutcome> Add(const IndexEntry& entry, const std::string& now_iso);

  weir::Result<std::optional<IndexEntry>> Find(const std::string& image_id);
  // Every entry of |tenant_id| ("" = all), in indexing order.
  weir::Result<std::vector<IndexEntry>> List(const std::string& tenant_id = "");
  // The |k| images of the same tenant whose histograms are nearest to
  // |image_id|'s (a brute-force vector search).
  weir::Result<std::vector<Neighbour>> Similar(const std::string& image_id, size_t k);

  int max_distance() const { return max_distance_; }

 private:
  VectorIndex() = default;
  weir::Result<std::vector<IndexEntry>> Query(const std::string& where, const std::string& arg);

  std::mutex mu_;
  sqlite3* db_ = nullptr;  // guarded by mu_
  int max_distance_ = kDefaultDuplicateDistance;
};

}  // namespace deeplens
