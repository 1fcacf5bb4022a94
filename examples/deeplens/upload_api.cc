#include "upload_api.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "common/host_port.h"
#include "common/uuid.h"
#include "deeplens_events.h"
#include "http/body_reader.h"
#include "weir/publish/publisher.h"

namespace deeplens {

using nlohmann::json;

namespace {

constexpr const char* kImagesPath = "/api/v1/images";
constexpr size_t kMaxFileNameBytes = 255;

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void ReplyError(httplib::Response& res, int status, const std::string& message) {
  Reply(res, status, json{{"error_code", status}, {"message", message}});
}

// The query parameter |name|, else the header |header|.
std::string Param(const httplib::Request& req, const char* name, const char* header) {
  if (req.has_param(name)) return req.get_param_value(name);
  return req.get_header_value(header);
}

}  // namespace

bool ValidTenantId(std::string_view t) {
  if (t.empty() || t.size() > 64) return false;
  for (char c : t) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

UploadReply PostImage(const std::string& base_url, const std::string& tenant_id,
                      const std::string& file_name, const std::string& bytes) {
  httplib::Client client(base_url);
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(60, 0);
  client.set_write_timeout(60, 0);
  httplib::Params params;
  if (!tenant_id.empty()) params.emplace("tenant_id", tenant_id);
  if (!file_name.empty()) params.emplace("file_name", file_name);
  const std::string path = httplib::append_query_params(kImagesPath, params);
  UploadReply reply;
  auto res = client.Post(path, bytes, "application/octet-stream");
  if (!res) {
    reply.error = fmt::format("POST {}{}: {}", base_url, path, httplib::to_string(res.error()));
    return reply;
  }
  reply.status = res->status;
  reply.body = json::parse(res->body, nullptr, false);
  if (reply.body.is_discarded()) reply.body = nullptr;
  return reply;
}

struct UploadApi::Impl {
  UploadApiOptions options;
  weir::publish::Publisher* publisher = nullptr;
  std::unique_ptr<BlobStore> blobs;
  httplib::Server server;
  std::thread thread;
  std::string host;
  int port = -1;
  std::atomic<bool> loop_ended{false};
  bool stopped = false;
  mutable std::mutex mu;
  UploadApiStats stats;  // guarded by mu

  void Count(int status, uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mu);
    if (status >= 500) {
      ++stats.failed;
    } else if (status >= 400) {
      ++stats.refused;
    } else {
      ++stats.accepted;
      stats.bytes += bytes;
    }
  }

  void Upload(const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader& read) {
    const uint64_t limit = options.limits.max_bytes;
    auto refuse = [&](int status, const std::string& message, bool body_unread) {
      // A client must not send its next request on a connection whose body
      // was left unread: the server would take the rest for it.
      if (body_unread) res.set_header("Connection", "close");
      ReplyError(res, status, message);
      Count(status, 0);
    };
    if (req.is_multipart_form_data()) {
      refuse(400, "multipart form data is not accepted: send the image's bytes as the body", true);
      return;
    }
    const std::string tenant = Param(req, "tenant_id", "X-Tenant-Id");
    if (tenant.empty()) {
      refuse(400, "tenant_id is missing: give it as ?tenant_id=<tenant> or the header X-Tenant-Id",
             true);
      return;
    }
    if (!ValidTenantId(tenant)) {
      refuse(400,
             fmt::format("tenant_id \"{}\" is not 1 to 64 of the characters A-Z a-z 0-9 . _ -",
                         tenant.substr(0, 80)),
             true);
      return;
    }
    std::string file_name = Param(req, "file_name", "X-File-Name");
    if (file_name.size() > kMaxFileNameBytes) {
      refuse(
          400,
          fmt::format("file_name has {} bytes, more than {}", file_name.size(), kMaxFileNameBytes),
          true);
      return;
    }
    const weir::http::LimitedBody read_body =
        weir::http::ReadBodyWithin(read, static_cast<size_t>(limit));
    if (read_body.too_large || res.status == 413) {
      refuse(413,
             fmt::format("the image is larger than the limit of {} bytes (max image size)", limit),
             !read_body.complete);
      return;
    }
    if (!read_body.complete) {
      refuse(400, "the request body could not be read", true);
      return;
    }
    const std::string& body = read_body.bytes;
    if (body.empty()) {
      refuse(400, "the request body is empty: send the image's bytes", false);
      return;
    }
    auto path = blobs->Put(body);
    if (!path.ok()) {
      spdlog::error("deeplens upload: storing an image of tenant {}: {}", tenant,
                    path.status().ToString());
      ReplyError(res, 503, "the image could not be stored: " + path.status().message());
      Count(503, 0);
      return;
    }
    const std::string image_id = weir::NewUuidV4();
    if (file_name.empty()) file_name = image_id;
    const json event{{"tenant_id", tenant},
                     {"image_id", image_id},
                     {"original_file_name", file_name},
                     {"storage_provider", kLocalStorageProvider},
                     {"storage_path", *path},
                     {"file_size", body.size()},
                     {"mime_type", ImageMimeType(SniffFormat(body))},
                     {"uploaded_at", NowIso8601()}};
    const weir::publish::PublishResult r = publisher->Publish(
        kImageUploadedEvent, event.dump(-1, ' ', false, json::error_handler_t::replace));
    if (!r.accepted()) {
      spdlog::error("deeplens upload: publishing image {}: {}", image_id, r.status.ToString());
      ReplyError(res, 503,
                 fmt::format("the upload event could not be published ({}): {}",
                             weir::publish::PublishOutcomeName(r.outcome), r.status.message()));
      Count(503, 0);
      return;
    }
    if (options.on_upload) options.on_upload(event);
    Reply(res, 202,
          json{{"image_id", image_id},
               {"tenant_id", tenant},
               {"file_size", body.size()},
               {"storage_path", *path},
               {"outcome", weir::publish::PublishOutcomeName(r.outcome)}});
    Count(202, body.size());
  }
};

weir::Result<std::unique_ptr<UploadApi>> UploadApi::Start(UploadApiOptions options,
                                                          weir::publish::Publisher* publisher) {
  if (publisher == nullptr || !publisher->HasEventType(kImageUploadedEvent)) {
    return weir::Status::InvalidArgument(fmt::format(
        "the upload API publishes {}, which the topology does not declare", kImageUploadedEvent));
  }
  if (options.blob_root.empty()) {
    return weir::Status::InvalidArgument("the upload API needs a blob folder");
  }
  auto impl = std::make_unique<Impl>();
  Impl& d = *impl;
  d.options = std::move(options);
  d.publisher = publisher;
  d.blobs = std::make_unique<BlobStore>(d.options.blob_root);
  uint16_t port = 0;
  if (!weir::SplitHostPort(d.options.listen, &d.host, &port) || d.host.empty()) {
    return weir::Status::InvalidArgument(
        fmt::format("invalid listen address \"{}\" (expected host:port, e.g. 127.0.0.1:8480)",
                    d.options.listen));
  }
  httplib::Server& srv = d.server;
  // One byte over the limit, so that httplib's own check (Content-Length
  // only) leaves the exact limit to the reader above.
  srv.set_payload_max_length(static_cast<size_t>(d.options.limits.max_bytes) + 1);
  srv.set_read_timeout(30, 0);
  srv.set_write_timeout(30, 0);
  srv.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler already explained itself
    if (res.status == 404) {
      ReplyError(res, 404,
                 fmt::format("no route {} {} (POST {} uploads an image)", req.method, req.path,
                             kImagesPath));
    } else {
      ReplyError(res, res.status, fmt::format("HTTP {}", res.status));
    }
  });
  srv.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("deeplens upload: {} {} failed: {}", req.method, req.path, what);
        ReplyError(res, 500, "internal error: " + what);
      });
  srv.Post(kImagesPath, [&d](const httplib::Request& req, httplib::Response& res,
                             const httplib::ContentReader& read) { d.Upload(req, res, read); });
  auto wrong_method = [&d](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Allow", "POST");
    ReplyError(res, 405,
               fmt::format("method {} is not allowed on {}: POST the image's bytes", req.method,
                           kImagesPath));
    d.Count(405, 0);
  };
  srv.Get(kImagesPath, wrong_method);
  srv.Put(kImagesPath, wrong_method);
  srv.Delete(kImagesPath, wrong_method);
  srv.Patch(kImagesPath, wrong_method);
  srv.Get("/healthz", [publisher](const httplib::Request&, httplib::Response& res) {
    const weir::publish::PublisherStats s = publisher->Stats();
    Reply(res, 200, json{{"status", "ok"}, {"spooling", s.spooling}});
  });

  d.port = port == 0 ? srv.bind_to_any_port(d.host) : (srv.bind_to_port(d.host, port) ? port : -1);
  if (d.port <= 0) {
    return weir::Status::Unavailable(fmt::format(
        "cannot listen on {} (in use, or not an address of this machine)", d.options.listen));
  }
  d.thread = std::thread([&d] {
    if (!d.server.listen_after_bind()) {
      spdlog::error("deeplens upload: the server on port {} stopped", d.port);
    }
    d.loop_ended.store(true);
  });
  // Stop() must not run before the accept loop has started, or it would not
  // see it and the loop would never end.
  while (!d.server.is_running() && !d.loop_ended.load()) std::this_thread::yield();
  if (d.loop_ended.load()) {
    d.thread.join();
    return weir::Status::Unavailable(
        fmt::format("the upload API on {} stopped at once", d.options.listen));
  }
  return std::unique_ptr<UploadApi>(new UploadApi(std::move(impl)));
}

UploadApi::UploadApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UploadApi::~UploadApi() { Stop(); }

uint16_t UploadApi::port() const { return static_cast<uint16_t>(impl_->port); }

std::string UploadApi::url() const {
  const std::string& h = impl_->host;
  if (h.find(':') != std::string::npos) return fmt::format("http://[{}]:{}", h, impl_->port);
  return fmt::format("http://{}:{}", h, impl_->port);
}

UploadApiStats UploadApi::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

void UploadApi::Stop() {
  if (impl_ == nullptr || impl_->stopped) return;
  impl_->stopped = true;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace deeplens
