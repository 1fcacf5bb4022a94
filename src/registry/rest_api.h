// registry/rest_api.h — the Confluent Schema Registry REST API, served by
// weir over any Registry (docs/registry.md lists the routes).
//
// Internal: `weir serve` mounts it on its HTTP server; tests mount it on their
// own. The server's owner decides everything about the server itself
// (address, body size limits, authentication, error pages for unknown
// routes); this only adds routes.
#pragma once

#include <httplib.h>

#include "weir/registry/registry.h"

namespace weir::registry {

// Adds the registry routes to |server|, answering from |registry|.
// |registry| must outlive the server's last request; it is called from the
// server's worker threads, so it must be thread-safe (every Registry from
// OpenRegistry() is). Answers use the Confluent JSON shapes, status codes and
// error codes (40401 subject not found, 40402 version not found, 40403 schema
// not found, 409 incompatible, 42201 invalid schema, 42202 invalid version,
// 42203 invalid compatibility level, 50001 store error, 50002 timeout, 50003
// the backing registry unreachable); malformed request bodies get 400 or 422
// with a message. Handlers never throw.
void MountRegistryApi(httplib::Server& server, Registry& registry);

}  // namespace weir::registry
