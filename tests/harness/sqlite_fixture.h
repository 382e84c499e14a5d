#pragma once
// Builds small SQLite files for tests from SQL text, in a temp folder.

#include <string>

namespace slipway::testing {

// Creates DIR/NAME from the SQL script; fails the test on error. Returns the path.
std::string MakeSqlite(const std::string& dir, const std::string& name, const std::string& sql);

// Path of a file in ../shared/corpus (relative to the source tree).
std::string CorpusPath(const std::string& relative);

// Copies a file into dir and returns the copy's path (corpus files are read-only).
std::string CopyFile(const std::string& from, const std::string& dir);

}  // namespace slipway::testing
