// Reading a request body within a size limit, for the cpp-httplib routes
// (weir serve's ingest, the DeepLens upload API) that take a ContentReader.
//
// httplib (0.11) applies its payload limit (set_payload_max_length) to a
// Content-Length only, and would read a chunked body whole, however large;
// a route that must keep to its limit reads the body itself with
// ReadBodyWithin(). Set the server's payload limit one byte over the
// route's, so that httplib's own check (a 413 before the route runs, seen as
// res.status == 413) does not refuse a body of exactly the limit.
#pragma once

#include <cstddef>
#include <string>

namespace httplib {
class ContentReader;
}  // namespace httplib

namespace weir::http {

// A request body as ReadBodyWithin() read it.
struct LimitedBody {
  std::string bytes;       // the body; empty once too_large
  bool too_large = false;  // more than the limit was sent: answer 413
  bool complete = false;   // read to its end; else part of it is left unread,
                           // and the connection must be closed (the server
                           // would take the rest for the next request)
};

// Reads the body through |read|, keeping at most |limit| bytes. Past the
// limit the rest is read and dropped (up to 64 MiB), so that a client still
// sending it gets to read the 413 rather than a reset connection.
LimitedBody ReadBodyWithin(const httplib::ContentReader& read, size_t limit);

}  // namespace weir::http
