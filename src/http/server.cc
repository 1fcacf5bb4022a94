// The HTTP server of `weir serve`; see weir/http/server.h for the routes and
// docs/publisher.md ("HTTP ingest") for the request and response shapes.
#include "weir/http/server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/host_port.h"
#include "http/body_reader.h"
#include "registry/rest_api.h"
#include "weir/observe/metrics.h"
#include "weir/publish/publisher.h"

namespace weir::http {
namespace {

using nlohmann::json;

constexpr const char* kJson = "application/json";

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), kJson);
}

void ReplyError(httplib::Response& res, int status, const std::string& message) {
  Reply(res, status, json{{"error_code", status}, {"message", message}});
}

// Compares without an early exit, so response times do not reveal how much
// of a guessed token was right.
bool TokenMatches(std::string_view given, std::string_view expected) {
  unsigned diff = given.size() == expected.size() ? 0u : 1u;
  for (size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i]) ^
            static_cast<unsigned char>(expected.empty() ? 0 : expected[i % expected.size()]);
  }
  return diff == 0;
}

bool IsNdjson(const httplib::Request& req) {
  const std::string type = req.get_header_value("Content-Type");
  return type.find("ndjson") != std::string::npos || type.find("jsonl") != std::string::npos ||
         type.find("json-seq") != std::string::npos;
}

