// The official meta-schemas of draft 7 and 2020-12 (with the 2020-12
// vocabulary meta-schemas), so that a schema may "$ref" them without a
// resolver.
//
// They are not copied into weir: they are read, once, from Debian's
// python3-jsonschema package, which ships the documents of json-schema.org
// in /usr/lib/python3/dist-packages/jsonschema/schemas/ (draft7.json,
// draft2020-12.json and vocabularies.json, keyed by URI).
// $WEIR_JSON_METASCHEMA_DIR points elsewhere. When neither is readable, a
// "$ref" to a meta-schema needs a resolver like any other document.
#pragma once

#include <optional>
#include <string_view>

namespace weir::schema::json {

// The text of the meta-schema whose URI (without fragment) is |uri|, e.g.
// "http://json-schema.org/draft-07/schema"; nullopt for any other URI or
// when the meta-schemas are not installed. The text lives for the whole
// program. Thread-safe.
std::optional<std::string_view> BuiltinMetaschema(std::string_view uri);

// True for the URI of a meta-schema weir knows (installed or not).
bool IsStandardMetaschema(std::string_view uri);

}  // namespace weir::schema::json
