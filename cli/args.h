#pragma once
// Command-line options: each command declares the options it takes; anything
// else is a usage error. "--key value" and "--key=value" both work; a flag
// takes no value. Repeated list options accumulate ("--tables a --tables b").

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace slipway::cli {

struct OptionSpec {
  std::string name;      // without the leading "--"
  bool takes_value = true;
  std::string help;
  std::string metavar = "VALUE";
};

class Args {
 public:
  // Parses argv (after the command word) against the specs.
  static Result<Args> Parse(const std::vector<std::string>& argv, const std::vector<OptionSpec>& specs);

  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  std::optional<std::string> Get(const std::string& name) const;
  std::string GetOr(const std::string& name, const std::string& fallback) const;
  std::vector<std::string> GetAll(const std::string& name) const;
  // Value required: usage error naming the option when absent.
  Result<std::string> Require(const std::string& name) const;
  Result<int> GetInt(const std::string& name, int fallback) const;
  // Durations like "1s", "200ms", "2m", "1.5s" -> milliseconds.
  Result<int64_t> GetDurationMs(const std::string& name, int64_t fallback_ms) const;
  // Replaces every value of an option (used for values taken from elsewhere,
  // e.g. --target read from --target-file).
  void Set(const std::string& name, std::string value) { values_[name] = {std::move(value)}; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace slipway::cli
