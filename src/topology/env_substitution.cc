#include "topology/env_substitution.h"

#include <cctype>
#include <cstdlib>

namespace weir::topology {
namespace {

bool IsValidName(const std::string& name) {
  if (name.empty()) return false;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::optional<std::string> SubstituteEnv(const std::string& text, EnvLookup env, std::string* error,
                                         bool secret) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string::npos) {
      *error = "unterminated \"${\" (close it with \"}\", or write \"$${\" for a literal \"${\")";
      return std::nullopt;
    }
    std::string inner = text.substr(i + 2, close - i - 2);
    std::optional<std::string> fallback;
    if (size_t sep = inner.find(":-"); sep != std::string::npos) {
      fallback = inner.substr(sep + 2);
      inner.resize(sep);
    }
    if (!IsValidName(inner)) {
      *error = "invalid environment variable name" + (secret ? "" : " \"" + inner + "\"") +
               " in ${...} (letters, digits and _, not starting with a digit; write \"$${\" "
               "for a literal \"${\")";
      return std::nullopt;
    }
    std::optional<std::string> value = env(inner);
    if (fallback && (!value || value->empty())) value = fallback;
    if (!value) {
      *error = "environment variable " + inner + " is not set (set it, or write ${" + inner +
               ":-default} to give a default)";
      return std::nullopt;
    }
    out += *value;
    i = close + 1;
  }
  return out;
}

}  // namespace weir::topology
