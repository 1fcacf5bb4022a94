// weir/http/server.h — the HTTP server of `weir serve`: event ingest, the
// Confluent-compatible schema registry API and a health check.
//
// Routes:
//   POST /v1/events/{type}   one JSON event, or NDJSON (Content-Type
//                            application/x-ndjson): one event per line.
//                            202 once every event is delivered or durably
//                            spooled; 400 with the field errors of every bad
//                            line (nothing of that request is published);
//                            404 for an undeclared type; 413 over the body
//                            limit; 401 without the bearer token when one is
//                            configured; 503 when events could not be
//                            delivered nor spooled (the failed lines are
//                            named; retry them). docs/publisher.md has the shapes.
//   GET  /healthz            200 {"status": "ok", ...}; never needs a token.
//   the registry API         /subjects, /schemas, /config, /compatibility
//                            (registry/rest_api.h), when a registry is given.
//
// Security by default: the listener is loopback unless configured otherwise;
// every request body is limited; with a token, every route but /healthz
// requires "Authorization: Bearer <token>" (compared in constant time). The
// token is never logged.
//
// Threads: requests are served by the server's own worker threads. Stop()
// (or the destructor) stops accepting and waits for requests in progress.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "weir/status.h"

namespace weir::publish {
class Publisher;
}
namespace weir::observe {
class Registry;
}
namespace weir::registry {
class Registry;
}

namespace weir::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  int64_t max_body_bytes = int64_t{4} << 20;
  std::string bearer_token;  // empty: no authentication
  // Most events in one NDJSON request.
  int64_t max_events_per_request = 100000;
};

class Server {
 public:
  // Binds and starts serving on a thread of its own. |publisher| (ingest),
  // |registry| (registry API) and |metrics| (GET /metrics, the Prometheus
  // text format, behind the bearer token like every route but /healthz) may
  // each be null, which leaves their routes out; all must outlive the server.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                               publish::Publisher* publisher,
                                               registry::Registry* registry,
                                               observe::Registry* metrics = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port and "host:port".
  uint16_t port() const;
  std::string address() const;
  // Stops accepting, finishes requests in progress. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::http
