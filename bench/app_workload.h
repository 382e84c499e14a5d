#pragma once
// The app's side of the capture benches (capture_overhead, stream_overhead):
// write transactions on the race-timing `results` table with the statements
// and settings `app_writer` uses, their parameters drawn from a seed before
// any clock starts, and the fresh copies of the generated database they run on.
// Thread-safety: none; one thread per connection, as the benches run.

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_util.h"
#include "common/sqlite.h"
#include "common/status.h"

namespace slipway::bench {

constexpr int64_t kBibBase = 100000000;  // inserted bibs never clash with generated ones
// The goal: with capture on, 1-row transactions run at least this
// share of the rate without it.
constexpr double kGoalInsertDelete = 0.85;
constexpr double kGoalUpdate = 0.75;

enum class Op { kInsert, kUpdate, kDelete };

inline const char* OpName(Op op) {
  switch (op) {
    case Op::kInsert: return "insert";
    case Op::kUpdate: return "update";
    case Op::kDelete: return "delete";
  }
  return "?";
}

inline double GoalFor(Op op) { return op == Op::kUpdate ? kGoalUpdate : kGoalInsertDelete; }

// "insert,update,delete" -> ops.
inline Result<std::vector<Op>> ParseOps(const std::string& text) {
  std::vector<Op> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (item == "insert") out.push_back(Op::kInsert);
    else if (item == "update") out.push_back(Op::kUpdate);
    else if (item == "delete") out.push_back(Op::kDelete);
    else return InvalidArgument("--ops: unknown op '" + item + "'");
  }
  return out;
}

// The ids the operations pick from.
struct Workload {
  std::vector<int64_t> race_ids, participant_ids, result_ids;
};

inline Result<std::vector<int64_t>> Ids(Db& db, const std::string& table) {
  std::vector<int64_t> out;
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT id FROM " + table + " ORDER BY id"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(st.Int(0));
  }
  if (out.empty()) return InvalidArgument(table + " is empty: generate the database first");
  return out;
}

inline Result<Workload> LoadWorkload(const std::string& path) {
  ASSIGN_OR_RETURN(Db db, Db::Open(path, Db::Mode::kReadOnly));
  Workload w;
  ASSIGN_OR_RETURN(w.race_ids, Ids(db, "races"));
  ASSIGN_OR_RETURN(w.participant_ids, Ids(db, "participants"));
  ASSIGN_OR_RETURN(w.result_ids, Ids(db, "results"));
  return w;
}

// The parameters of every row, drawn before the clock starts and the same
// for every subject measured; deletes take distinct ids.
struct Params {
  std::vector<int64_t> keys, aux;
};

inline Result<Params> DrawParams(const Workload& w, Op op, size_t n, uint64_t seed) {
  Rng rng(seed);
  auto pick = [&](const std::vector<int64_t>& v) { return v[static_cast<size_t>(rng.Range(0, static_cast<int64_t>(v.size()) - 1))]; };
  Params p;
  p.keys.resize(n);
  p.aux.resize(n);
  if (op == Op::kDelete) {
    if (n > w.result_ids.size()) return InvalidArgument("fewer results rows than deletes");
    std::vector<int64_t> ids = w.result_ids;
    for (size_t i = 0; i < n; ++i) {
      std::swap(ids[i], ids[i + static_cast<size_t>(rng.Range(0, static_cast<int64_t>(ids.size() - i - 1)))]);
    }
    std::copy_n(ids.begin(), n, p.keys.begin());
    return p;
  }
  for (size_t i = 0; i < n; ++i) {
    p.keys[i] = pick(op == Op::kInsert ? w.race_ids : w.result_ids);
    if (op == Op::kInsert) p.aux[i] = pick(w.participant_ids);
  }
  return p;
}

inline Status SyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return IoError("open " + path);
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : IoError("fsync " + path);
}

// Removes a database and its -wal and -shm files; never throws.
inline void RemoveDbFiles(const std::string& path) {
  std::error_code ec;
  for (const char* sfx : {"", "-wal", "-shm"}) std::filesystem::remove(path + sfx, ec);
}

// A fresh copy of `from` at `to`, fsynced: the copy's dirty pages would
// otherwise be flushed by the first checkpoint inside a timed loop.
inline Status FreshCopy(const std::string& from, const std::string& to) {
  RemoveDbFiles(to);
  std::filesystem::copy_file(from, to);
  return SyncFile(to);
}

