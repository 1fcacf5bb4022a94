// common/host_port.h — "host:port" listen addresses, as weir.yaml, `weir
// broker --listen` and `weir serve --listen` write them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weir {

// Splits |address| at its last ':' into |host| (brackets of an IPv6
// literal, "[::1]", removed; empty means every interface) and |port|, which
// must be all digits and 0..65535. False, leaving the outputs unspecified,
// when it is not of that form.
bool SplitHostPort(std::string_view address, std::string* host, uint16_t* port);

}  // namespace weir
