// examples/deeplens/blob_store.h — where uploaded image bytes live: a local
// folder of content-addressed files, the embedded default of the seed's
// object storage ("StorageProvider", "StoragePath"). Events carry the
// file's path, never the bytes, so Kafka records stay small whatever the
// image size.
//
// A blob is stored at <root>/<first 2 hex digits>/<SHA-256 in hex>: the
// same bytes uploaded twice share one file, and a path names its content
// for good (a blob is never rewritten). Put() writes a temporary file,
// fsyncs it and renames it into place, so a path that an event carries
// always holds the whole blob, even after a crash. Several processes may
// share one root (for the workers of a real deployment, a shared mount).
//
// Threads: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "weir/status.h"

namespace deeplens {

// The SHA-256 of |bytes|, 64 lower-case hex digits (OpenSSL's libcrypto);
// "" only if libcrypto fails.
std::string Sha256Hex(std::string_view bytes);

// The storage_provider of events whose blobs are in a BlobStore.
inline constexpr const char* kLocalStorageProvider = "local";

class BlobStore {
 public:
  // |root| is created when missing (by Put).
  explicit BlobStore(std::string root);

  // Stores |bytes| and returns the blob's path (absolute when |root| is).
  weir::Result<std::string> Put(std::string_view bytes) const;

  // Reads a blob. kNotFound when there is no such file; kInvalidArgument,
  // naming the size, when it is larger than |max_bytes| (nothing is read).
  static weir::Result<std::string> Read(const std::string& path, uint64_t max_bytes);

  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

}  // namespace deeplens
