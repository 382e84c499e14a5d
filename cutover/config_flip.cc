#include "cutover/config_flip.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/durable_file.h"

namespace slipway::cutover {
namespace {

bool IsJson(const std::string& path, const std::string& content) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) return true;
  size_t i = content.find_first_not_of(" \t\r\n");
  return i != std::string::npos && content[i] == '{';
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Splits "KEY=value" (optionally "export KEY=value"); false if not such a line.
bool ParseEnvLine(const std::string& line, std::string* key, std::string* value, std::string* prefix) {
  std::string t = Trim(line);
  if (t.empty() || t[0] == '#') return false;
  std::string p;
  if (t.rfind("export ", 0) == 0) {
    p = "export ";
    t = Trim(t.substr(7));
  }
  size_t eq = t.find('=');
  if (eq == std::string::npos) return false;
  *key = Trim(t.substr(0, eq));
  *value = Trim(t.substr(eq + 1));
  *prefix = p;
  return true;
}

std::string Unquote(const std::string& v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) return v.substr(1, v.size() - 2);
  return v;
}

nlohmann::json::json_pointer PointerFor(const std::string& key) {
  std::string p;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    p += "/" + part;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return nlohmann::json::json_pointer(p);
}

}  // namespace

std::string BackupPath(const std::string& path) { return path + ".slipway-backup"; }
std::string CreatedMarkerPath(const std::string& path) { return path + ".slipway-created"; }

Status CheckFlipTarget(const std::string& path, const std::string& key, bool create, std::string* note) {
  if (path.empty() != key.empty()) {
    return InvalidArgument("--flip-file and --flip-key go together: the file to rewrite and the key in it");
  }
  if (path.empty()) return Status::Ok();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!create) {
      return InvalidArgument("the flip file " + path +
                             " does not exist (a mistyped path? the app would never read it); pass "
                             "--create-flip-file to create it");
    }
    std::filesystem::path dir = std::filesystem::absolute(path, ec).parent_path();
    if (!std::filesystem::is_directory(dir, ec)) {
      return InvalidArgument("cannot create the flip file " + path + ": folder " + dir.string() + " does not exist");
    }
    if (::access(dir.c_str(), W_OK) != 0) {
      return InvalidArgument("cannot create the flip file " + path + ": folder " + dir.string() + " is not writable");
    }
    *note = "the flip file " + path + " does not exist; it will be created with " + key;
    return Status::Ok();
  }
  if (!std::filesystem::is_regular_file(path, ec)) return InvalidArgument("the flip file " + path + " is not a file");
  if (::access(path.c_str(), R_OK | W_OK) != 0) {
    return InvalidArgument("the flip file " + path + " cannot be read and written by this user");
  }
  auto current = ReadConfigValue(path, key);
  if (current.ok()) return Status::Ok();
  if (current.status().code() != Code::kNotFound) return InvalidArgument(current.status().message());
  *note = current.status().message() + "; it will be added";
  return Status::Ok();
}

Result<std::string> SetEnvValue(const std::string& content, const std::string& key, const std::string& value) {
  if (value.find('\n') != std::string::npos) return InvalidArgument("a config value cannot hold a newline");
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    lines.push_back(content.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  const bool trailing_newline = !content.empty() && content.back() == '\n';
  // A shell or a dotenv reader takes the last assignment: rewrite that one.
  int target = -1;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string k, v, prefix;
    if (ParseEnvLine(lines[i], &k, &v, &prefix) && k == key) target = static_cast<int>(i);
  }
  if (target >= 0) {
    std::string k, v, prefix;
    ParseEnvLine(lines[static_cast<size_t>(target)], &k, &v, &prefix);
    // Keep the quoting the file used.
    char q = (!v.empty() && (v.front() == '"' || v.front() == '\'')) ? v.front() : 0;
    bool needs_quotes = value.find_first_of(" #\"'$`\\") != std::string::npos;
    if (q == 0 && needs_quotes) q = '\'';
    if (q == '\'' && value.find('\'') != std::string::npos) q = '"';
    std::string rendered = value;
    if (q == '"') {
      rendered.clear();
      for (char c : value) {
        if (c == '"' || c == '\\' || c == '$' || c == '`') rendered += '\\';
        rendered += c;
      }
    }
    lines[static_cast<size_t>(target)] =
        prefix + key + "=" + (q ? std::string(1, q) : "") + rendered + (q ? std::string(1, q) : "");
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    out += lines[i];
    if (i + 1 < lines.size() || trailing_newline) out += '\n';
  }
  if (target < 0) {
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += key + "=" + value + "\n";
  }
  return out;
}

