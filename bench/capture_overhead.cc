// capture_overhead: what change capture costs the app's writes. Runs write
// transactions on the race-timing `results` table at full speed (WAL,
// synchronous=NORMAL, the app's own settings otherwise) for a fixed number of
// transactions, with capture off and with several trigger designs installed,
// each on a fresh copy of a generated database, and prints rate_without,
// rate_with and their ratio per (design, op, rows per transaction).
//
//   capture_overhead [--db FILE] [--rows N] [--seed S] [--runs R]
//                    [--tx1 N] [--tx100 N] [--designs a,b,...] [--ops insert,update,delete]
//                    [--foreign-keys on|off] [--out DIR]
//
// Every run measures each cell once for every design at the same time: one
// copy of the database per design, the transactions in 20 blocks run
// round-robin over the copies, so load from elsewhere on the machine hits
// every design alike. The ratio reported is the median over runs of the
// per-run with/without ratios. See bench/README.md for the designs.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/app_workload.h"
#include "bench/bench_util.h"
#include "cli/args.h"
#include "common/sqlite.h"
#include "replicator/capture.h"
#include "schema/introspect.h"
#include "schema/plan.h"
#include "sql/embedded.h"

namespace slipway::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kTid = 1;
constexpr const char* kTable = "results";
constexpr int64_t kBlocks = 20;  // blocks per cell, round-robin over the designs

struct Options {
  std::string db;
  int64_t rows = 200000;
  int64_t seed = 1;
  int runs = 3;
  int64_t tx1 = 10000;   // transactions per cell with 1 row per transaction
  int64_t tx100 = 200;   // transactions per cell with 100 rows per transaction
  std::vector<std::string> designs;
  std::vector<Op> ops = {Op::kInsert, Op::kUpdate, Op::kDelete};
  bool foreign_keys = true;
  std::string out = "bench/out";
};

// What a design needs to build its triggers.
struct Ctx {
  const schema::Table* table;
  const schema::TableMapping* tm;
};

struct Design {
  std::string name;
  std::string what;
  std::function<Status(Db&, const Ctx&)> install;  // empty: capture off
};

std::string JoinSql(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + ";\n";
  return out;
}

// The current design, exactly as InstallCapture() makes it for this table.
std::vector<std::string> CurrentTriggers(const Ctx& c) { return replicator::CaptureTriggerSql(*c.table, *c.tm, kTid); }

bool IsTrigger(const std::string& sql, const std::string& suffix) {
  return sql.find("\"_slipway_" + std::to_string(kTid) + "_" + suffix + "\"") != std::string::npos;
}

std::vector<std::string> Without(std::vector<std::string> v, const std::vector<std::string>& suffixes) {
  std::erase_if(v, [&](const std::string& s) {
    for (const auto& x : suffixes) {
      if (IsTrigger(s, x)) return true;
    }
    return false;
  });
  return v;
}

// The control tables, with the changelog made first when `changelog` is given
// (the embedded script's CREATE TABLE IF NOT EXISTS then leaves it alone).
Status InstallControl(Db& db, const std::string& changelog) {
  if (!changelog.empty()) RETURN_IF_ERROR(db.Exec(changelog));
  RETURN_IF_ERROR(db.Exec(sql::sqlite_control));
  return db.Exec("INSERT INTO _slipway_tables (tid, name) VALUES (" + std::to_string(kTid) + ", '" + kTable + "')");
}

Status InstallWith(Db& db, const std::string& changelog, const std::vector<std::string>& triggers) {
  RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status s = InstallControl(db, changelog);
  if (s.ok()) s = db.Exec(JoinSql(triggers));
  if (!s.ok()) {
    (void)db.Exec("ROLLBACK");
    return s;
  }
  return db.Exec("COMMIT");
}

std::string KeyExpr(const Ctx& c, const char* row) { return std::string(row) + "." + QuoteSqliteIdent(c.tm->key_source[0]); }

