#include "schema/json/metaschemas.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace weir::schema::json {
namespace {

constexpr std::string_view kDefaultDir = "/usr/lib/python3/dist-packages/jsonschema/schemas";
constexpr std::string_view kDraft7 = "http://json-schema.org/draft-07/schema";
constexpr std::string_view kDraft2020 = "https://json-schema.org/draft/2020-12/schema";
constexpr std::string_view kDraft2020Meta = "https://json-schema.org/draft/2020-12/meta/";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// URI -> document text, loaded on first use.
const std::map<std::string, std::string, std::less<>>& Loaded() {
  static std::map<std::string, std::string, std::less<>> docs;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("WEIR_JSON_METASCHEMA_DIR");
    std::string dir = env != nullptr && *env != '\0' ? env : std::string(kDefaultDir);
    std::string draft7 = ReadFile(dir + "/draft7.json");
    if (!draft7.empty()) docs.emplace(kDraft7, std::move(draft7));
    std::string draft2020 = ReadFile(dir + "/draft2020-12.json");
    if (!draft2020.empty()) docs.emplace(kDraft2020, std::move(draft2020));
    std::string vocabularies = ReadFile(dir + "/vocabularies.json");
    nlohmann::json vocab = nlohmann::json::parse(vocabularies, nullptr, /*allow_exceptions=*/false);
    if (vocab.is_object()) {
      for (const auto& [uri, doc] : vocab.items()) {
        if (std::string_view(uri).starts_with(kDraft2020Meta)) docs.emplace(uri, doc.dump());
      }
    }
  });
  return docs;
}

}  // namespace

std::optional<std::string_view> BuiltinMetaschema(std::string_view uri) {
  const auto& docs = Loaded();
  auto it = docs.find(uri);
  if (it == docs.end()) return std::nullopt;
  return std::string_view(it->second);
}

bool IsStandardMetaschema(std::string_view uri) {
  return uri == kDraft7 || uri == kDraft2020 || uri.starts_with(kDraft2020Meta);
}

}  // namespace weir::schema::json
