// examples/deeplens/upload_api.h — the seed's "Image Ingestion API": an HTTP
// endpoint that takes one image per request, stores its bytes in the blob
// store and publishes an ImageUploadedEvent to images.uploaded.
//
//   POST /api/v1/images?tenant_id=<tenant>[&file_name=<name>]
//        body: the image file's bytes (any Content-Type)
//     202 {"image_id", "tenant_id", "file_size", "storage_path", "outcome"}
//         once the event is delivered to Kafka, or spooled (outcome says which)
//     400 no tenant_id / a tenant_id that is not [A-Za-z0-9._-]{1,64} /
//         an empty body / multipart form data
//     405 another method on /api/v1/images; 404 another path
//     413 a body over ImageLimits::max_bytes
//     503 the event could not be published (the blob stays; nothing else)
//   GET /healthz  200 {"status": "ok", "spooling": bool}
// Every 4xx and 5xx body is {"error_code": <status>, "message": "..."},
// the message naming the parameter or limit at fault. The tenant may also be
// given as the header X-Tenant-Id, the file name as X-File-Name.
//
// The API does not judge the image (that is the validation worker's job,
// so that every accepted upload has its outcome in Kafka): a text file is
// accepted here and fails validation. Its mime_type is the one its magic
// bytes suggest (application/octet-stream when none).
//
// It listens on loopback unless told otherwise (there is no
// authentication); the body is read in pieces and refused past the limit,
// whether it comes with a Content-Length or chunked.
//
// Lifetime: the Publisher must outlive the API. Threads: Stop() and the
// accessors may be called from any thread; requests are served on
// httplib's worker threads, and on_upload runs there.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "blob_store.h"
#include "image_codec.h"
#include "weir/status.h"

namespace weir::publish {
class Publisher;
}

namespace deeplens {

struct UploadApiOptions {
  // host:port; port 0 picks a free port. Loopback by default.
  std::string listen = "127.0.0.1:8480";
  ImageLimits limits;     // max_bytes is the request body limit
  std::string blob_root;  // required: where image bytes are stored
  // Called with each ImageUploadedEvent once it is accepted. Must not
  // block for long or throw.
  std::function<void(const nlohmann::json& event)> on_upload;
};

struct UploadApiStats {
  uint64_t accepted = 0;  // 202
  uint64_t refused = 0;   // 4xx
  uint64_t failed = 0;    // 5xx
  uint64_t bytes = 0;     // of accepted images
};

class UploadApi {
 public:
  // Binds and starts serving. Fails naming the address when it cannot.
  static weir::Result<std::unique_ptr<UploadApi>> Start(UploadApiOptions options,
                                                        weir::publish::Publisher* publisher);
  ~UploadApi();  // Stop()s
  UploadApi(const UploadApi&) = delete;
  UploadApi& operator=(const UploadApi&) = delete;

  uint16_t port() const;
  // "http://host:port".
  std::string url() const;
  UploadApiStats Stats() const;
  // Stops accepting connections and waits for the server thread. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit UploadApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True for a tenant id the API accepts: 1..64 of [A-Za-z0-9._-].
bool ValidTenantId(std::string_view tenant_id);

// What an upload got back.
struct UploadReply {
  int status = 0;       // the HTTP status; 0 when there was no answer
  nlohmann::json body;  // the JSON body (null when not JSON)
  std::string error;    // why there was no answer
  std::string image_id() const {
    return body.is_object() ? body.value("image_id", std::string()) : std::string();
  }
};

// POSTs |bytes| to |base_url| ("http://host:port") as an upload of
// |tenant_id| (left out when empty) named |file_name|.
UploadReply PostImage(const std::string& base_url, const std::string& tenant_id,
                      const std::string& file_name, const std::string& bytes);

}  // namespace deeplens