// json_object('col', NEW."col", ...) over every column of the table.
std::string JsonImage(const Ctx& c, const char* row) {
  std::string out = "json_object(";
  bool first = true;
  for (const auto& col : c.table->columns) {
    out += (first ? "'" : ", '") + col.name + "', " + row + "." + QuoteSqliteIdent(col.name);
    first = false;
  }
  return out + ")";
}

std::vector<Design> AllDesigns() {
  const std::string t = QuoteSqliteIdent(kTable);
  const std::string tid = std::to_string(kTid);
  const std::string p = "_slipway_" + tid + "_";
  std::vector<Design> d;
  d.push_back({"off", "no capture (the reference of every ratio)", nullptr});
  d.push_back({"a_current", "key-only triggers as InstallCapture() makes them (CaptureTriggerSql), changelog with ts",
               [](Db& db, const Ctx& c) { return InstallWith(db, "", CurrentTriggers(c)); }});
  d.push_back({"b_json_row", "a, plus a json_object() image of the new row in the insert and update triggers",
               [=](Db& db, const Ctx& c) {
                 std::vector<std::string> trg = Without(CurrentTriggers(c), {"ins", "upd"});
                 for (const auto& [suffix, when] : {std::pair{"ins", "AFTER INSERT"}, std::pair{"upd", "AFTER UPDATE"}}) {
                   trg.push_back("CREATE TRIGGER " + QuoteSqliteIdent(p + suffix) + " " + when + " ON " + t +
                                 " BEGIN INSERT INTO _slipway_changelog (tid, k1, img) VALUES (" + tid + ", " +
                                 KeyExpr(c, "NEW") + ", " + JsonImage(c, "NEW") + "); END");
                 }
                 return InstallWith(db,
                                    "CREATE TABLE _slipway_changelog (seq INTEGER PRIMARY KEY, tid INTEGER NOT NULL, "
                                    "k1, k2, k3, k4, ts REAL NOT NULL DEFAULT (julianday('now')), img TEXT)",
                                    trg);
               }});
  d.push_back({"c_no_ts", "a, with a changelog without the ts column (no julianday('now') per row)",
               [](Db& db, const Ctx& c) {
                 return InstallWith(db,
                                    "CREATE TABLE _slipway_changelog (seq INTEGER PRIMARY KEY, tid INTEGER NOT NULL, "
                                    "k1, k2, k3, k4)",
                                    CurrentTriggers(c));
               }});
  d.push_back({"d1_slim", "a, with the smallest changelog row: (seq INTEGER PRIMARY KEY, tid, k1), no ts",
               [](Db& db, const Ctx& c) {
                 return InstallWith(db, "CREATE TABLE _slipway_changelog (seq INTEGER PRIMARY KEY, tid INTEGER NOT NULL, k1)",
                                    CurrentTriggers(c));
               }});
  d.push_back({"d2_no_uq_guard", "a, without the BEFORE INSERT/UPDATE triggers for the UNIQUE (race_id, bib) index",
               [](Db& db, const Ctx& c) { return InstallWith(db, "", Without(CurrentTriggers(c), {"uqi1", "uqu1"})); }});
  d.push_back({"d3_merged_upd", "a, with the AFTER UPDATE and AFTER UPDATE OF key triggers merged into one",
               [=](Db& db, const Ctx& c) {
                 std::vector<std::string> trg = Without(CurrentTriggers(c), {"upd", "key"});
                 trg.push_back("CREATE TRIGGER " + QuoteSqliteIdent(p + "upd") + " AFTER UPDATE ON " + t +
                               " BEGIN INSERT INTO _slipway_changelog (tid, k1) VALUES (" + tid + ", " +
                               KeyExpr(c, "NEW") + "); INSERT INTO _slipway_changelog (tid, k1) SELECT " + tid + ", " +
                               KeyExpr(c, "OLD") + " WHERE " + KeyExpr(c, "OLD") + " IS NOT " + KeyExpr(c, "NEW") +
                               "; END");
                 return InstallWith(db, "", trg);
               }});
  d.push_back({"d4_slim_no_guard", "d1 and d2 together: the floor of a key-only changelog in a separate table",
               [](Db& db, const Ctx& c) {
                 return InstallWith(db, "CREATE TABLE _slipway_changelog (seq INTEGER PRIMARY KEY, tid INTEGER NOT NULL, k1)",
                                    Without(CurrentTriggers(c), {"uqi1", "uqu1"}));
               }});
  return d;
}

