#include "cli/args.h"

#include <cstdlib>

namespace slipway::cli {

Result<Args> Args::Parse(const std::vector<std::string>& argv, const std::vector<OptionSpec>& specs) {
  Args a;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return InvalidArgument("unexpected argument '" + arg + "'");
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) return InvalidArgument("unknown option --" + name);
    if (!spec->takes_value) {
      if (inline_value) return InvalidArgument("option --" + name + " takes no value");
      a.values_[name].push_back("true");
      continue;
    }
    if (inline_value) {
      a.values_[name].push_back(*inline_value);
    } else {
      if (i + 1 >= argv.size()) return InvalidArgument("option --" + name + " needs a value");
      a.values_[name].push_back(argv[++i]);
    }
  }
  return a;
}

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string Args::GetOr(const std::string& name, const std::string& fallback) const {
  return Get(name).value_or(fallback);
}

std::vector<std::string> Args::GetAll(const std::string& name) const {
  std::vector<std::string> out;
  auto it = values_.find(name);
  if (it == values_.end()) return out;
  for (const auto& v : it->second) {
    // Comma-separated lists are accepted too.
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!item.empty()) out.push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

Result<std::string> Args::Require(const std::string& name) const {
  auto v = Get(name);
  if (!v) return InvalidArgument("missing required option --" + name);
  return *v;
}

Result<int> Args::GetInt(const std::string& name, int fallback) const {
  auto v = Get(name);
  if (!v) return fallback;
  char* end = nullptr;
  long n = std::strtol(v->c_str(), &end, 10);
  if (end == v->c_str() || *end != '\0') return InvalidArgument("option --" + name + " needs a whole number, got '" + *v + "'");
  return static_cast<int>(n);
}

Result<int64_t> Args::GetDurationMs(const std::string& name, int64_t fallback_ms) const {
  auto v = Get(name);
  if (!v) return fallback_ms;
  char* end = nullptr;
  double n = std::strtod(v->c_str(), &end);
  std::string unit = end != nullptr ? end : "";
  if (end == v->c_str() || n < 0) return InvalidArgument("option --" + name + " needs a duration like 500ms or 1s");
  double ms;
  if (unit == "ms") {
    ms = n;
  } else if (unit == "s" || unit.empty()) {
    ms = n * 1000;
  } else if (unit == "m") {
    ms = n * 60000;
  } else {
    return InvalidArgument("option --" + name + ": unknown unit '" + unit + "' (use ms, s or m)");
  }
  return static_cast<int64_t>(ms);
}

}  // namespace slipway::cli
