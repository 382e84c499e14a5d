#pragma once
// Durable file writes: temp file in the same folder, fsync, rename, fsync of
// the folder. A crash leaves either the old content or the new, never half.

#include <string>
#include <string_view>

#include "common/status.h"

namespace slipway {

// Writes `content` to `path` atomically. When the file exists its permission
// bits are kept.
Status WriteFileDurably(const std::string& path, std::string_view content);

// Reads a whole file.
Result<std::string> ReadFile(const std::string& path);

}  // namespace slipway
