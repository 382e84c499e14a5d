#pragma once
// The app's connection config: one key in a `.env`-style (KEY=value) or JSON
// file, rewritten atomically (temp file, fsync, rename, permissions kept),
// with the previous content kept beside it as FILE.slipway-backup.

#include <string>

#include "common/status.h"

namespace slipway::cutover {

// The current value of `key` (JSON: a top-level key, or a dotted path).
Result<std::string> ReadConfigValue(const std::string& path, const std::string& key);

// Sets `key` to `value`; writes the backup first. Idempotent. A file that does
// not exist is an error unless `create` (then it is made, and marked so that
// RestoreConfig removes it again).
Status FlipConfig(const std::string& path, const std::string& key, const std::string& value, bool create = false);

// Puts the backup back, or removes a file the flip created (abort).
Status RestoreConfig(const std::string& path);

std::string BackupPath(const std::string& path);
std::string CreatedMarkerPath(const std::string& path);

// Before anything is frozen: the flip can be done as asked. Refuses
// (kInvalidArgument) a missing file unless `create` (its folder must exist), a
// file that cannot be read or is not valid, and a key or file without the
// other. On success `*note` may say the key will be added.
Status CheckFlipTarget(const std::string& path, const std::string& key, bool create, std::string* note);

// Pure rewrites, for tests.
Result<std::string> SetEnvValue(const std::string& content, const std::string& key, const std::string& value);
Result<std::string> SetJsonValue(const std::string& content, const std::string& key, const std::string& value);

}  // namespace slipway::cutover
