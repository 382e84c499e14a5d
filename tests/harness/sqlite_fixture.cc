#include "tests/harness/sqlite_fixture.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/sqlite.h"

namespace slipway::testing {

std::string MakeSqlite(const std::string& dir, const std::string& name, const std::string& sql) {
  std::string path = dir + "/" + name;
  auto db = Db::OpenOrCreate(path);
  if (!db.ok()) {
    ADD_FAILURE() << db.status().message();
    return path;
  }
  Status s = db->Exec(sql);
  if (!s.ok()) ADD_FAILURE() << "fixture SQL failed: " << s.message();
  return path;
}

std::string CorpusPath(const std::string& relative) {
  const char* env = std::getenv("SLIPWAY_CORPUS");
  std::string root = env != nullptr ? env : std::string(SLIPWAY_SOURCE_DIR) + "/../shared/corpus";
  return root + "/" + relative;
}

std::string CopyFile(const std::string& from, const std::string& dir) {
  std::filesystem::path dst = std::filesystem::path(dir) / std::filesystem::path(from).filename();
  std::error_code ec;
  std::filesystem::copy_file(from, dst, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) ADD_FAILURE() << "copy " << from << ": " << ec.message();
  std::filesystem::permissions(dst, std::filesystem::perms::owner_write, std::filesystem::perm_options::add, ec);
  return dst.string();
}

}  // namespace slipway::testing
