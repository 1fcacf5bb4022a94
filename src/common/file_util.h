// common/file_util.h — durable small-file writes, shared by every area that
// keeps state on disk (the embedded broker's logs and metadata, the local
// schema registry).
#pragma once

#include <filesystem>
#include <string_view>

#include "weir/status.h"

namespace weir {

// The suffix of the temporary file WriteFileAtomically() writes first.
// Readers of a folder skip (or clean up) files ending with it.
inline constexpr std::string_view kTempFileSuffix = ".tmp";

// fsync()s |dir| itself, so that a rename or a new file in it is durable.
Status SyncDirectory(const std::filesystem::path& dir);

// Replaces |path| with |content| so that a crash leaves either the old or
// the new content: writes path + ".tmp", fsyncs it, renames it over |path|
// and fsyncs the folder. On failure the temporary file is removed and |path|
// is unchanged. Errors name the file and the failing step. Two writers of the
// same |path| must be serialised by the caller (they share the .tmp name).
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view content);

}  // namespace weir