struct Cell {
  Op op;
  int64_t rows_per_tx;
  int64_t transactions;
};

// One design's copy of the database, open, with the app's statements.
struct Subject {
  std::string path;
  Db db;
  AppStatements st;
  double seconds = 0;      // wall time in the timed blocks
  double cpu_seconds = 0;  // this process's user + system time in them
};

// What one design measured in one cell.
struct Measure {
  double rate = 0;        // transactions per second (wall time)
  double cpu_us_tx = 0;   // CPU microseconds per transaction
  double pages_tx = 0;    // pages written to the WAL per transaction
};

// Copies the template and installs the design, outside the clock.
Status OpenSubject(const Options& o, const Design& d, const Ctx& ctx, Subject& s) {
  RETURN_IF_ERROR(FreshCopy(o.db, s.path));
  ASSIGN_OR_RETURN(s.db, Db::Open(s.path, Db::Mode::kReadWrite));
  RETURN_IF_ERROR(AppPragmas(s.db, o.foreign_keys));
  if (d.install) RETURN_IF_ERROR(d.install(s.db, ctx).Annotate("install " + d.name));
  // Every design starts from an empty WAL.
  RETURN_IF_ERROR(s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  ASSIGN_OR_RETURN(s.st, AppStatements::Prepare(s.db));
  return Status::Ok();
}

// Runs transactions [first, last) of the cell on one subject, timed.
Status RunBlock(Subject& s, const Cell& cell, const Params& p, int64_t first, int64_t last, const std::string& now) {
  const auto t0 = Clock::now();
  const double c0 = CpuNow();
  RETURN_IF_ERROR(RunTransactions(s.db, s.st, cell.op, cell.rows_per_tx, p, first, last, now));
  s.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  s.cpu_seconds += CpuNow() - c0;
  return Status::Ok();
}

// Measures one cell for every design at once: each design has its own copy
// of the database, and the transactions run in blocks, round-robin over the
// designs (starting with a different one each block), so a burst of load
// from elsewhere on the machine hits every design alike. Returns one
// Measure per design.
Result<std::vector<Measure>> RunCell(const Options& o, const std::vector<const Design*>& designs, const Ctx& ctx,
                                    const Workload& w, const Cell& cell, const std::string& work, uint64_t seed) {
  ASSIGN_OR_RETURN(Params p, DrawParams(w, cell.op, static_cast<size_t>(cell.transactions * cell.rows_per_tx), seed));
  std::vector<Subject> subjects(designs.size());
  for (size_t i = 0; i < designs.size(); ++i) {
    subjects[i].path = work + "." + std::to_string(i);
    RETURN_IF_ERROR(OpenSubject(o, *designs[i], ctx, subjects[i]));
    int cur = 0, hi = 0;  // reset the count of pages written
    sqlite3_db_status(subjects[i].db.get(), SQLITE_DBSTATUS_CACHE_WRITE, &cur, &hi, 1);
  }
  const std::string now = NowTimestamp();
  const int64_t per_block = std::max<int64_t>(1, cell.transactions / kBlocks);
  int64_t block = 0;
  for (int64_t first = 0; first < cell.transactions; first += per_block, ++block) {
    const int64_t last = std::min(cell.transactions, first + per_block);
    for (size_t k = 0; k < subjects.size(); ++k) {
      Subject& s = subjects[(k + static_cast<size_t>(block)) % subjects.size()];
      RETURN_IF_ERROR(RunBlock(s, cell, p, first, last, now));
    }
  }
  std::vector<Measure> rates;
  for (size_t i = 0; i < designs.size(); ++i) {
    Subject& s = subjects[i];
    // In WAL mode: pages written to the WAL (checkpoints not counted).
    int pages = 0, hi = 0;
    sqlite3_db_status(s.db.get(), SQLITE_DBSTATUS_CACHE_WRITE, &pages, &hi, 0);
    if (designs[i]->install) {
      // A design that records nothing would look free: check it recorded.
      const int64_t n = cell.transactions * cell.rows_per_tx;
      ASSIGN_OR_RETURN(auto logged, s.db.QueryInt("SELECT count(*) FROM _slipway_changelog"));
      if (logged.value_or(0) < n) {
        return Internal(designs[i]->name + " recorded " + std::to_string(logged.value_or(0)) + " changes for " +
                        std::to_string(n));
      }
    }
    const double n = static_cast<double>(cell.transactions);
    rates.push_back({n / s.seconds, 1e6 * s.cpu_seconds / n, static_cast<double>(pages) / n});
  }
  subjects.clear();
  for (size_t i = 0; i < designs.size(); ++i) {
    for (const char* sfx : {"", "-wal", "-shm"}) fs::remove(work + "." + std::to_string(i) + sfx);
  }
  return rates;
}

Status ParseOptions(int argc, char** argv, Options& o) {
  const std::vector<cli::OptionSpec> specs = {{"db", true, ""},     {"rows", true, ""},    {"seed", true, ""},
                                              {"runs", true, ""},   {"tx1", true, ""},     {"tx100", true, ""},
                                              {"designs", true, ""}, {"ops", true, ""},    {"foreign-keys", true, ""},
                                              {"out", true, ""}};
  ASSIGN_OR_RETURN(cli::Args args, cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc), specs));
  ASSIGN_OR_RETURN(o.rows, ParseInt64("rows", args.GetOr("rows", "200000")));
  ASSIGN_OR_RETURN(o.seed, ParseInt64("seed", args.GetOr("seed", "1")));
  ASSIGN_OR_RETURN(int64_t runs, ParseInt64("runs", args.GetOr("runs", "3")));
  ASSIGN_OR_RETURN(o.tx1, ParseInt64("tx1", args.GetOr("tx1", "10000")));
  ASSIGN_OR_RETURN(o.tx100, ParseInt64("tx100", args.GetOr("tx100", "200")));
  o.runs = static_cast<int>(runs);
  o.out = args.GetOr("out", "bench/out");
  o.db = args.GetOr("db", o.out + "/racetiming-r" + std::to_string(o.rows) + "-s" + std::to_string(o.seed) + ".db");
  if (args.Has("ops")) {
    ASSIGN_OR_RETURN(o.ops, ParseOps(*args.Get("ops")));
  }
  if (args.Has("designs")) {
    std::string text = *args.Get("designs");
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t comma = text.find(',', pos);
      o.designs.push_back(text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
      pos = comma == std::string::npos ? text.size() + 1 : comma + 1;
    }
  }
  const std::string fk = args.GetOr("foreign-keys", "on");
  if (fk != "on" && fk != "off") return InvalidArgument("--foreign-keys must be on or off");
  o.foreign_keys = fk == "on";
  if (o.runs < 1 || o.tx1 < 1 || o.tx100 < 1 || o.rows < 1) {
    return InvalidArgument("--runs, --tx1, --tx100 and --rows must be positive");
  }
  return Status::Ok();
}

