// ${NAME} substitution in weir.yaml scalars.
#pragma once

#include <optional>
#include <string>

#include "weir/topology.h"

namespace weir::topology {

// Replaces every ${NAME} in |text| with the value |env| gives for NAME, and
// every ${NAME:-default} with that value, or with |default| when NAME is unset
// or empty. "$${" stands for a literal "${". On failure returns nullopt and
// sets |*error| to a message that names the variable but never quotes the rest
// of |text|. When |secret|, not even a malformed ${...} is quoted (it may be part
// of a literal password). |env| must not be null.
std::optional<std::string> SubstituteEnv(const std::string& text, EnvLookup env, std::string* error,
                                         bool secret = false);

// The process environment (getenv).
std::optional<std::string> ProcessEnv(const std::string& name);

}  // namespace weir::topology
