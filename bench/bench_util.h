#pragma once
// Small helpers shared by the bench tools: a seeded random generator (so a
// workload is reproducible from its seed), civil-date formatting without the
// C library's time zone state, strict number parsing for options, reading
// slipway's human output, and loading session capture's extension as an app
// does.
// Thread-safety: Rng is a value type, one per thread; the functions are pure.

#include <sqlite3.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/status.h"

namespace slipway::bench {

// splitmix64: tiny, fast, and good enough for workload shapes. Not for crypto.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Next() % N];
  }

 private:
  uint64_t state_;
};

// Days since 1970-01-01 -> "YYYY-MM-DD" (proleptic Gregorian, H. Hinnant's
// civil_from_days), so dates do not depend on TZ or locale.
inline std::string FormatDate(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[48];  // room for any int, so -Wformat-truncation stays quiet
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", static_cast<int>(y), static_cast<int>(m),
                static_cast<int>(d));
  return buf;
}

// Seconds since the epoch (UTC) -> "YYYY-MM-DD HH:MM:SS".
inline std::string FormatTimestamp(int64_t epoch_seconds) {
  const int64_t kDay = 86400;
  int64_t days = epoch_seconds / kDay;
  int64_t rest = epoch_seconds % kDay;
  if (rest < 0) {
    rest += kDay;
    --days;
  }
  char buf[48];  // room for any int, so -Wformat-truncation stays quiet
  std::snprintf(buf, sizeof buf, " %02d:%02d:%02d", static_cast<int>(rest / 3600),
                static_cast<int>(rest / 60 % 60), static_cast<int>(rest % 60));
  return FormatDate(days) + buf;
}

inline std::string NowTimestamp() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return FormatTimestamp(std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

inline Result<int64_t> ParseInt64(const std::string& option, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end == text.c_str() || *end != '\0' || errno == ERANGE) {
    return InvalidArgument("option --" + option + " needs a whole number, got '" + text + "'");
  }
  return static_cast<int64_t>(v);
}

inline Result<double> ParseDouble(const std::string& option, const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end != '\0') {
    return InvalidArgument("option --" + option + " needs a number, got '" + text + "'");
  }
  return v;
}

// slipway's human lines group digits ("12,345 changes"): the plain numbers.
inline std::string WithoutDigitGroups(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool grouping = text[i] == ',' && i > 0 && i + 1 < text.size() &&
                          std::isdigit(static_cast<unsigned char>(text[i - 1])) &&
                          std::isdigit(static_cast<unsigned char>(text[i + 1]));
    if (!grouping) out += text[i];
  }
  return out;
}

// Where the build puts session capture's extension, from the folder of a
// bench binary (build/bench).
inline std::string CaptureExtensionPath(const std::filesystem::path& bench_dir) {
  return (bench_dir / "../libslipway_capture.so").lexically_normal().string();
}

// Loads session capture's extension into an app's connection, as an app
// loads an SQLite extension.
inline Status LoadCaptureExtension(sqlite3* db, const std::string& path) {
  sqlite3_enable_load_extension(db, 1);
  char* err = nullptr;
  if (sqlite3_load_extension(db, path.c_str(), nullptr, &err) == SQLITE_OK) return Status::Ok();
  std::string msg = err != nullptr ? err : "unknown error";
  sqlite3_free(err);
  return Status(Code::kInvalidArgument, "cannot load " + path + ": " + msg);
}

}  // namespace slipway::bench