struct Series {
  std::string design;
  Op op;
  int64_t rows_per_tx;
  std::vector<double> without, with, ratio;
  std::vector<double> cpu_without, cpu_with, cpu_ratio, pages_without, pages_with;
};

Status Run(const Options& o) {
  RETURN_IF_ERROR(EnsureRaceTiming(o.db, o.rows, o.seed, "capture_overhead"));
  std::vector<Design> designs;
  for (auto& d : AllDesigns()) {
    if (d.name == "off" || o.designs.empty() ||
        std::find(o.designs.begin(), o.designs.end(), d.name) != o.designs.end()) {
      designs.push_back(std::move(d));
    }
  }
  // The current design is generated from the plan, as `slipway snapshot` does.
  ASSIGN_OR_RETURN(Db src, Db::Open(o.db, Db::Mode::kReadOnly));
  ASSIGN_OR_RETURN(schema::SourceSchema sch, schema::Introspect(src));
  ASSIGN_OR_RETURN(schema::Plan plan, schema::BuildPlan(src, sch, schema::MapOptions{}, nullptr, nullptr));
  const schema::Table* table = sch.FindTable(kTable);
  const schema::TableMapping* tm = plan.FindTable(kTable);
  if (table == nullptr || tm == nullptr || tm->key_source.size() != 1) {
    return InvalidArgument(o.db + ": no `results` table with a one-column key");
  }
  const Ctx ctx{table, tm};
  ASSIGN_OR_RETURN(Workload w, LoadWorkload(o.db));
  fs::create_directories(o.out);
  const std::string work = o.out + "/capture_overhead." + std::to_string(::getpid()) + ".db";
  struct Cleanup {
    std::string path;
    size_t n;
    ~Cleanup() {
      for (size_t i = 0; i < n; ++i) {
        for (const char* sfx : {"", "-wal", "-shm"}) fs::remove(path + "." + std::to_string(i) + sfx);
      }
    }
  } cleanup{work, designs.size()};

  std::vector<Cell> cells;
  for (Op op : o.ops) {
    cells.push_back({op, 1, o.tx1});
    cells.push_back({op, 100, o.tx100});
  }
  std::vector<Series> series;
  for (const Cell& c : cells) {
    for (size_t i = 1; i < designs.size(); ++i) series.push_back({designs[i].name, c.op, c.rows_per_tx, {}, {}, {}, {}, {}, {}, {}, {}});
  }
  for (int r = 0; r < o.runs; ++r) {
    for (size_t ci = 0; ci < cells.size(); ++ci) {
      const Cell& c = cells[ci];
      const uint64_t seed = static_cast<uint64_t>(o.seed) * 1000003 + ci * 101 + static_cast<uint64_t>(r);
      std::vector<const Design*> ds;
      for (const Design& d : designs) ds.push_back(&d);
      ASSIGN_OR_RETURN(std::vector<Measure> m, RunCell(o, ds, ctx, w, c, work, seed));
      for (size_t di = 1; di < designs.size(); ++di) {
        Series& s = series[ci * (designs.size() - 1) + di - 1];
        s.without.push_back(m[0].rate);
        s.with.push_back(m[di].rate);
        s.ratio.push_back(m[di].rate / m[0].rate);
        s.cpu_without.push_back(m[0].cpu_us_tx);
        s.cpu_with.push_back(m[di].cpu_us_tx);
        // As a rate ratio: CPU time without / CPU time with.
        s.cpu_ratio.push_back(m[0].cpu_us_tx / m[di].cpu_us_tx);
        s.pages_without.push_back(m[0].pages_tx);
        s.pages_with.push_back(m[di].pages_tx);
      }
      std::fprintf(stderr, "[run %d/%d] %s %lld rows/tx: off %.0f tx/s, %s %.2f\n", r + 1, o.runs, OpName(c.op),
                   static_cast<long long>(c.rows_per_tx), m[0].rate, designs.size() > 1 ? designs[1].name.c_str() : "",
                   designs.size() > 1 ? m[1].rate / m[0].rate : 1.0);
    }
  }

  char loadavg[64] = "?";
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fgets(loadavg, sizeof loadavg, f) == nullptr) loadavg[0] = '\0';
    std::fclose(f);
  }
  std::printf("capture overhead on `results` (%s, %lld rows generated), WAL + synchronous=NORMAL, foreign_keys=%s,\n",
              o.db.c_str(), static_cast<long long>(o.rows), o.foreign_keys ? "on" : "off");
  std::printf("SQLite %s, %ld cores, %d runs (medians; ratio = median of per-run with/without), %lld tx of 1 row, %lld tx of 100 rows\n",
              sqlite3_libversion(), ::sysconf(_SC_NPROCESSORS_ONLN), o.runs, static_cast<long long>(o.tx1),
              static_cast<long long>(o.tx100));
  std::printf("load average at the end: %s\n", loadavg);
  std::printf("%-18s %-7s %7s %12s %10s %6s  %-9s  %-12s %12s %9s  %s\n", "design", "op", "rows/tx", "without tx/s",
              "with tx/s", "ratio", "(min-max)", "goal", "pages/tx", "cpu ratio", "cpu us/tx");
  nlohmann::json jseries = nlohmann::json::array();
  for (const Series& s : series) {
    const double goal = GoalFor(s.op);
    const double ratio = MedianOf(s.ratio);
    const auto [lo, hi] = std::minmax_element(s.ratio.begin(), s.ratio.end());
    char pages[32], cpu[32];
    std::snprintf(pages, sizeof pages, "%.1f->%.1f", MedianOf(s.pages_without), MedianOf(s.pages_with));
    std::snprintf(cpu, sizeof cpu, "%.0f->%.0f", MedianOf(s.cpu_without), MedianOf(s.cpu_with));
    std::printf("%-18s %-7s %7lld %12.0f %10.0f %6.2f  %.2f-%.2f  %-6s %.2f  %12s %9.2f  %s\n", s.design.c_str(),
                OpName(s.op), static_cast<long long>(s.rows_per_tx), MedianOf(s.without), MedianOf(s.with), ratio, *lo, *hi,
                ratio >= goal ? "meets" : "MISSES", goal, pages, MedianOf(s.cpu_ratio), cpu);
    jseries.push_back({{"design", s.design},
                       {"op", OpName(s.op)},
                       {"rows_per_tx", s.rows_per_tx},
                       {"rate_without_tx_s", MedianOf(s.without)},
                       {"rate_with_tx_s", MedianOf(s.with)},
                       {"ratio", ratio},
                       {"goal", goal},
                       {"meets_goal", ratio >= goal},
                       {"wal_pages_per_tx", {{"without", MedianOf(s.pages_without)}, {"with", MedianOf(s.pages_with)}}},
                       {"cpu_us_per_tx", {{"without", MedianOf(s.cpu_without)}, {"with", MedianOf(s.cpu_with)}}},
                       {"cpu_ratio", MedianOf(s.cpu_ratio)},
                       {"runs", {{"without", s.without}, {"with", s.with}, {"ratio", s.ratio}, {"cpu_ratio", s.cpu_ratio}}}});
  }
  nlohmann::json jdesigns = nlohmann::json::array();
  std::printf("\npages/tx: pages written to the WAL per transaction, without -> with (deterministic, not noisy);\n"
              "cpu ratio: CPU time without / with (user + system of this process; less sensitive to waiting than wall time)\n");
  std::printf("\ndesigns:\n");
  for (const Design& d : designs) {
    std::printf("  %-18s %s\n", d.name.c_str(), d.what.c_str());
    jdesigns.push_back({{"name", d.name}, {"what", d.what}});
  }
  nlohmann::json j = {{"bench", "capture_overhead"},
                      {"db", o.db},
                      {"rows", o.rows},
                      {"seed", o.seed},
                      {"runs", o.runs},
                      {"transactions", {{"rows_per_tx_1", o.tx1}, {"rows_per_tx_100", o.tx100}}},
                      {"foreign_keys", o.foreign_keys},
                      {"sqlite", sqlite3_libversion()},
                      {"loadavg_at_end", std::string(loadavg)},
                      {"designs", jdesigns},
                      {"series", jseries}};
  const std::string path = o.out + "/capture_overhead.json";
  std::ofstream(path) << j.dump(2) << "\n";
  std::fprintf(stderr, "capture_overhead: wrote %s\n", path.c_str());
  return Status::Ok();
}

}  // namespace
}  // namespace slipway::bench

int main(int argc, char** argv) {
  slipway::bench::Options o;
  if (slipway::Status s = slipway::bench::ParseOptions(argc, argv, o); !s.ok()) {
    std::cerr << "capture_overhead: " << s.message() << "\n";
    return 2;
  }
  if (slipway::Status s = slipway::bench::Run(o); !s.ok()) {
    std::cerr << "capture_overhead: " << s.ToString() << "\n";
    return 1;
  }
  return 0;
}
