// apply_bench: sustained apply throughput of `slipway stream` against plain
// hand-written ways of applying the same changes, in one run on this machine.
//
//   apply_bench [--db FILE] [--rows N] [--changes N] [--rows-per-tx K] [--runs R]
//               [--batch B] [--single N] [--live-changes N] [--port P] [--root DIR] [--out DIR] [--skip-live]
//               [--methods NAME,...]
//
// 1. A throwaway PostgreSQL (deploy/pg-throwaway.sh), a fresh copy of the
//    race-timing database, `slipway snapshot` into it (installs capture).
// 2. N changes (insert/update/delete 50/40/10 on `results`, K per
//    transaction, app_writer's statements) made with capture on and no stream
//    running; the file is kept as the source of every timed step.
// 3. Per run, each on a fresh copy of the snapshotted target (CREATE DATABASE
//    ... TEMPLATE) and of the source, in a rotating order:
//      slipway stream --until-caught-up (the process, wall time);
//      slipway's Applier in rounds of B changes (what the stream does per
//        round when it keeps up; no pruning), as slipway picks the path
//        (COPY above 500 keys) and, as diagnostics, all pipelined, or with
//        the COPY path's DELETE ... USING kept to an index nested loop;
//      baselines reading the same changelog LEFT JOIN results in seq order
//      and writing one statement per change (no folding), session set up as
//      the applier's (session_replication_role = replica):
//        single:   INSERT ... ON CONFLICT DO UPDATE / DELETE, autocommit, one
//                  round trip per change (timed on the first --single changes);
//        pipeline: the same statements, B per transaction, one round trip;
//        copy:     COPY of B changes into a temp staging table, then DELETE
//                  USING + INSERT ... SELECT DISTINCT ON ... ON CONFLICT;
//        copy_one_tx: the same with every change in one transaction, the
//                  shape of the stream's single catch-up round.
//    Every full apply is checked against the source (count, sum of laps).
// 4. Live: --live-changes changes made at full speed while `slipway stream` runs
//    (small rounds); reports the writer's rate, the stream's rounds and how
//    long it took to catch up after the writer stopped.
// Prints a table (changes/s, x best baseline) and writes
// OUT/apply_bench.json.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_process.h"
#include "bench/bench_util.h"
#include "cli/args.h"
#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/forward_applier.h"
#include "replicator/capture.h"
#include "replicator/pg_state.h"
#include "replicator/session.h"
#include "replicator/table_sql.h"
#include "schema/codec.h"
#include "schema/plan.h"