// The app's connection settings: WAL, synchronous=NORMAL, foreign keys as asked.
inline Status AppPragmas(Db& db, bool foreign_keys) {
  ASSIGN_OR_RETURN(auto mode, db.QueryText("PRAGMA journal_mode=WAL"));
  if (mode.value_or("") != "wal") return Internal(db.path() + ": cannot switch to WAL");
  return db.Exec(std::string("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=") + (foreign_keys ? "ON" : "OFF"));
}

// The app's statements on `results`, prepared on one connection.
struct AppStatements {
  Stmt ins, upd, del;
  // Session capture: the connection has slipway's SQLite extension, and
  // `capture` (SELECT slipway_capture()) runs before each COMMIT.
  Stmt capture;
  bool session = false;

  // Loads the extension at `path` into `db` and prepares `capture`.
  Status UseSession(Db& db, const std::string& path) {
    RETURN_IF_ERROR(LoadCaptureExtension(db.get(), path));
    ASSIGN_OR_RETURN(capture, db.Prepare("SELECT slipway_capture()"));
    session = true;
    return Status::Ok();
  }

  static Result<AppStatements> Prepare(Db& db) {
    AppStatements s;
    ASSIGN_OR_RETURN(s.ins, db.Prepare("INSERT INTO results (race_id, participant_id, bib, status, finish_seconds, "
                                       "laps, dnf, splits, created_at, updated_at) VALUES (?1, ?2, ?3, 'finished', ?4, "
                                       "0, 0, ?5, ?6, NULL)"));
    ASSIGN_OR_RETURN(s.upd, db.Prepare("UPDATE results SET laps = laps + 1, updated_at = ?2 WHERE id = ?1"));
    ASSIGN_OR_RETURN(s.del, db.Prepare("DELETE FROM results WHERE id = ?1"));
    return s;
  }
};

// Runs transactions [first, last), `rows_per_tx` rows each (BEGIN IMMEDIATE
// ... COMMIT), with the rows' parameters from `p`.
inline Status RunTransactions(Db& db, AppStatements& s, Op op, int64_t rows_per_tx, const Params& p, int64_t first,
                              int64_t last, const std::string& now) {
  for (int64_t tx = first; tx < last; ++tx) {
    RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    for (int64_t r = 0; r < rows_per_tx; ++r) {
      const size_t i = static_cast<size_t>(tx * rows_per_tx + r);
      Stmt* st = nullptr;
      switch (op) {
        case Op::kInsert:
          s.ins.Bind(1, p.keys[i]).Bind(2, p.aux[i]).Bind(3, kBibBase + static_cast<int64_t>(i));
          s.ins.Bind(4, 900.0 + static_cast<double>(i % 20000) / 8.0).Bind(5, std::string_view("[1234.5]")).Bind(6, now);
          st = &s.ins;
          break;
        case Op::kUpdate:
          s.upd.Bind(1, p.keys[i]).Bind(2, now);
          st = &s.upd;
          break;
        case Op::kDelete:
          s.del.Bind(1, p.keys[i]);
          st = &s.del;
          break;
      }
      RETURN_IF_ERROR(st->Run());
      RETURN_IF_ERROR(st->Reset());
    }
    if (s.session) {
      RETURN_IF_ERROR(s.capture.Run());
      RETURN_IF_ERROR(s.capture.Reset());
    }
    RETURN_IF_ERROR(db.Exec("COMMIT"));
  }
  return Status::Ok();
}

// User + system CPU seconds of this process.
inline double CpuNow() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

inline double MedianOf(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Generates the race-timing database at `db` with gen_racetiming from this
// program's folder, unless it exists.
inline Status EnsureRaceTiming(const std::string& db, int64_t rows, int64_t seed, const char* tag) {
  if (std::filesystem::exists(db)) return Status::Ok();
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path gen = self.parent_path() / "gen_racetiming";
  if (ec || !std::filesystem::exists(gen)) {
    return InvalidArgument(db + " does not exist and gen_racetiming was not found next to this program");
  }
  const std::filesystem::path parent = std::filesystem::path(db).parent_path();
  std::filesystem::create_directories(parent.empty() ? std::filesystem::path(".") : parent);
  const std::string cmd = gen.string() + " --out '" + db + "' --rows " + std::to_string(rows) + " --seed " +
                          std::to_string(seed) + " >&2";
  std::fprintf(stderr, "%s: generating %s\n", tag, db.c_str());
  if (std::system(cmd.c_str()) != 0) return Internal("gen_racetiming failed");
  return Status::Ok();
}

// The load average line of /proc/loadavg ("?" when unreadable).
inline std::string LoadAverage() {
  char buf[64] = "?";
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fgets(buf, sizeof buf, f) == nullptr) buf[0] = '\0';
    std::fclose(f);
  }
  std::string s = buf;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace slipway::bench
