// Speed of the type audit: builds a table of typical columns (integers,
// prices, ISO date text, short names, small JSON objects, 0/1 flags, unix
// seconds) in a temp file and times AuditTable() on it. The goal is about
// 1 s per 1M rows of such a table.
// Usage: audit_speed [rows=1000000]

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "common/sqlite.h"
#include "schema/audit.h"
#include "schema/model.h"

namespace {

using slipway::Db;
using slipway::Status;

constexpr int kRuns = 3;

int Fail(const Status& s) {
  std::fprintf(stderr, "audit_speed: %s\n", s.ToString().c_str());
  return 1;
}

Status Fill(Db& db, int64_t rows) {
  std::mt19937_64 rng(7);
  RETURN_IF_ERROR(db.Exec(
      "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
      "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER, price REAL, created TEXT, name TEXT, attrs TEXT,"
      " active INTEGER, seen INTEGER);"
      "BEGIN;"));
  auto insert = db.Prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.status();
  char date[32], name[32], json[64];
  for (int64_t i = 1; i <= rows; ++i) {
    const uint64_t r = rng();
    std::snprintf(date, sizeof date, "2024-%02d-%02d %02d:%02d:%02d", static_cast<int>(r % 12) + 1,
                  static_cast<int>(r / 12 % 28) + 1, static_cast<int>(r / 400 % 24), static_cast<int>(r / 9600 % 60),
                  static_cast<int>(r / 576000 % 60));
    std::snprintf(name, sizeof name, "customer_%lld", static_cast<long long>(r % 100000));
    std::snprintf(json, sizeof json, "{\"id\": %lld, \"tag\": \"t%d\"}", static_cast<long long>(i),
                  static_cast<int>(r % 7));
    insert->Bind(1, i)
        .Bind(2, static_cast<int64_t>(r % 1000000) - 500000)
        .Bind(3, static_cast<double>(r % 100000) / 100.0)
        .Bind(4, std::string_view(date))
        .Bind(5, std::string_view(name))
        .Bind(6, std::string_view(json))
        .Bind(7, static_cast<int64_t>(r >> 63))
        .Bind(8, static_cast<int64_t>(1600000000 + r % 100000000));
    RETURN_IF_ERROR(insert->Run());
    RETURN_IF_ERROR(insert->Reset());
  }
  return db.Exec("COMMIT");
}

slipway::schema::Table Describe() {
  slipway::schema::Table t;
  t.name = "t";
  t.primary_key = {"id"};
  t.rowid_alias = "id";
  const std::pair<const char*, const char*> columns[] = {
      {"id", "INTEGER"}, {"n", "INTEGER"}, {"price", "REAL"},     {"created", "TEXT"},
      {"name", "TEXT"},  {"attrs", "TEXT"}, {"active", "INTEGER"}, {"seen", "INTEGER"}};
  int cid = 0;
  for (const auto& [name, type] : columns) {
    slipway::schema::Column c;
    c.name = name;
    c.cid = cid++;
    c.declared_type = type;
    c.affinity = slipway::schema::AffinityOf(type);
    c.pk_position = c.name == "id" ? 1 : 0;
    t.columns.push_back(c);
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1000000;
  char tmpl[] = "/tmp/slipway-audit-speed.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  int rc = 0;
  {
    auto db = Db::OpenOrCreate(dir + "/speed.db");
    if (!db.ok()) return Fail(db.status());
    Status s = Fill(*db, rows);
    if (!s.ok()) return Fail(s);
    const slipway::schema::Table table = Describe();
    double best = 0;
    for (int run = 0; run < kRuns; ++run) {
      auto audit = slipway::schema::AuditTable(*db, table);
      if (!audit.ok()) {
        rc = Fail(audit.status());
        break;
      }
      const double rate = static_cast<double>(audit->rows) / audit->seconds;
      std::printf("run %d: %lld rows in %.3f s = %.0f rows/s\n", run + 1, static_cast<long long>(audit->rows),
                  audit->seconds, rate);
      if (rate > best) best = rate;
      if (run == 0) {
        const auto& c = audit->columns;
        std::printf("  check: dates=%zu formats, json_exact=%lld, int_bool=%lld, real_frac=%d\n",
                    c[3].dates.formats.size(), static_cast<long long>(c[5].json_jsonb_exact),
                    static_cast<long long>(c[6].int_bool), c[2].real_max_frac_digits);
      }
    }
    if (rc == 0) std::printf("best: %.0f rows/s (8 columns)\n", best);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