namespace slipway::bench {
namespace {


namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kTable = "results";
constexpr double kGoal = 1.3;


struct Options {
  std::string db;
  int64_t rows = 200000;
  int64_t seed = 1;
  int64_t changes = 200000;
  int64_t rows_per_tx = 10;
  int runs = 3;
  int64_t batch = 1000;
  int64_t single = 2000;
  int64_t live_changes = 100000;
  int port = 0;
  std::string root = ".";
  std::string out = "bench/out";
  bool live = true;
  std::vector<std::string> methods;  // empty: all
  fs::path bin;  // folder of this program (build/bench)
};

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<std::string> SplitCsv(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ---------------------------------------------------------------- processes

// ---------------------------------------------------------------- changes

// app_writer's three statements, K changes per transaction, full speed.
Status MakeChanges(const std::string& path, int64_t n, int64_t rows_per_tx, uint64_t seed) {
  ASSIGN_OR_RETURN(Db db, Db::Open(path, Db::Mode::kReadWrite));
  RETURN_IF_ERROR(db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON"));
  ASSIGN_OR_RETURN(auto races_hi, db.QueryInt("SELECT max(id) FROM races"));
  ASSIGN_OR_RETURN(auto people_hi, db.QueryInt("SELECT max(id) FROM participants"));
  ASSIGN_OR_RETURN(Stmt ins, db.Prepare("INSERT INTO results (race_id, participant_id, bib, status, finish_seconds, laps, "
                                        "dnf, splits, created_at, updated_at) VALUES ("
                                        "(SELECT id FROM races WHERE id >= ?1 ORDER BY id LIMIT 1), "
                                        "(SELECT id FROM participants WHERE id >= ?2 ORDER BY id LIMIT 1), "
                                        "(SELECT coalesce(max(bib), 0) + 1 FROM results WHERE race_id = "
                                        "(SELECT id FROM races WHERE id >= ?1 ORDER BY id LIMIT 1)), "
                                        "'finished', ?3, 0, 0, ?4, ?5, NULL)"));
  ASSIGN_OR_RETURN(Stmt upd, db.Prepare("UPDATE results SET laps = laps + 1, updated_at = ?2, "
                                        "finish_seconds = round(coalesce(finish_seconds, 3600.0) + ?3, 3) "
                                        "WHERE id = (SELECT id FROM results WHERE id >= ?1 ORDER BY id LIMIT 1)"));
  ASSIGN_OR_RETURN(Stmt del, db.Prepare("DELETE FROM results WHERE id = (SELECT id FROM results WHERE id >= ?1 "
                                        "ORDER BY id LIMIT 1)"));
  Rng rng(seed);
  int64_t done = 0;
  while (done < n && !g_stop) {
    ASSIGN_OR_RETURN(auto hi, db.QueryInt("SELECT max(id) FROM results"));
    RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    const std::string now = NowTimestamp();
    for (int64_t i = 0; i < rows_per_tx && done < n; ++i, ++done) {
      const int64_t r = rng.Range(0, 99);
      if (r < 50) {
        ins.Bind(1, rng.Range(1, races_hi.value_or(1))).Bind(2, rng.Range(1, people_hi.value_or(1)));
        ins.Bind(3, static_cast<double>(rng.Range(900000, 21600000)) / 1000.0);
        ins.Bind(4, "[" + std::to_string(rng.Range(300, 3000)) + ".5]").Bind(5, now);
        RETURN_IF_ERROR(ins.Run());
        RETURN_IF_ERROR(ins.Reset());
      } else {
        Stmt& st = r < 90 ? upd : del;
        st.Bind(1, rng.Range(1, hi.value_or(1)));
        if (r < 90) st.Bind(2, now).Bind(3, static_cast<double>(rng.Range(-5000, 5000)) / 1000.0);
        RETURN_IF_ERROR(st.Run());
        RETURN_IF_ERROR(st.Reset());
        if (db.Changes() == 0) --done;  // past the last id: draw again
      }
    }
    RETURN_IF_ERROR(db.Exec("COMMIT"));
  }
  return db.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

// ---------------------------------------------------------------- baselines

struct Range {
  int64_t from = 0, to = 0;  // (from, to]
};

// What a hand-written applier needs about the table.
struct Target {
  const schema::TableMapping* tm = nullptr;
  replicator::TableSql sql;
  int tid = 0;
  std::string upsert, del, key;
  int key_col = 0;  // the key's position among sqlite_columns
};

Target MakeTarget(const schema::Plan& plan, int tid) {
  Target t;
  t.tm = plan.FindTable(kTable);
  t.sql = replicator::BuildTableSql(*t.tm, plan.options.pg_schema);
  t.tid = tid;
  t.key = QuotePgIdent(t.tm->key_target[0]);
  for (size_t i = 0; i < t.sql.sqlite_columns.size(); ++i) {
    if (t.sql.sqlite_columns[i] == t.sql.sqlite_key[0]) t.key_col = static_cast<int>(i);
  }
  std::string cols, marks, set;
  for (size_t i = 0; i < t.sql.pg_columns.size(); ++i) {
    cols += (i ? ", " : "") + t.sql.pg_columns[i];
    marks += (i ? ", $" : "$") + std::to_string(i + 1);
    if (t.sql.pg_columns[i] != t.key) set += (set.empty() ? "" : ", ") + t.sql.pg_columns[i] + " = EXCLUDED." + t.sql.pg_columns[i];
  }
  t.upsert = "INSERT INTO " + t.sql.pg_table + " (" + cols + ") VALUES (" + marks + ") ON CONFLICT (" + t.key +
             ") DO UPDATE SET " + set;
  t.del = "DELETE FROM " + t.sql.pg_table + " WHERE " + t.key + " = $1";
  return t;
}

// Reads the range in seq order: the key, then the current row (NULLs when
// the row is gone).
Result<Stmt> ReadChanges(Db& src, const Target& t, const Range& r) {
  std::string sql = "SELECT c.k1";
  for (const auto& c : t.sql.sqlite_columns) sql += ", r." + c;
  sql += " FROM _slipway_changelog c LEFT JOIN " + t.sql.sqlite_table + " r ON r." + t.sql.sqlite_key[0] +
         " = c.k1 WHERE c.tid = ?1 AND c.seq > ?2 AND c.seq <= ?3 ORDER BY c.seq";
  ASSIGN_OR_RETURN(Stmt st, src.Prepare(sql));
  st.Bind(1, static_cast<int64_t>(t.tid)).Bind(2, r.from).Bind(3, r.to);
  return st;
}

// One change as statement parameters; `deleted` when the row is gone.
Status Encode(const Target& t, Stmt& st, std::vector<PgParam>* params, bool* deleted) {
  params->clear();
  *deleted = st.IsNull(1 + t.key_col);  // the joined row's key
  if (*deleted) {
    params->push_back(std::to_string(st.Int(0)));
    return Status::Ok();
  }
  for (size_t c = 0; c < t.sql.column_index.size(); ++c) {
    schema::SqlValue v = schema::SqlValue::FromColumn(st.get(), 1 + static_cast<int>(c));
    if (v.type == SQLITE_NULL) {
      params->emplace_back(std::nullopt);
      continue;
    }
    std::string text;
    RETURN_IF_ERROR(schema::EncodeForPg(v, t.tm->columns[static_cast<size_t>(t.sql.column_index[c])], &text));
    params->push_back(std::move(text));
  }
  return Status::Ok();
}

Status CheckResult(PGresult* raw, PgConn& pg) {
  PgResult r(raw);
  ExecStatusType s = PQresultStatus(raw);
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return Status::Ok();
  return Internal("statement failed: " + std::string(raw ? PQresultErrorMessage(raw) : pg.ErrorMessage().c_str()));
}

// (i) autocommit, one prepared statement per round trip.
Result<int64_t> ApplySingle(Db& src, PgConn& pg, const Target& t, const Range& r, int64_t limit) {
  RETURN_IF_ERROR(pg.Prepare("b_upsert", t.upsert, static_cast<int>(t.sql.pg_columns.size())));
  RETURN_IF_ERROR(pg.Prepare("b_del", t.del, 1));
  RETURN_IF_ERROR(src.Exec("BEGIN"));
  ASSIGN_OR_RETURN(Stmt st, ReadChanges(src, t, r));
  std::vector<PgParam> params;
  std::vector<const char*> values;
  int64_t n = 0;
  while (n < limit) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    bool deleted = false;
    RETURN_IF_ERROR(Encode(t, st, &params, &deleted));
    values.clear();
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    RETURN_IF_ERROR(CheckResult(PQexecPrepared(pg.get(), deleted ? "b_del" : "b_upsert", static_cast<int>(values.size()),
                                               values.data(), nullptr, nullptr, 0),
                                pg));
    ++n;
  }
  RETURN_IF_ERROR(src.Exec("COMMIT"));
  return n;
}

// (ii) B statements per transaction, one pipelined round trip each.
Result<int64_t> ApplyPipelined(Db& src, PgConn& pg, const Target& t, const Range& r, int64_t batch) {
  RETURN_IF_ERROR(pg.Prepare("b_upsert", t.upsert, static_cast<int>(t.sql.pg_columns.size())));
  RETURN_IF_ERROR(pg.Prepare("b_del", t.del, 1));
  RETURN_IF_ERROR(src.Exec("BEGIN"));
  ASSIGN_OR_RETURN(Stmt st, ReadChanges(src, t, r));
  std::vector<PgParam> params;
  int64_t n = 0;
  bool more = true;
  while (more) {
    RETURN_IF_ERROR(pg.BeginPipeline());
    RETURN_IF_ERROR(pg.QueueSql("BEGIN"));
    int64_t in_batch = 0;
    while (in_batch < batch) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) {
        more = false;
        break;
      }
      bool deleted = false;
      RETURN_IF_ERROR(Encode(t, st, &params, &deleted));
      RETURN_IF_ERROR(pg.QueuePrepared(deleted ? "b_del" : "b_upsert", params));
      ++in_batch;
    }
    RETURN_IF_ERROR(pg.QueueSql("COMMIT"));
    RETURN_IF_ERROR(pg.EndPipeline());
    n += in_batch;
  }
  RETURN_IF_ERROR(src.Exec("COMMIT"));
  return n;
}

// (iii) COPY of B changes into a staging table, then a set-based merge.
Result<int64_t> ApplyStaged(Db& src, PgConn& pg, const Target& t, const Range& r, int64_t batch) {
  std::string cols, sel, set;
  for (size_t i = 0; i < t.sql.pg_columns.size(); ++i) {
    const std::string& c = t.sql.pg_columns[i];
    cols += (i ? ", " : "") + c;
    if (c != t.key) set += (set.empty() ? "" : ", ") + c + " = EXCLUDED." + c;
  }
  RETURN_IF_ERROR(pg.Run("CREATE TEMP TABLE b_stage AS SELECT 0::bigint AS b_seq, false AS b_del, * FROM " +
                         t.sql.pg_table + " WITH NO DATA"));
  const std::string copy = "COPY b_stage (b_seq, b_del, " + cols + ") FROM STDIN";
  const std::string merge = "DELETE FROM " + t.sql.pg_table + " t USING b_stage s WHERE s.b_del AND t." + t.key +
                            " = s." + t.key + "; INSERT INTO " + t.sql.pg_table + " (" + cols + ") SELECT DISTINCT ON (" +
                            t.key + ") " + cols + " FROM b_stage WHERE NOT b_del ORDER BY " + t.key +
                            ", b_seq DESC ON CONFLICT (" + t.key + ") DO UPDATE SET " + set +
                            "; TRUNCATE b_stage; COMMIT";
  RETURN_IF_ERROR(src.Exec("BEGIN"));
  ASSIGN_OR_RETURN(Stmt st, ReadChanges(src, t, r));
  std::vector<PgParam> params;
  std::string buf;
  int64_t n = 0;
  bool more = true;
  while (more) {
    RETURN_IF_ERROR(pg.Run("BEGIN"));
    RETURN_IF_ERROR(pg.CopyBegin(copy));
    buf.clear();
    int64_t in_batch = 0;
    while (in_batch < batch) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) {
        more = false;
        break;
      }
      bool deleted = false;
      RETURN_IF_ERROR(Encode(t, st, &params, &deleted));
      buf += std::to_string(n + in_batch) + (deleted ? "\tt" : "\tf");
      if (deleted) {
        for (const auto& c : t.sql.pg_columns) buf += c == t.key ? "\t" + *params[0] : "\t\\N";
      } else {
        for (const auto& p : params) {
          buf += '\t';
          if (p) {
            schema::AppendCopyEscaped(*p, &buf);
          } else {
            buf += "\\N";
          }
        }
      }
      buf += '\n';
      ++in_batch;
    }
    RETURN_IF_ERROR(pg.CopyPut(buf.data(), buf.size()));
    RETURN_IF_ERROR(pg.CopyEnd().status());
    RETURN_IF_ERROR(pg.Run(merge));
    n += in_batch;
  }
  RETURN_IF_ERROR(src.Exec("COMMIT"));
  return n;
}

