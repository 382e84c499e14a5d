#pragma once
// MetricsText renders the Prometheus text exposition format (version 0.0.4),
// the body served at GET /metrics:
//
//   MetricsText m;
//   m.Family("slipway_lag_bytes", MetricType::kGauge, "Bytes not yet applied.")
//       .Sample({{"table", "orders"}}, 1024);
//   std::string body = std::move(m).Take();
//
// produces
//
//   # HELP slipway_lag_bytes Bytes not yet applied.
//   # TYPE slipway_lag_bytes gauge
//   slipway_lag_bytes{table="orders"} 1024
//
// Label values and help text are escaped as the format requires (\\, \", \n),
// so any string can be passed. Metric and label names that are not valid
// Prometheus names have each invalid character replaced by '_' rather than
// producing an unparsable page.
// Thread-safety: none; build one per scrape.

#include <string>
#include <string_view>
#include <vector>

namespace slipway::cli {

enum class MetricType { kGauge, kCounter };

struct MetricLabel {
  std::string_view name;
  std::string_view value;
};

class MetricsText {
 public:
  // Starts a metric family: writes its # HELP and # TYPE lines. The samples
  // that follow belong to it. REQUIRES: each family name is used once per page
  // (the format requires a family's samples to be contiguous).
  MetricsText& Family(std::string_view name, MetricType type, std::string_view help);

  // Writes one sample of the current family. REQUIRES: Family() was called.
  MetricsText& Sample(const std::vector<MetricLabel>& labels, double value);
  MetricsText& Sample(double value) { return Sample({}, value); }

  const std::string& text() const { return out_; }
  std::string Take() && { return std::move(out_); }

 private:
  std::string family_;
  std::string out_;
};

// The value as the exposition format writes it: integers without a fraction,
// "NaN", "+Inf", "-Inf", otherwise the shortest exact decimal form.
std::string FormatMetricValue(double value);

// Escapes a label value: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

}  // namespace slipway::cli
