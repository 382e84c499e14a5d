#pragma once
// Full-text indexes (FTS4/FTS5 virtual tables) read from their CREATE
// VIRTUAL TABLE text: which columns they index and where their content
// lives. An external-content index (content='t') holds only the index; the
// app keeps it in step with t by its own triggers. Rows the reverse stream
// writes into t come with triggers off, so the sink keeps such an index in
// step itself (replicator/sqlite_sink.h); a contentless or internal-content
// index filled by triggers cannot be, and the plan says so.
// Thread-safety: pure functions.

#include <optional>
#include <string>
#include <vector>

namespace slipway::schema {

struct FtsTable {
  std::string name;                  // the virtual table
  int version = 5;                   // 5 for fts5; 4 for fts4 and fts3
  std::vector<std::string> columns;  // indexed columns, in order
  // The content option: nullopt when absent (the index stores its own
  // copy), "" for a contentless index, else the content table's name.
  std::optional<std::string> content;
  // The content table's column that is the index's rowid (fts5
  // content_rowid; fts4 always uses the rowid).
  std::string content_rowid = "rowid";

  bool external() const { return content.has_value() && !content->empty(); }
};

// Parses `create_sql` (from sqlite_schema) of the virtual table `name`;
// nullopt when it is not an FTS3/4/5 table.
std::optional<FtsTable> ParseFts(const std::string& name, const std::string& create_sql);

}  // namespace slipway::schema
