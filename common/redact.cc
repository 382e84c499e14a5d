#include "common/redact.h"

#include <libpq-fe.h>

#include <cstring>
#include <memory>
#include <vector>

namespace slipway {
namespace {

// Always the same, whatever the password's length.
constexpr std::string_view kMask = "***";
// Pieces of a malformed URI's user part shorter than this are not searched
// for in error text: they would mask ordinary words.
constexpr size_t kMinFragment = 3;

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

// What a URI holds before the host when an unencoded '@' or '/' in the
// password makes libpq (and PasswordSpans) split it elsewhere: the text
// between "://" and the last '@' before any '?'.
std::string_view LooseUserinfo(std::string_view s) {
  if (!IsUri(s)) return {};
  size_t scheme_end = s.find("://") + 3;
  size_t query = s.find('?', scheme_end);
  size_t at = s.rfind('@', query == std::string_view::npos ? s.size() : query);
  if (at == std::string_view::npos || at < scheme_end) return {};
  return s.substr(scheme_end, at - scheme_end);
}

// The password candidates of a URI's user part, split where libpq may have
// split them: the part after the first ':', and its pieces between '@', '/',
// ':' and '?' characters.
std::vector<std::string> PasswordFragments(std::string_view conninfo) {
  std::vector<std::string> out;
  std::string_view userinfo = LooseUserinfo(conninfo);
  size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) return out;
  std::string_view pw = userinfo.substr(colon + 1);
  if (!pw.empty()) out.emplace_back(pw);
  size_t start = 0;
  while (start <= pw.size()) {
    size_t stop = pw.find_first_of("@/:?", start);
    std::string_view piece = pw.substr(start, stop == std::string_view::npos ? std::string_view::npos : stop - start);
    if (piece.size() >= kMinFragment && piece.size() < pw.size()) out.emplace_back(piece);
    if (stop == std::string_view::npos) break;
    start = stop + 1;
  }
  return out;
}

void MaskAll(std::string& out, std::string_view secret) {
  if (secret.empty()) return;
  for (size_t p = out.find(secret); p != std::string::npos; p = out.find(secret, p + kMask.size())) {
    out.replace(p, secret.size(), kMask);
  }
}

// One argument with its passwords replaced by the fixed mask.
std::string MaskArgument(std::string_view arg) {
  size_t eq = arg.rfind("--", 0) == 0 ? arg.find('=') : std::string_view::npos;
  size_t offset = eq == std::string_view::npos ? 0 : eq + 1;
  std::string out(arg);
  auto spans = PasswordSpans(arg.substr(offset));
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    out.replace(offset + it->first, it->second - it->first, kMask);
  }
  return out;
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
  for (const std::string& fragment : PasswordFragments(conninfo)) MaskAll(out, fragment);
  MaskAll(out, PasswordOf(conninfo));
  return out;
}

Status CheckUriUserinfo(std::string_view conninfo) {
  if (!IsUri(conninfo)) return Status::Ok();
  std::string_view userinfo = LooseUserinfo(conninfo);
  if (userinfo.find_first_of("@/") == std::string_view::npos) return Status::Ok();
  return InvalidArgument(
      "the target URI's user name or password holds an unencoded '@' or '/': percent-encode them "
      "('@' as %40, '/' as %2F), e.g. postgresql://user:p%40ss@host/db, or give the password through "
      "PGPASSWORD or ~/.pgpass");
}

void ScrubArgv(int argc, char** argv) {
  if (argc < 2) return;
  std::vector<std::string> masked;
  bool changed = false;
  for (int i = 1; i < argc; ++i) {
    masked.push_back(MaskArgument(argv[i]));
    changed = changed || masked.back() != argv[i];
  }
  if (!changed) return;
  // The kernel lays the arguments out back to back; moving the later ones
  // up keeps a shorter masked argument from leaving padding between
  // arguments, where `ps` would show the password's length. The area's total
  // size is the kernel's: /proc/PID/cmdline still ends in as many NULs as
  // the masks saved, which no rewrite of argv can hide.
  bool contiguous = true;
  size_t area = 0;
  for (int i = 1; i < argc; ++i) {
    area += std::strlen(argv[i]) + 1;
    if (i + 1 < argc && argv[i + 1] != argv[i] + std::strlen(argv[i]) + 1) contiguous = false;
  }
  size_t needed = 0;
  for (const std::string& m : masked) needed += m.size() + 1;
  if (contiguous && needed <= area) {
    char* p = argv[1];
    char* end = argv[1] + area;
    for (int i = 1; i < argc; ++i) {
      const std::string& m = masked[static_cast<size_t>(i - 1)];
      std::memcpy(p, m.c_str(), m.size() + 1);
      argv[i] = p;
      p += m.size() + 1;
    }
    std::memset(p, 0, static_cast<size_t>(end - p));
    return;
  }
  // Each argument in its own place; a password shorter than the mask cuts
  // the end of its argument.
  for (int i = 1; i < argc; ++i) {
    size_t room = std::strlen(argv[i]);
    std::string m = masked[static_cast<size_t>(i - 1)].substr(0, room);
    std::memcpy(argv[i], m.data(), m.size());
    std::memset(argv[i] + m.size(), 0, room - m.size());
  }
}

}  // namespace slipway
