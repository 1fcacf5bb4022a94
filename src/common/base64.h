// common/base64.h — standard base64 (RFC 4648, with padding), for bytes that
// must be shown as JSON text.
#pragma once

#include <string>
#include <string_view>

namespace weir {

std::string Base64Encode(std::string_view bytes);

}  // namespace weir
