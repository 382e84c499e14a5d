#include "common/count_format.h"

#include <cmath>

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

}  // namespace slipway
