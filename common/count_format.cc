#include "common/count_format.h"

#include <cmath>
#include <cstdio>

namespace slipway {

std::string FormatCount(int64_t n) {
  // Through uint64_t: the magnitude of INT64_MIN does not fit in int64_t.
  const uint64_t magnitude = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  const std::string digits = std::to_string(magnitude);
  std::string out = n < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string FormatCountRounded(double n) {
  // NaN, infinities and magnitudes past int64_t (llround's range) print as "-".
  constexpr double kLimit = 9.2e18;
  if (!(std::fabs(n) < kLimit)) return "-";
  return FormatCount(std::llround(n));
}

std::string FormatDurationMs(double ms) {
  char buf[32];
  if (ms < 1000) {
    std::snprintf(buf, sizeof(buf), "%.0f ms", ms);
  } else if (ms < 60000) {
    std::snprintf(buf, sizeof(buf), "%.1f s", ms / 1000);
  } else if (ms < 3600000) {
    std::snprintf(buf, sizeof(buf), "%.0f min", ms / 60000);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f h", ms / 3600000);
  }
  return buf;
}

}  // namespace slipway
