#pragma once
// Parses rows of PostgreSQL's COPY text format (what `COPY ... TO STDOUT`
// sends): fields separated by tabs, a row ending in a newline, \N for NULL,
// and backslash escapes \\ \t \n \r \b \f \v, \ooo (octal) and \xhh (hex);
// a backslash before any other character stands for that character.
// Thread-safety: one parser per thread; fields point into the parser.

#include <string>
#include <string_view>
#include <vector>

namespace slipway::cutover {

class CopyTextParser {
 public:
  // Parses one row; the trailing newline is optional. Returns false when the
  // row ends inside an escape.
  bool Parse(std::string_view line);

  size_t size() const { return count_; }
  bool IsNull(size_t i) const { return nulls_[i] != 0; }
  // The unescaped field. REQUIRES: i < size(), valid until the next Parse().
  std::string_view Field(size_t i) const { return fields_[i]; }

 private:
  std::vector<std::string> fields_;  // reused between rows
  std::vector<char> nulls_;
  size_t count_ = 0;
};

}  // namespace slipway::cutover
