#pragma once
// app_follower's reading of the app's config: the database URL under a key of
// a `.env` or JSON file (read independently of slipway's own config code, as
// an app would), polled for changes, and what kind of database a URL names.

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "bench/bench_util.h"
#include "common/redact.h"
#include "common/status.h"

namespace slipway::bench::follow {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxConfigBytes = 1 << 20;

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// ---- config file ---------------------------------------------------------

// `.env`: the last `KEY=value` line wins, as when a shell sources the file.
inline std::optional<std::string> FindEnvValue(std::string_view text, std::string_view key) {
  std::optional<std::string> found;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.rfind("export ", 0) == 0) line = Trim(line.substr(7));
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || Trim(line.substr(0, eq)) != key) continue;
    std::string_view v = Trim(line.substr(eq + 1));
    std::string value;
    if (!v.empty() && (v.front() == '"' || v.front() == '\'')) {
      const char q = v.front();
      size_t i = 1;
      for (; i < v.size() && v[i] != q; ++i) {
        if (q == '"' && v[i] == '\\' && i + 1 < v.size()) {
          ++i;
          value += v[i] == 'n' ? '\n' : v[i];
        } else {
          value += v[i];
        }
      }
      if (i >= v.size()) continue;  // unterminated: a half-written file
    } else {
      // An unquoted value ends at a " #" comment.
      size_t hash = v.find(" #");
      value = std::string(Trim(v.substr(0, hash)));
    }
    found = std::move(value);
  }
  return found;
}

// JSON: a top-level member, else a dotted path into nested objects ("db.url").
inline Result<std::optional<std::string>> FindJsonValue(std::string_view text, const std::string& key) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("config: not a JSON object");
  const nlohmann::json* node = &j;
  if (!j.contains(key)) {
    for (size_t start = 0; node != nullptr;) {
      const size_t dot = key.find('.', start);
      const std::string part = key.substr(start, dot == std::string::npos ? dot : dot - start);
      node = node->is_object() && node->contains(part) ? &(*node)[part] : nullptr;
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  } else {
    node = &j[key];
  }
  if (node == nullptr) return std::optional<std::string>();
  if (!node->is_string()) return InvalidArgument("config: JSON value " + key + " is not a string");
  return std::optional<std::string>(node->get<std::string>());
}

inline Result<std::string> ReadConfigUrl(const std::string& path, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("config " + path + ": " + std::strerror(errno));
  std::string text;
  text.resize(kMaxConfigBytes);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  std::string_view body = text;
  if (body.size() >= 3 && body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);  // BOM
  size_t first = body.find_first_not_of(" \t\r\n");
  std::optional<std::string> value;
  if (first != std::string_view::npos && body[first] == '{') {
    ASSIGN_OR_RETURN(value, FindJsonValue(body, key));
  } else {
    value = FindEnvValue(body, key);
  }
  if (!value) return NotFound("config " + path + " has no " + key);
  if (value->empty()) return InvalidArgument("config " + path + ": " + key + " is empty");
  return *value;
}

// Re-reads the config file at most every `every` (or when forced). A file that
// cannot be read or parsed keeps the last good URL: a careless writer may be
// halfway through rewriting it.
class ConfigWatcher {
 public:
  ConfigWatcher(std::string path, std::string key, Clock::duration every)
      : path_(std::move(path)), key_(std::move(key)), every_(every) {}

  Status Load() {
    ASSIGN_OR_RETURN(url_, ReadConfigUrl(path_, key_));
    last_read_ = Clock::now();
    return Status::Ok();
  }

  void Poll(bool force) {
    const auto now = Clock::now();
    if (!force && now - last_read_ < every_) return;
    last_read_ = now;
    auto url = ReadConfigUrl(path_, key_);
    if (url.ok()) {
      url_ = std::move(url).value();
      last_error_.clear();
    } else if (url.status().message() != last_error_) {
      last_error_ = url.status().message();
      std::fprintf(stderr, "app_follower: keeping the current URL: %s\n", last_error_.c_str());
    }
  }

  const std::string& url() const { return url_; }

 private:
  std::string path_, key_;
  Clock::duration every_;
  Clock::time_point last_read_;
  std::string url_;
  std::string last_error_;
};

// ---- targets ---------------------------------------------------------------

enum class Kind { kSqlite, kPg };

inline std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Target {
  Kind kind;
  std::string sqlite_path;  // kSqlite
};

inline Result<Target> ParseTarget(const std::string& url) {
  if (url.rfind("sqlite:", 0) == 0) {
    std::string_view rest = std::string_view(url).substr(7);
    if (rest.rfind("//", 0) == 0) rest.remove_prefix(2);  // empty authority
    rest = rest.substr(0, rest.find('?'));
    while (rest.rfind("//", 0) == 0) rest.remove_prefix(1);  // sqlite:////abs
    if (rest.empty()) return InvalidArgument("sqlite URL without a path");
    return Target{Kind::kSqlite, PercentDecode(rest)};
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0 ||
      url.find('=') != std::string::npos) {
    return Target{Kind::kPg, ""};
  }
  return InvalidArgument("unrecognised database URL " + RedactConninfo(url));
}

}  // namespace slipway::bench::follow