void HandleEvents(const ServerOptions& options, publish::Publisher& publisher,
                  const httplib::Request& req, std::string_view body, httplib::Response& res) {
  const std::string type = req.matches[1];
  if (!publisher.HasEventType(type)) {
    publish::PublishResult r = publisher.Check(type, "{}");
    ReplyError(res, 404, r.status.message());
    return;
  }
  // The events and their line numbers (1-based) in the body.
  std::vector<std::string_view> events;
  std::vector<int64_t> lines;
  if (IsNdjson(req)) {
    int64_t line = 0;
    size_t start = 0;
    while (start <= body.size()) {
      size_t end = body.find('\n', start);
      if (end == std::string_view::npos) end = body.size();
      ++line;
      std::string_view text = body.substr(start, end - start);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      if (text.find_first_not_of(" \t") != std::string_view::npos) {
        events.push_back(text);
        lines.push_back(line);
      }
      start = end + 1;
    }
  } else if (body.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    events.push_back(body);
    lines.push_back(1);
  }
  if (events.empty()) {
    ReplyError(res, 400,
               "the request has no event (send one JSON event, or NDJSON lines with "
               "Content-Type: application/x-ndjson)");
    return;
  }
  if (static_cast<int64_t>(events.size()) > options.max_events_per_request) {
    ReplyError(res, 413,
               fmt::format("{} events in one request; at most {}", events.size(),
                           options.max_events_per_request));
    return;
  }

  std::vector<publish::PublishResult> results =
      publisher.PublishBatch(type, events, publish::Publisher::BatchMode::kAllOrNothing);

  json errors = json::array();
  size_t delivered = 0, spooled = 0, duplicates = 0, refused = 0, failed = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const publish::PublishResult& r = results[i];
    switch (r.outcome) {
      case publish::PublishOutcome::kDelivered:
        ++delivered;
        break;
      case publish::PublishOutcome::kSpooled:
        ++spooled;
        break;
      case publish::PublishOutcome::kDuplicate:
        ++duplicates;
        break;
      case publish::PublishOutcome::kRefused:
        if (r.status.code() == StatusCode::kCancelled) break;  // valid, not published
        ++refused;
        if (errors.size() < 100) {
          if (r.field_errors.empty()) {
            errors.push_back(
                {{"line", lines[i]}, {"pointer", ""}, {"message", r.status.message()}});
          }
          for (const publish::FieldError& f : r.field_errors) {
            errors.push_back({{"line", lines[i]},
                              {"pointer", f.pointer},
                              {"keyword", f.keyword},
                              {"message", f.message}});
          }
        }
        break;
      case publish::PublishOutcome::kFailed:
        ++failed;
        if (errors.size() < 100) {
          errors.push_back({{"line", lines[i]},
                            {"message", r.status.message()},
                            {"kafka_error", r.status.kafka_error()}});
        }
        break;
    }
  }
  if (refused > 0) {
    Reply(res, 400,
          json{{"error_code", 400},
               {"message", fmt::format("{} of {} event(s) of type {} are invalid; none was "
                                       "published",
                                       refused, events.size(), type)},
               {"errors", std::move(errors)}});
    return;
  }
  json summary{{"events", events.size()},
               {"delivered", delivered},
               {"spooled", spooled},
               {"duplicates", duplicates}};
  if (failed > 0) {
    summary["error_code"] = 503;
    summary["failed"] = failed;
    summary["message"] = fmt::format(
        "{} of {} event(s) could not be delivered nor spooled; retry the lines named in errors",
        failed, events.size());
    summary["errors"] = std::move(errors);
    Reply(res, 503, summary);
    return;
  }
  Reply(res, 202, summary);
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  httplib::Server server;
  std::thread thread;
  std::string host;
  int port = 0;
  bool stopped = false;
  std::atomic<bool> loop_ended{false};
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                              publish::Publisher* publisher,
                                              registry::Registry* registry,
                                              observe::Registry* metrics) {
  auto impl = std::make_unique<Impl>();
  Impl& d = *impl;
  d.options = options;
  uint16_t port = 0;
  if (!SplitHostPort(options.listen, &d.host, &port) || options.listen.rfind(':') == 0) {
    return Status::InvalidArgument(fmt::format(
        "invalid listen address \"{}\" (expected host:port, e.g. 127.0.0.1:8080)", options.listen));
  }
  httplib::Server& srv = d.server;
  srv.set_payload_max_length(static_cast<size_t>(options.max_body_bytes));
  srv.set_read_timeout(30, 0);
  srv.set_write_timeout(30, 0);
  const std::string token = options.bearer_token;
  srv.set_pre_routing_handler([token](const httplib::Request& req, httplib::Response& res) {
    if (token.empty() || req.path == "/healthz") return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    constexpr std::string_view kBearer = "bearer ";
    const bool bearer =
        auth.size() > kBearer.size() &&
        std::equal(kBearer.begin(), kBearer.end(), auth.begin(),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
    if (bearer && TokenMatches(std::string_view(auth).substr(kBearer.size()), token)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("WWW-Authenticate", "Bearer realm=\"weir\"");
    // The body is left unread: the client must not send its next request on
    // this connection, or the server would take the body for it.
    res.set_header("Connection", "close");
    ReplyError(res, 401, "missing or wrong bearer token (Authorization: Bearer <token>)");
    return httplib::Server::HandlerResponse::Handled;
  });
  srv.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler already explained itself
    std::string message;
    switch (res.status) {
      case 404:
        message = fmt::format("no route {} {}", req.method, req.path);
        break;
      case 413:
        message = "the request body is larger than the server's limit (serve.max_body)";
        break;
      default:
        message = fmt::format("HTTP {}", res.status);
    }
    ReplyError(res, res.status, message);
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
        spdlog::error("http: {} {} failed: {}", req.method, req.path, what);
        ReplyError(res, 500, "internal error: " + what);
      });
  if (metrics != nullptr) {
    srv.Get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
      res.status = 200;
      res.set_content(metrics->Render(), observe::Registry::ContentType());
    });
  }
  srv.Get("/healthz", [publisher](const httplib::Request&, httplib::Response& res) {
    json body{{"status", "ok"}};
    if (publisher != nullptr) {
      publish::PublisherStats s = publisher->Stats();
      body["spooling"] = s.spooling;
      body["spool_records"] = s.spool_records;
    }
    Reply(res, 200, body);
  });
  if (publisher != nullptr) {
    const ServerOptions* opts = &d.options;
    // The route reads the body itself: httplib (0.11) applies its payload
    // limit to a Content-Length only, and would read a chunked body whole,
    // however large.
    srv.Post(R"(/v1/events/([^/]+))", [opts, publisher](const httplib::Request& req,
                                                        httplib::Response& res,
                                                        const httplib::ContentReader& read) {
      if (req.is_multipart_form_data()) {
        res.set_header("Connection", "close");  // the body is left unread
        ReplyError(res, 400,
                   "multipart form data is not accepted (send one JSON event, or "
                   "NDJSON lines with Content-Type: application/x-ndjson)");
        return;
      }
      const size_t limit = static_cast<size_t>(opts->max_body_bytes);
      const LimitedBody body = ReadBodyWithin(read, limit);
      if (body.too_large || res.status == 413) {
        if (!body.complete) res.set_header("Connection", "close");  // the rest is left unread
        ReplyError(res, 413,
                   fmt::format("the request body is larger than the server's limit of {} bytes "
                               "(serve.max_body)",
                               limit));
        return;
      }
      if (!body.complete) {
        res.set_header("Connection", "close");
        ReplyError(res, 400, "the request body could not be read");
        return;
      }
      HandleEvents(*opts, *publisher, req, body.bytes, res);
    });
  }
  if (registry != nullptr) registry::MountRegistryApi(srv, *registry);

  if (port == 0) {
    d.port = srv.bind_to_any_port(d.host);
  } else {
    d.port = srv.bind_to_port(d.host, port) ? port : -1;
  }
  if (d.port <= 0) {
    return Status::Unavailable(
        fmt::format("cannot listen on {} (in use, or not an address of "
                    "this machine)",
                    options.listen));
  }
  d.thread = std::thread([&d] {
    if (!d.server.listen_after_bind()) spdlog::error("http: the server on port {} stopped", d.port);
    d.loop_ended.store(true);
  });
  // Stop() must not run before the accept loop has started, or it would not
  // see it running and the loop would never end.
  while (!d.server.is_running() && !d.loop_ended.load()) std::this_thread::yield();
  if (d.loop_ended.load()) {
    d.thread.join();
    return Status::Unavailable(fmt::format("the server on {} stopped at once", options.listen));
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return static_cast<uint16_t>(impl_->port); }

std::string Server::address() const {
  const std::string& h = impl_->host;
  if (h.find(':') != std::string::npos) return fmt::format("[{}]:{}", h, impl_->port);
  return fmt::format("{}:{}", h, impl_->port);
}

void Server::Stop() {
  if (impl_ == nullptr || impl_->stopped) return;
  impl_->stopped = true;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace weir::http
