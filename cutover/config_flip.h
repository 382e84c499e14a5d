#pragma once
// The app's connection config: one key in a `.env`-style (KEY=value) or JSON
// file, rewritten atomically (temp file, fsync, rename, permissions kept),
// with the previous content kept beside it as FILE.slipway-backup.

#include <string>

#include "common/status.h"

namespace slipway::cutover {

// The current value of `key` (JSON: a top-level key, or a dotted path).
Result<std::string> ReadConfigValue(const std::string& path, const std::string& key);

// Sets `key` to `value`; writes the backup first. Idempotent.
Status FlipConfig(const std::string& path, const std::string& key, const std::string& value);

// Puts the backup back (abort).
Status RestoreConfig(const std::string& path);

std::string BackupPath(const std::string& path);

// Pure rewrites, for tests.
Result<std::string> SetEnvValue(const std::string& content, const std::string& key, const std::string& value);
Result<std::string> SetJsonValue(const std::string& content, const std::string& key, const std::string& value);

}  // namespace slipway::cutover