Result<std::string> SetJsonValue(const std::string& content, const std::string& key, const std::string& value) {
  nlohmann::json j = nlohmann::json::parse(content, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("the config file is not a JSON object");
  try {
    if (j.contains(key)) {
      j[key] = value;
    } else {
      j[PointerFor(key)] = value;
    }
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("cannot set ") + key + " in the JSON config: " + e.what());
  }
  return j.dump(2) + "\n";
}

Result<std::string> ReadConfigValue(const std::string& path, const std::string& key) {
  ASSIGN_OR_RETURN(std::string content, ReadFile(path));
  if (IsJson(path, content)) {
    nlohmann::json j = nlohmann::json::parse(content, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return InvalidArgument("config file " + path + " is not a JSON object");
    if (j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
    auto ptr = PointerFor(key);
    if (j.contains(ptr) && j[ptr].is_string()) return j[ptr].get<std::string>();
    return Status(Code::kNotFound, "key " + key + " not found in " + path);
  }
  size_t pos = 0;
  std::optional<std::string> found;
  while (pos <= content.size()) {
    size_t nl = content.find('\n', pos);
    std::string line = content.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    std::string k, v, prefix;
    if (ParseEnvLine(line, &k, &v, &prefix) && k == key) found = Unquote(v);  // the last one wins
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  if (found) return *found;
  return Status(Code::kNotFound, "key " + key + " not found in " + path);
}

Status FlipConfig(const std::string& path, const std::string& key, const std::string& value, bool create) {
  struct stat st {};
  std::string content;
  if (::stat(path.c_str(), &st) != 0) {
    if (!create) return InvalidArgument("the flip file " + path + " does not exist");
    // Nothing to back up: the marker tells an abort to remove the file.
    RETURN_IF_ERROR(WriteFileDurably(CreatedMarkerPath(path), ""));
    if (IsJson(path, "")) content = "{}";
  } else {
    ASSIGN_OR_RETURN(content, ReadFile(path));
    const std::string backup = BackupPath(path);
    // The first flip keeps the app's original file; a re-run keeps that
    // backup (and a file the flip created has none).
    if (::stat(backup.c_str(), &st) != 0 && ::stat(CreatedMarkerPath(path).c_str(), &st) != 0) {
      RETURN_IF_ERROR(WriteFileDurably(backup, content));
    }
  }
  std::string updated;
  if (IsJson(path, content)) {
    ASSIGN_OR_RETURN(updated, SetJsonValue(content, key, value));
  } else {
    ASSIGN_OR_RETURN(updated, SetEnvValue(content, key, value));
  }
  if (updated == content) return Status::Ok();
  return WriteFileDurably(path, updated);
}

Status RestoreConfig(const std::string& path) {
  struct stat st {};
  if (::stat(CreatedMarkerPath(path).c_str(), &st) == 0) {
    ::unlink(path.c_str());
    ::unlink(CreatedMarkerPath(path).c_str());
    return Status::Ok();
  }
  auto backup = ReadFile(BackupPath(path));
  if (!backup.ok()) return Status::Ok();  // never flipped
  RETURN_IF_ERROR(WriteFileDurably(path, *backup));
  ::unlink(BackupPath(path).c_str());
  return Status::Ok();
}

}  // namespace slipway::cutover
