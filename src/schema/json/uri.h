// URI references (RFC 3986) as JSON Schema uses them: resolving "$id" and
// "$ref" against a base URI, and splitting off the fragment.
#pragma once

#include <string>
#include <string_view>

namespace weir::schema::json {

// Resolves |ref| against |base| (RFC 3986 section 5.2, with dot-segment
// removal). Either may lack a scheme; an empty |base| returns |ref| with its
// dot segments removed.
std::string ResolveUri(std::string_view base, std::string_view ref);

// Splits "a#b" into "a" and "b". |fragment| is empty when there is none.
void SplitFragment(std::string_view uri, std::string* without_fragment, std::string* fragment);

// Decodes %XX escapes; invalid escapes are kept as they are.
std::string PercentDecode(std::string_view s);

}  // namespace weir::schema::json
