#include "cutover/copy_text.h"

namespace slipway::cutover {
namespace {

bool IsOctal(char c) { return c >= '0' && c <= '7'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool CopyTextParser::Parse(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  count_ = 0;
  size_t i = 0;
  while (true) {
    if (fields_.size() <= count_) {
      fields_.emplace_back();
      nulls_.push_back(0);
    }
    std::string& f = fields_[count_];
    f.clear();
    // \N is NULL only as the whole field.
    const bool is_null = line.substr(i, 2) == "\\N" && (i + 2 == line.size() || line[i + 2] == '\t');
    nulls_[count_] = is_null ? 1 : 0;
    if (is_null) {
      i += 2;
    } else {
      while (i < line.size() && line[i] != '\t') {
        size_t run = i;
        while (run < line.size() && line[run] != '\t' && line[run] != '\\') ++run;
        f.append(line.data() + i, run - i);
        i = run;
        if (i >= line.size() || line[i] == '\t') break;
        // A backslash escape.
        if (++i >= line.size()) return false;
        const char c = line[i++];
        switch (c) {
          case 'b': f.push_back('\b'); break;
          case 'f': f.push_back('\f'); break;
          case 'n': f.push_back('\n'); break;
          case 'r': f.push_back('\r'); break;
          case 't': f.push_back('\t'); break;
          case 'v': f.push_back('\v'); break;
          case 'x': {
            int v = i < line.size() ? HexValue(line[i]) : -1;
            if (v < 0) {
              f.push_back('x');
              break;
            }
            ++i;
            if (i < line.size() && HexValue(line[i]) >= 0) v = v * 16 + HexValue(line[i++]);
            f.push_back(static_cast<char>(v));
            break;
          }
          default:
            if (IsOctal(c)) {
              int v = c - '0';
              for (int k = 0; k < 2 && i < line.size() && IsOctal(line[i]); ++k) v = v * 8 + (line[i++] - '0');
              f.push_back(static_cast<char>(v & 0xff));
            } else {
              f.push_back(c);  // \\ and any other escaped character
            }
        }
      }
    }
    ++count_;
    if (i >= line.size()) return true;
    ++i;  // the tab
  }
}

}  // namespace slipway::cutover
