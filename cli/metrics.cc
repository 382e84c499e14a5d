#include "cli/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace slipway::cli {
namespace {

// Integral values below this print as integers; 2^53 is where doubles stop
// representing every integer.
constexpr double kMaxExactInteger = 9007199254740992.0;

bool IsNameChar(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  return !first && c >= '0' && c <= '9';
}

// Metric names may also contain ':'; label names may not.
std::string SanitizeName(std::string_view name, bool allow_colon) {
  std::string out;
  out.reserve(name.size() + 1);
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) out += '_';
  for (char c : name) {
    bool ok = IsNameChar(c, out.empty()) || (allow_colon && c == ':');
    out += ok ? c : '_';
  }
  return out;
}

// HELP text escapes backslash and newline only.
std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < kMaxExactInteger) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) return "NaN";  // cannot happen: 32 bytes fit any double
  return std::string(buf, end);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

MetricsText& MetricsText::Family(std::string_view name, MetricType type, std::string_view help) {
  family_ = SanitizeName(name, /*allow_colon=*/true);
  out_ += "# HELP " + family_ + " " + EscapeHelp(help) + "\n";
  out_ += "# TYPE " + family_ + (type == MetricType::kCounter ? " counter\n" : " gauge\n");
  return *this;
}

MetricsText& MetricsText::Sample(const std::vector<MetricLabel>& labels, double value) {
  out_ += family_;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ',';
      out_ += SanitizeName(labels[i].name, /*allow_colon=*/false);
      out_ += "=\"" + EscapeLabelValue(labels[i].value) + "\"";
    }
    out_ += '}';
  }
  out_ += ' ' + FormatMetricValue(value) + '\n';
  return *this;
}

}  // namespace slipway::cli
