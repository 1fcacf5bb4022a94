#include "http/body_reader.h"

#include <httplib.h>

namespace weir::http {

LimitedBody ReadBodyWithin(const httplib::ContentReader& read, size_t limit) {
  constexpr size_t kMaxDiscardBytes = size_t{64} << 20;
  LimitedBody out;
  size_t discarded = 0;
  out.complete = read([&](const char* data, size_t n) {
    if (out.too_large || n > limit - out.bytes.size()) {
      out.too_large = true;
      out.bytes.clear();
      discarded += n;
      return discarded <= kMaxDiscardBytes;
    }
    out.bytes.append(data, n);
    return true;
  });
  return out;
}

}  // namespace weir::http
