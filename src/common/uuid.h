// common/uuid.h — random identifiers.
#pragma once

#include <string>

namespace weir {

// A random version-4 UUID (RFC 4122), lower-case hex with dashes: unique,
// not secret (a per-thread Mersenne Twister seeded from std::random_device).
std::string NewUuidV4();

}  // namespace weir
