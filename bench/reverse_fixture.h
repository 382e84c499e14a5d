#pragma once
// Set-up the reverse-direction benches share: the cached race-timing
// database, a throwaway PostgreSQL, `slipway snapshot` and `slipway cutover`
// of a fresh copy (no app running), so PostgreSQL holds the app's data with
// reverse capture armed and the SQLite file is fenced; plus the small
// statistics and table helpers the benches print with.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_process.h"
#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/capture.h"
#include "replicator/pg_state.h"
#include "schema/plan.h"

namespace slipway::bench {

inline double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline double MedianOf(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Nearest-rank percentile, p in [0, 1].
inline double PercentileOf(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

inline std::string LoadAverage() {
  std::string s = ReadFile("/proc/loadavg");
  // The first three fields: 1, 5 and 15 minutes.
  size_t n = 0, p = 0;
  while (n < 3 && (p = s.find(' ', p + 1)) != std::string::npos) ++n;
  return p == std::string::npos ? s : s.substr(0, p);
}

// The race-timing database of `rows` rows, generated on first use.
inline Status EnsureRaceDb(const std::filesystem::path& bin, const std::string& db, int64_t rows, int64_t seed,
                           const char* tag) {
  if (std::filesystem::exists(db)) return Status::Ok();
  std::fprintf(stderr, "[%s] generating %s\n", tag, db.c_str());
  std::filesystem::create_directories(std::filesystem::path(db).parent_path());
  if (RunProcess({(bin / "gen_racetiming").string(), "--out", db, "--rows", std::to_string(rows), "--seed",
                  std::to_string(seed)},
                 "/dev/null") != 0) {
    return Internal("gen_racetiming failed");
  }
  return Status::Ok();
}

// A folder of the bench's own, removed with everything in it at the end.
struct ScopedWorkDir {
  explicit ScopedWorkDir(std::string d) : dir(std::move(d)) { std::filesystem::create_directories(dir); }
  ~ScopedWorkDir() { std::filesystem::remove_all(dir); }
  ScopedWorkDir(const ScopedWorkDir&) = delete;
  ScopedWorkDir& operator=(const ScopedWorkDir&) = delete;
  std::string dir;
};

// The ids a query returns (its first column); no rows is an error.
inline Result<std::vector<int64_t>> Ids(PgConn& pg, const std::string& sql) {
  ASSIGN_OR_RETURN(PgResult r, pg.Exec(sql));
  std::vector<int64_t> ids;
  for (int i = 0; i < r.Rows(); ++i) ids.push_back(std::stoll(r.Str(i, 0)));
  if (ids.empty()) return Internal("no rows for: " + sql);
  return ids;
}

// A cut-over copy of the race-timing database: `source` (fenced SQLite file,
// config in `env`) and `target` (PostgreSQL database `dbname`, capture armed,
// the app's writes allowed).
struct CutOver {
  std::string source, target, env;
  schema::Plan plan;
  std::map<std::string, int> tids;
};

inline Result<CutOver> PrepareCutOver(const std::filesystem::path& bin, const Server& server, const std::string& db,
                                      const std::string& work, const std::string& dbname, const char* tag) {
  const std::string slipway = (bin / "../slipway").lexically_normal().string();
  CutOver c;
  c.source = work + "/source.db";
  c.target = server.Uri(dbname);
  c.env = work + "/app.env";
  std::filesystem::copy_file(db, c.source, std::filesystem::copy_options::overwrite_existing);
  {
    ASSIGN_OR_RETURN(PgConn admin, PgConn::Connect(server.Uri("postgres")));
    RETURN_IF_ERROR(admin.Run("CREATE DATABASE " + QuotePgIdent(dbname)));
  }
  std::ofstream(c.env) << "DATABASE_URL=sqlite://" << c.source << "\n";
  std::fprintf(stderr, "[%s] slipway snapshot + cutover\n", tag);
  if (RunProcess({slipway, "snapshot", "--source", c.source, "--target", c.target}, work + "/snapshot.log") != 0) {
    return Internal("slipway snapshot failed: " + ReadFile(work + "/snapshot.log"));
  }
  if (RunProcess({slipway, "cutover", "--source", c.source, "--target", c.target, "--flip-file", c.env, "--flip-key",
                  "DATABASE_URL"},
                 work + "/cutover.log") != 0) {
    return Internal("slipway cutover failed: " + ReadFile(work + "/cutover.log"));
  }
  {
    ASSIGN_OR_RETURN(Db d, Db::Open(c.source, Db::Mode::kReadOnly));
    ASSIGN_OR_RETURN(replicator::CaptureInfo capture, replicator::ReadCapture(d));
    c.tids = capture.tids;
  }
  ASSIGN_OR_RETURN(PgConn pg, PgConn::Connect(c.target));
  ASSIGN_OR_RETURN(auto m, replicator::ReadMigration(pg));
  if (!m) return Internal("the target has no migration after the cutover");
  ASSIGN_OR_RETURN(c.plan, schema::PlanFromJson(m->plan));
  return c;
}

}  // namespace slipway::bench