// ---------------------------------------------------------------- the bench

struct Setup {
  Server server;
  std::string work;          // folder for this run's files
  std::string changed;       // the source with the changes (kept)
  std::string snapped;       // the source right after the snapshot (for the live step)
  std::string run_src;       // the copy each step uses
  schema::Plan plan;
  int tid = 0;
  Range range;               // the changes
  int64_t expect_count = 0;  // results rows after the changes
  int64_t expect_laps = 0;
  int64_t changes = 0;
};

Status Admin(Setup& s, const std::string& sql) {
  ASSIGN_OR_RETURN(PgConn c, PgConn::Connect(s.server.Uri("postgres")));
  return c.Run(sql);
}

// A fresh target database copied from the snapshotted one, and a fresh source.
Status FreshPair(Setup& s, const std::string& db, const std::string& source) {
  RETURN_IF_ERROR(Admin(s, "DROP DATABASE IF EXISTS " + db));
  RETURN_IF_ERROR(Admin(s, "CREATE DATABASE " + db + " TEMPLATE snap"));
  for (const char* sfx : {"", "-wal", "-shm"}) fs::remove(s.run_src + sfx);
  fs::copy_file(source, s.run_src);
  RETURN_IF_ERROR(Admin(s, "CHECKPOINT"));
  ::sync();
  return Status::Ok();
}

