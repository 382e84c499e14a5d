#include "common/redact.h"

#include <libpq-fe.h>

#include <cstring>
#include <memory>
#include <vector>

namespace slipway {
namespace {

constexpr std::string_view kMask = "***";

bool IsUri(std::string_view s) {
  return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0;
}

// Returns [begin, end) ranges of password text inside a conninfo string.
std::vector<std::pair<size_t, size_t>> PasswordSpans(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> spans;
  if (IsUri(s)) {
    size_t scheme_end = s.find("://") + 3;
    size_t authority_end = s.find_first_of("/?", scheme_end);
    if (authority_end == std::string_view::npos) authority_end = s.size();
    size_t at = s.rfind('@', authority_end);
    if (at != std::string_view::npos && at >= scheme_end) {
      size_t colon = s.find(':', scheme_end);
      if (colon != std::string_view::npos && colon < at) spans.emplace_back(colon + 1, at);
    }
    size_t q = s.find('?', scheme_end);
    while (q != std::string_view::npos && q < s.size()) {
      size_t start = q + 1;
      size_t amp = s.find('&', start);
      size_t end = amp == std::string_view::npos ? s.size() : amp;
      std::string_view kv = s.substr(start, end - start);
      if (kv.rfind("password=", 0) == 0) spans.emplace_back(start + 9, end);
      q = amp;
    }
    return spans;
  }
  // key = value form; values may be single-quoted with backslash escapes.
  size_t pos = 0;
  while ((pos = s.find("password", pos)) != std::string_view::npos) {
    bool word_start = pos == 0 || s[pos - 1] == ' ' || s[pos - 1] == '\t';
    size_t i = pos + 8;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (!word_start || i >= s.size() || s[i] != '=') {
      pos += 8;
      continue;
    }
    ++i;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t start = i;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      while (i < s.size() && s[i] != '\'') i += (s[i] == '\\') ? 2 : 1;
      spans.emplace_back(start, std::min(i + 1, s.size()));
      pos = i;
    } else {
      while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
      spans.emplace_back(start, i);
      pos = i;
    }
  }
  return spans;
}

std::string PasswordOf(std::string_view conninfo) {
  std::string copy(conninfo);
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(copy.c_str(), &err);
  if (err != nullptr) PQfreemem(err);
  std::string pw;
  if (opts != nullptr) {
    for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
      if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr) pw = o->val;
    }
    PQconninfoFree(opts);
  }
  return pw;
}

}  // namespace

std::string RedactConninfo(std::string_view conninfo) {
  std::string out(conninfo);
  auto spans = PasswordSpans(conninfo);
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    out.replace(it->first, it->second - it->first, kMask);
  }
  return out;
}

std::string Redact(std::string_view text, std::string_view conninfo) {
  std::string out(text);
  // Whole conninfo first (it may appear verbatim), then the bare password.
  if (!conninfo.empty()) {
    std::string red = RedactConninfo(conninfo);
    for (size_t p = out.find(conninfo); p != std::string::npos; p = out.find(conninfo, p + red.size())) {
      out.replace(p, conninfo.size(), red);
    }
  }
  std::string pw = PasswordOf(conninfo);
  if (pw.size() >= 1) {
    for (size_t p = out.find(pw); p != std::string::npos; p = out.find(pw, p + kMask.size())) {
      out.replace(p, pw.size(), kMask);
    }
  }
  return out;
}

void ScrubArgv(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    size_t eq = arg.rfind("--", 0) == 0 ? arg.find('=') : std::string_view::npos;
    std::string_view value = eq == std::string_view::npos ? arg : arg.substr(eq + 1);
    size_t offset = eq == std::string_view::npos ? 0 : eq + 1;
    for (auto [b, e] : PasswordSpans(value)) {
      for (size_t k = b; k < e; ++k) argv[i][offset + k] = '*';
    }
  }
}

}  // namespace slipway