Status Verify(Setup& s, const std::string& db) {
  ASSIGN_OR_RETURN(PgConn c, PgConn::Connect(s.server.Uri(db)));
  const std::string table = QuotePgIdent(s.plan.options.pg_schema) + "." + QuotePgIdent(s.plan.FindTable(kTable)->target);
  ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT count(*), coalesce(sum(laps), 0) FROM " + table));
  if (std::stoll(r.Str(0, 0)) != s.expect_count || std::stoll(r.Str(0, 1)) != s.expect_laps) {
    return Internal(db + ": results has " + r.Str(0, 0) + " rows, sum(laps) " + r.Str(0, 1) + "; the source has " +
                    std::to_string(s.expect_count) + ", " + std::to_string(s.expect_laps));
  }
  return Status::Ok();
}

Status Prepare(const Options& o, Setup& s) {
  s.work = o.out + "/apply_bench." + std::to_string(::getpid());
  fs::create_directories(s.work);
  s.changed = s.work + "/changed.db";
  s.snapped = s.work + "/snapped.db";
  s.run_src = s.work + "/source.db";
  const int port = o.port ? o.port : 55000 + ::getpid() % 1000;
  RETURN_IF_ERROR(s.server.Start(o.root, port, "abench"));
  fs::copy_file(o.db, s.run_src);
  std::fprintf(stderr, "[apply_bench] slipway snapshot of %s\n", o.db.c_str());
  const std::string slipway = (o.bin / "../slipway").lexically_normal().string();
  RETURN_IF_ERROR(Admin(s, "CREATE DATABASE snap"));
  // Foreign keys validated here, once: otherwise every timed stream would
  // validate them beside its apply (a one-time cost, not a sustained one).
  if (RunProcess({slipway, "snapshot", "--source", s.run_src, "--target", s.server.Uri("snap"), "--validate-fks"},
                 s.work + "/snapshot.log") != 0) {
    return Internal("slipway snapshot failed: " + ReadFile(s.work + "/snapshot.log"));
  }
  {
    ASSIGN_OR_RETURN(Db db, Db::Open(s.run_src, Db::Mode::kReadWrite));
    RETURN_IF_ERROR(db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }
  fs::copy_file(s.run_src, s.snapped);
  {
    ASSIGN_OR_RETURN(PgConn c, PgConn::Connect(s.server.Uri("snap")));
    ASSIGN_OR_RETURN(auto m, replicator::ReadMigration(c));
    if (!m) return Internal("no migration in the target after the snapshot");
    ASSIGN_OR_RETURN(s.plan, schema::PlanFromJson(m->plan));
    ASSIGN_OR_RETURN(PgResult start, c.Exec("SELECT coalesce(min(start_seq), 0) FROM slipway.tables"));
    s.range.from = std::max<int64_t>(m->applied_seq, std::stoll(start.Str(0, 0)));
  }
  std::fprintf(stderr, "[apply_bench] making %lld changes, %lld per transaction, capture on\n",
               static_cast<long long>(o.changes), static_cast<long long>(o.rows_per_tx));
  const auto t0 = Clock::now();
  RETURN_IF_ERROR(MakeChanges(s.run_src, o.changes, o.rows_per_tx, static_cast<uint64_t>(o.seed)));
  std::fprintf(stderr, "[apply_bench] made in %.1f s\n", Seconds(t0));
  ASSIGN_OR_RETURN(Db db, Db::Open(s.run_src, Db::Mode::kReadOnly));
  ASSIGN_OR_RETURN(replicator::CaptureInfo cap, replicator::ReadCapture(db));
  s.tid = cap.tids.at(kTable);
  ASSIGN_OR_RETURN(auto to, db.QueryInt("SELECT max(seq) FROM _slipway_changelog"));
  s.range.to = to.value_or(0);
  ASSIGN_OR_RETURN(auto n, db.QueryInt("SELECT count(*) FROM _slipway_changelog WHERE seq > " + std::to_string(s.range.from)));
  s.changes = n.value_or(0);
  ASSIGN_OR_RETURN(auto cnt, db.QueryInt("SELECT count(*) FROM results"));
  ASSIGN_OR_RETURN(auto laps, db.QueryInt("SELECT coalesce(sum(laps), 0) FROM results"));
  s.expect_count = cnt.value_or(0);
  s.expect_laps = laps.value_or(0);
  fs::copy_file(s.run_src, s.changed);
  return Status::Ok();
}

struct Method {
  std::string name;
  std::string what;
  std::vector<double> rates;  // changes/s per run
  std::vector<double> extra;  // per run: rounds (stream) or changes timed
};

// One timed step on a fresh pair; returns changes/s.
Result<double> RunMethod(const Options& o, Setup& s, Method& m, int run) {
  const std::string db = "t_" + m.name + "_" + std::to_string(run);
  RETURN_IF_ERROR(FreshPair(s, db, s.changed));
  double secs = 0;
  int64_t n = s.changes;
  bool verify = true;
  if (m.name == "slipway_stream") {
    const std::string slipway = (o.bin / "../slipway").lexically_normal().string();
    const std::string log = s.work + "/stream.log";
    const auto t0 = Clock::now();
    int rc = RunProcess({slipway, "stream", "--source", s.run_src, "--target", s.server.Uri(db), "--until-caught-up"}, log);
    secs = Seconds(t0);
    if (rc != 0) return Internal("slipway stream failed: " + ReadFile(log));
    long long seq = 0, changes = 0, rounds = 0, lag = 0;
    const std::string text = WithoutDigitGroups(ReadFile(log));
    const size_t p = text.find("stream stopped:");
    if (p == std::string::npos ||
        std::sscanf(text.c_str() + p, "stream stopped: applied seq %lld, %lld changes in %lld rounds, lag %lld", &seq,
                    &changes, &rounds, &lag) != 4) {
      return Internal("unexpected slipway stream output: " + text);
    }
    n = changes;
    m.extra.push_back(static_cast<double>(rounds));
  } else {
    ASSIGN_OR_RETURN(Db src, Db::Open(s.run_src, Db::Mode::kReadOnly));
    ASSIGN_OR_RETURN(PgConn pg, PgConn::Connect(s.server.Uri(db)));
    RETURN_IF_ERROR(replicator::SetupSession(pg, replicator::SessionRole::kApplier));
    const Target t = MakeTarget(s.plan, s.tid);
    const auto t0 = Clock::now();
    if (m.name.rfind("slipway_rounds", 0) == 0) {
      const int64_t round = o.batch;
      replicator::ForwardApplier applier(src, pg, s.plan, {{kTable, s.tid}});
      // Diagnostics: every round through the pipeline instead of COPY; or
      // the COPY path with its DELETE ... USING kept off hash and merge
      // joins (which scan the whole target table for a few hundred keys).
      if (m.name == "slipway_rounds_pipe") applier.set_pipeline_max(round);
      if (m.name == "slipway_rounds_nl") RETURN_IF_ERROR(pg.Run("SET enable_hashjoin = off; SET enable_mergejoin = off"));
      int64_t rounds = 0;
      for (int64_t from = s.range.from; from < s.range.to; from += round, ++rounds) {
        RETURN_IF_ERROR(src.Exec("BEGIN"));
        ASSIGN_OR_RETURN(auto newest, src.QueryInt("SELECT max(seq) FROM _slipway_changelog"));
        auto rs = applier.ApplyRange(from, std::min(from + round, newest.value_or(0)));
        RETURN_IF_ERROR(src.Exec("COMMIT"));
        if (!rs.ok()) return rs.status();
      }
      m.extra.push_back(static_cast<double>(rounds));
    } else if (m.name == "single") {
      ASSIGN_OR_RETURN(n, ApplySingle(src, pg, t, s.range, o.single));
      verify = n >= s.changes;
      m.extra.push_back(static_cast<double>(n));
    } else if (m.name == "copy_one_tx") {
      ASSIGN_OR_RETURN(n, ApplyStaged(src, pg, t, s.range, s.changes + 1));
    } else if (m.name == "pipeline") {
      ASSIGN_OR_RETURN(n, ApplyPipelined(src, pg, t, s.range, o.batch));
    } else {
      ASSIGN_OR_RETURN(n, ApplyStaged(src, pg, t, s.range, o.batch));
    }
    secs = Seconds(t0);
  }
  if (verify) RETURN_IF_ERROR(Verify(s, db).Annotate(m.name));
  RETURN_IF_ERROR(Admin(s, "DROP DATABASE " + db));
  std::fprintf(stderr, "[apply_bench] run %d %-15s %8lld changes %7.2f s %9.0f changes/s\n", run, m.name.c_str(),
               static_cast<long long>(n), secs, static_cast<double>(n) / secs);
  return static_cast<double>(n) / secs;
}

struct Live {
  double writer_seconds = 0, catchup_seconds = 0;
  int64_t changes = 0;
  long long rounds = 0;
};

// The writer at full speed while the stream runs: small rounds.
Result<Live> RunLive(const Options& o, Setup& s) {
  const std::string db = "t_live";
  RETURN_IF_ERROR(FreshPair(s, db, s.snapped));
  const std::string slipway = (o.bin / "../slipway").lexically_normal().string();
  const std::string log = s.work + "/live.log";
  pid_t pid = SpawnProcess({slipway, "stream", "--source", s.run_src, "--target", s.server.Uri(db)}, log);
  struct Reap {
    pid_t pid;
    ~Reap() {
      if (pid > 0) {
        ::kill(pid, SIGTERM);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reap{pid};
  ASSIGN_OR_RETURN(PgConn pg, PgConn::Connect(s.server.Uri(db)));
  // Wait for the stream to be attached before writing.
  for (int i = 0; i < 100; ++i) {
    ASSIGN_OR_RETURN(PgResult r, pg.Exec("SELECT phase FROM slipway.migration"));
    if (r.Str(0, 0) == "streaming") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Live live;
  const auto t0 = Clock::now();
  RETURN_IF_ERROR(MakeChanges(s.run_src, o.live_changes, o.rows_per_tx, static_cast<uint64_t>(o.seed)));
  live.writer_seconds = Seconds(t0);
  ASSIGN_OR_RETURN(Db src, Db::Open(s.run_src, Db::Mode::kReadOnly));
  ASSIGN_OR_RETURN(auto newest, src.QueryInt("SELECT max(seq) FROM _slipway_changelog"));
  const auto t1 = Clock::now();
  while (!g_stop) {
    ASSIGN_OR_RETURN(PgResult r, pg.Exec("SELECT applied_seq FROM slipway.migration"));
    if (std::stoll(r.Str(0, 0)) >= newest.value_or(0)) break;
    if (Seconds(t1) > 600) return Internal("the stream did not catch up in 10 minutes");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  live.catchup_seconds = Seconds(t1);
  live.changes = newest.value_or(0) - s.range.from;
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  reap.pid = 0;
  const std::string text = WithoutDigitGroups(ReadFile(log));
  const size_t p = text.find("stream stopped:");
  long long seq = 0, changes = 0;
  if (p != std::string::npos) {
    std::sscanf(text.c_str() + p, "stream stopped: applied seq %lld, %lld changes in %lld rounds", &seq, &changes,
                &live.rounds);
  }
  pg = PgConn();
  RETURN_IF_ERROR(Admin(s, "DROP DATABASE " + db));
  return live;
}

Status EnsureTemplate(const Options& o) {
  if (fs::exists(o.db)) return Status::Ok();
  const fs::path gen = o.bin / "gen_racetiming";
  if (!fs::exists(gen)) return InvalidArgument(o.db + " does not exist and " + gen.string() + " was not found");
  fs::create_directories(fs::path(o.db).parent_path());
  std::fprintf(stderr, "[apply_bench] generating %s\n", o.db.c_str());
  if (RunProcess({gen.string(), "--out", o.db, "--rows", std::to_string(o.rows), "--seed", std::to_string(o.seed)},
                 "/dev/null") != 0) {
    return Internal("gen_racetiming failed");
  }
  return Status::Ok();
}

Status Run(const Options& o) {
  RETURN_IF_ERROR(EnsureTemplate(o));
  Setup s;
  struct Cleanup {
    std::string* dir;
    ~Cleanup() {
      if (!dir->empty()) fs::remove_all(*dir);
    }
  } cleanup{&s.work};
  RETURN_IF_ERROR(Prepare(o, s));
  std::vector<Method> methods = {
      {"slipway_stream", "slipway stream --until-caught-up (process wall time)", {}, {}},
      {"slipway_rounds", "slipway Applier, rounds of " + std::to_string(o.batch) + " changes", {}, {}},
      {"slipway_rounds_pipe", "diagnostic: the same with pipeline_max = " + std::to_string(o.batch) + " (no COPY path)", {}, {}},
      {"slipway_rounds_nl", "diagnostic: the same, COPY path, session without hash/merge joins", {}, {}},
      {"single", "baseline i: autocommit upsert/delete, 1 round trip per change", {}, {}},
      {"pipeline", "baseline ii: " + std::to_string(o.batch) + " changes per tx, pipelined", {}, {}},
      {"copy", "baseline iii: COPY " + std::to_string(o.batch) + " into staging + merge", {}, {}},
      {"copy_one_tx", "baseline iii with every change in one transaction (the stream's shape)", {}, {}},
  };
  if (!o.methods.empty()) {
    std::erase_if(methods, [&](const Method& m) {
      return std::find(o.methods.begin(), o.methods.end(), m.name) == o.methods.end();
    });
    if (methods.empty()) return InvalidArgument("--methods names none of the methods");
  }
  for (int r = 0; r < o.runs && !g_stop; ++r) {
    for (size_t k = 0; k < methods.size() && !g_stop; ++k) {
      Method& m = methods[(k + static_cast<size_t>(r)) % methods.size()];
      ASSIGN_OR_RETURN(double rate, RunMethod(o, s, m, r + 1));
      m.rates.push_back(rate);
    }
  }
  if (g_stop) return Internal("interrupted");
  std::optional<Live> live;
  if (o.live) {
    std::fprintf(stderr, "[apply_bench] live: %lld changes at full speed while slipway stream runs\n",
                 static_cast<long long>(o.live_changes));
    ASSIGN_OR_RETURN(live, RunLive(o, s));
  }

  double best = 0;
  std::string best_name;
  for (const Method& m : methods) {
    if (m.name.rfind("slipway", 0) != 0 && Median(m.rates) > best) {
      best = Median(m.rates);
      best_name = m.name;
    }
  }
  char loadavg[64] = "?";
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fgets(loadavg, sizeof loadavg, f) == nullptr) loadavg[0] = '\0';
    std::fclose(f);
  }
  std::printf("apply throughput on `results` (PK + 2 indexes + 1 unique): %lld changes (insert/update/delete "
              "50/40/10, %lld per source tx) over a %lld-row database\n",
              static_cast<long long>(s.changes), static_cast<long long>(o.rows_per_tx), static_cast<long long>(o.rows));
  std::printf("%ld cores, median of %d runs; load average at the end: %s\n", ::sysconf(_SC_NPROCESSORS_ONLN), o.runs, loadavg);
  std::printf("%-20s %12s %10s   %-22s %s\n", "method", "changes/s", "x best", "runs (min-max)", "what");
  nlohmann::json jm = nlohmann::json::array();
  for (const Method& m : methods) {
    const auto [lo, hi] = std::minmax_element(m.rates.begin(), m.rates.end());
    char range[64];
    std::snprintf(range, sizeof range, "%.0f-%.0f", *lo, *hi);
    std::printf("%-20s %12.0f %10.2f   %-22s %s\n", m.name.c_str(), Median(m.rates), Median(m.rates) / best, range,
                m.what.c_str());
    jm.push_back({{"name", m.name}, {"what", m.what}, {"median_changes_per_s", Median(m.rates)},
                  {"x_best_baseline", Median(m.rates) / best}, {"runs", m.rates}, {"extra", m.extra}});
  }
  std::printf("best baseline: %s; goal: slipway >= %.1fx the best baseline\n", best_name.c_str(), kGoal);
  auto rate = [&](const std::string& name) {
    for (const Method& m : methods) {
      if (m.name == name) return Median(m.rates);
    }
    return 0.0;
  };
  // The rates of method `name` in each run (empty when it did not run).
  auto runs_of = [&](const std::string& name) {
    for (const Method& m : methods) {
      if (m.name == name) return m.rates;
    }
    return std::vector<double>{};
  };
  // The best of `names` in each run.
  auto best_per_run = [&](const std::vector<std::string>& names) {
    std::vector<double> out;
    for (const std::string& n : names) {
      std::vector<double> r = runs_of(n);
      if (out.empty()) out.assign(r.size(), 0.0);
      for (size_t i = 0; i < r.size() && i < out.size(); ++i) out[i] = std::max(out[i], r[i]);
    }
    return out;
  };
  std::vector<std::string> baselines;
  for (const Method& m : methods) {
    if (m.name.rfind("slipway", 0) != 0) baselines.push_back(m.name);
  }
  // Like for like: the same transaction shape on both sides. Each line gives
  // the ratio of the medians and the median of the per-run ratios (the
  // methods of one run ran back to back, so the pairs share the machine's
  // state); the verdict follows the per-run ratios.
  const double best_batched = std::max({rate("single"), rate("pipeline"), rate("copy")});
  const std::vector<std::tuple<std::string, double, std::vector<double>, std::string>> goals = {
      {"slipway_stream", best, best_per_run(baselines), "best baseline"},
      {"slipway_stream", rate("copy_one_tx"), runs_of("copy_one_tx"), "copy_one_tx (one transaction, as the stream)"},
      {"slipway_rounds", best_batched, best_per_run({"single", "pipeline", "copy"}),
       "best " + std::to_string(o.batch) + "-change baseline"}};
  nlohmann::json jgoals = nlohmann::json::array();
  for (const auto& [name, base, base_runs, vs] : goals) {
    const double x = rate(name) / base;
    std::vector<double> mine = runs_of(name), paired;
    for (size_t i = 0; i < mine.size() && i < base_runs.size(); ++i) {
      if (base_runs[i] > 0) paired.push_back(mine[i] / base_runs[i]);
    }
    const double px = paired.empty() ? x : Median(paired);
    const double plo = paired.empty() ? x : *std::min_element(paired.begin(), paired.end());
    const double phi = paired.empty() ? x : *std::max_element(paired.begin(), paired.end());
    std::printf("  %-16s / %-46s %.2fx  per run %.2fx (%.2f-%.2f)  %s\n", name.c_str(), vs.c_str(), x, px, plo, phi,
                px >= kGoal ? "meets" : "MISSES");
    jgoals.push_back({{"slipway", name}, {"versus", vs}, {"x", x}, {"x_per_run", paired}, {"x_per_run_median", px},
                      {"meets", px >= kGoal}});
  }
  nlohmann::json jlive = nullptr;
  if (live) {
    const double overall = static_cast<double>(live->changes) / (live->writer_seconds + live->catchup_seconds);
    std::printf("live: writer %.0f changes/s for %.1f s while streaming; caught up %.2f s after it stopped; "
                "%lld rounds (%.0f changes per round); overall %.0f changes/s\n",
                static_cast<double>(live->changes) / live->writer_seconds, live->writer_seconds, live->catchup_seconds,
                live->rounds, live->rounds ? static_cast<double>(live->changes) / static_cast<double>(live->rounds) : 0.0,
                overall);
    jlive = {{"changes", live->changes},
             {"writer_seconds", live->writer_seconds},
             {"writer_changes_per_s", static_cast<double>(live->changes) / live->writer_seconds},
             {"catchup_seconds", live->catchup_seconds},
             {"rounds", live->rounds},
             {"changes_per_s_overall", overall}};
  }
  nlohmann::json j = {{"bench", "apply_bench"}, {"rows", o.rows},         {"changes", s.changes},
                      {"rows_per_source_tx", o.rows_per_tx}, {"batch", o.batch}, {"runs", o.runs},
                      {"single_prefix", o.single}, {"best_baseline", best_name}, {"goal", kGoal},
                      {"loadavg_at_end", std::string(loadavg)}, {"methods", jm}, {"goals", jgoals}, {"live", jlive}};
  std::ofstream(o.out + "/apply_bench.json") << j.dump(2) << "\n";
  std::fprintf(stderr, "[apply_bench] wrote %s/apply_bench.json\n", o.out.c_str());
  return Status::Ok();
}

Status ParseOptions(int argc, char** argv, Options& o) {
  const std::vector<cli::OptionSpec> specs = {
      {"db", true, ""},   {"rows", true, ""},   {"seed", true, ""}, {"changes", true, ""}, {"rows-per-tx", true, ""},
      {"runs", true, ""}, {"batch", true, ""},  {"single", true, ""}, {"live-changes", true, ""}, {"port", true, ""},  {"root", true, ""},
      {"out", true, ""},  {"skip-live", false, ""}, {"methods", true, ""}};
  ASSIGN_OR_RETURN(cli::Args args, cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc), specs));
  ASSIGN_OR_RETURN(o.rows, ParseInt64("rows", args.GetOr("rows", "200000")));
  ASSIGN_OR_RETURN(o.seed, ParseInt64("seed", args.GetOr("seed", "1")));
  ASSIGN_OR_RETURN(o.changes, ParseInt64("changes", args.GetOr("changes", "200000")));
  ASSIGN_OR_RETURN(o.rows_per_tx, ParseInt64("rows-per-tx", args.GetOr("rows-per-tx", "10")));
  ASSIGN_OR_RETURN(int64_t runs, ParseInt64("runs", args.GetOr("runs", "3")));
  ASSIGN_OR_RETURN(o.batch, ParseInt64("batch", args.GetOr("batch", "1000")));
  ASSIGN_OR_RETURN(o.single, ParseInt64("single", args.GetOr("single", "2000")));
  ASSIGN_OR_RETURN(o.live_changes, ParseInt64("live-changes", args.GetOr("live-changes", "100000")));
  ASSIGN_OR_RETURN(int64_t port, ParseInt64("port", args.GetOr("port", "0")));
  o.runs = static_cast<int>(runs);
  o.port = static_cast<int>(port);
  o.root = args.GetOr("root", ".");
  o.out = args.GetOr("out", "bench/out");
  o.live = !args.Has("skip-live");
  for (const std::string& name : SplitCsv(args.GetOr("methods", ""))) o.methods.push_back(name);
  o.db = args.GetOr("db", o.out + "/racetiming-r" + std::to_string(o.rows) + "-s" + std::to_string(o.seed) + ".db");
  if (o.runs < 1 || o.changes < 1 || o.rows_per_tx < 1 || o.batch < 1 || o.single < 1 || o.live_changes < 1) {
    return InvalidArgument("--runs, --changes, --rows-per-tx, --batch and --single must be positive");
  }
  return ResolveBenchPaths(&o.bin, &o.out, &o.db);
}

}  // namespace
}  // namespace slipway::bench

int main(int argc, char** argv) {
  return slipway::bench::BenchMain<slipway::bench::Options>("apply_bench", argc, argv, slipway::bench::ParseOptions,
                                                           slipway::bench::Run);
}
