#include "cli/status_report.h"

#include <algorithm>

#include "common/count_format.h"
#include "common/exit_codes.h"
#include "common/pg.h"
#include "common/redact.h"
#include "common/sqlite.h"
#include "cutover/verify_progress.h"
#include "replicator/capture.h"
#include "replicator/pg_state.h"
#include "replicator/session.h"

namespace slipway::cli {

namespace {

// Long steps as their commands last wrote them (replicator/step_progress.h),
// by step: state ('running', 'done', 'failed', or 'stopped' when the command
// went away without saying), who runs it, and its figures.
nlohmann::json ReadSteps(PgConn& pg) {
  nlohmann::json out = nlohmann::json::object();
  auto exists = pg.Exec("SELECT to_regclass('slipway.step_progress') IS NOT NULL");
  if (!exists.ok() || exists->Get(0, 0) != "t") return out;
  auto r = pg.Exec(
      "SELECT step, host, pid, started_at, updated_at, outcome, extract(epoch from now() - updated_at), figures::text "
      "FROM slipway.step_progress ORDER BY started_at");
  if (!r.ok()) return out;
  for (int i = 0; i < r->Rows(); ++i) {
    nlohmann::json step = nlohmann::json::parse(r->Str(i, 7), nullptr, false);
    if (!step.is_object()) step = nlohmann::json::object();
    const double age = r->IsNull(i, 6) ? 0 : std::stod(r->Str(i, 6));
    // Written about once a second while it runs.
    const bool alive = age < 5.0;
    step["state"] = !r->IsNull(i, 5) ? r->Str(i, 5) : (alive ? "running" : "stopped");
    step["host"] = r->Opt(i, 1).value_or("");
    step["pid"] = r->IsNull(i, 2) ? 0 : std::stoll(r->Str(i, 2));
    step["started_at"] = r->Str(i, 3);
    step["updated_at"] = r->Str(i, 4);
    step["age_seconds"] = age;
    out[r->Str(i, 0)] = std::move(step);
  }
  return out;
}

}  // namespace

Result<StatusReport> CollectStatus(const std::string& source, const std::string& target) {
  auto pg = PgConn::Connect(target);
  if (!pg.ok()) return pg.status();
  Status s = replicator::SetupSession(*pg, replicator::SessionRole::kReader);
  if (!s.ok()) return s;
  auto m = replicator::ReadMigration(*pg);
  if (!m.ok()) return m.status();
  auto db = Db::Open(source, Db::Mode::kReadOnly);
  if (!db.ok()) return db.status();

  nlohmann::json j;
  j["source"] = source;
  j["target"] = RedactConninfo(target);
  auto capture = replicator::ReadCapture(*db);
  j["capture_installed"] = capture.ok();
  if (capture.ok()) j["capture"] = replicator::CaptureModeName(capture->mode);
  if (!*m) {
    j["phase"] = "none";
  } else {
    j["phase"] = (*m)->phase;
    // After the cutover changes flow back: PostgreSQL -> SQLite.
    j["direction"] = (*m)->phase == "cut_over" || (*m)->phase == "rolling_back" ? "reverse" : "forward";
    j["migration_id"] = (*m)->migration_id;
    j["applied_seq"] = (*m)->applied_seq;
    // The target's phase says a move died after its fence once the move
    // recorded it; before that (the cutover dies between its fence commit
    // and its next write to the target) only the file's fence does.
    const std::string& phase = (*m)->phase;
    std::string move;
    if (phase == "rolling_back") {
      move = "rollback";
    } else if (phase == "fenced") {
      move = "cutover";
    } else if (phase == "snapshotted" || phase == "streaming") {
      auto fenced = db->QueryText("SELECT value FROM _slipway_meta WHERE key = 'phase'");
      if (fenced.ok() && fenced->value_or("") == "fenced") move = "cutover";
    }
    // A move still running holds the applier's lock between its fence and
    // its open: that is the move at work, not an interrupted one.
    if (!move.empty()) {
      auto free = pg->ExecParams("SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                                 {"slipway:" + (*m)->migration_id});
      if (free.ok() && free->Get(0, 0) == "t") {
        (void)pg->ExecParams("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {"slipway:" + (*m)->migration_id});
      } else if (free.ok()) {
        j["moving"] = move + " past its fence, finishing";
        move.clear();
      }
    }
    if (!move.empty()) {
      j["interrupted"] = {{"move", move},
                          {"message", move + " interrupted after the fence: the app cannot write; run `slipway " +
                                          move + " --resume` or `--abort`"}};
    }
    auto extra = pg->Exec(
        "SELECT applied_at, stream_host, stream_pid, stream_heartbeat, extract(epoch from now() - stream_heartbeat), "
        "stream_stats::text FROM slipway.migration");
    if (extra.ok() && extra->Rows() == 1) {
      j["applied_at"] = extra->Opt(0, 0).value_or("");
      j["applier"] = {{"host", extra->Opt(0, 1).value_or("")},
                      {"pid", extra->Opt(0, 2).value_or("")},
                      {"heartbeat", extra->Opt(0, 3).value_or("")}};
      bool alive = !extra->IsNull(0, 4) && std::stod(extra->Str(0, 4)) < 5.0;
      j["applier"]["running"] = alive;
      if (!extra->IsNull(0, 5)) j["applier"]["figures"] = nlohmann::json::parse(extra->Str(0, 5), nullptr, false);
    }
    // Writes the last cutover found in the fenced file and not in PostgreSQL
    // (no trigger captured them): said while the app is on PostgreSQL.
    if (phase == "cut_over") {
      auto check = pg->Exec("SELECT uncaptured_check::text FROM slipway.migration WHERE uncaptured_check IS NOT NULL");
      if (check.ok() && check->Rows() == 1) {
        auto u = nlohmann::json::parse(check->Str(0, 0), nullptr, false);
        if (u.is_object() && u.value("differing_keys", 0) > 0) j["uncaptured"] = u;
      }
    }
    // The last cutover or rollback, with its steps' timings (cutover.cc records it).
    auto last_move = pg->Exec("SELECT last_move::text FROM slipway.migration WHERE last_move IS NOT NULL");
    if (last_move.ok() && last_move->Rows() == 1) {
      auto lm = nlohmann::json::parse(last_move->Str(0, 0), nullptr, false);
      if (lm.is_object()) j["last_move"] = lm;
    }
    auto tables = replicator::ReadTableStates(*pg);
    if (tables.ok()) {
      nlohmann::json t = nlohmann::json::array();
      for (const auto& [name, st] : *tables) {
        t.push_back({{"table", name}, {"state", st.state}, {"rows_copied", st.copied_rows},
                     {"start_seq", st.start_seq ? nlohmann::json(*st.start_seq) : nlohmann::json(nullptr)}});
      }
      j["tables"] = t;
    }
    nlohmann::json steps = ReadSteps(*pg);
    if (!steps.empty()) j["progress"] = std::move(steps);
    auto verify = cutover::ReadVerifyProgress(*pg);
    if (verify.ok() && verify->present) j["verify"] = cutover::VerifyProgressJson(*verify);
    if (capture.ok()) {
      auto newest = db->QueryInt("SELECT max(seq) FROM _slipway_changelog");
      int64_t n = newest.ok() ? newest->value_or(0) : 0;
      j["source_seq"] = n;
      j["lag_changes"] = std::max<int64_t>(0, n - (*m)->applied_seq);
      auto lag = db->Prepare(
          "SELECT (julianday('now') - ts) * 86400000.0 FROM _slipway_changelog WHERE seq > ? ORDER BY seq LIMIT 1");
      double lag_ms = 0;
      if (lag.ok()) {
        lag->Bind(1, (*m)->applied_seq);
        auto row = lag->Step();
        if (row.ok() && *row) lag_ms = lag->Real(0);
      }
      j["lag_ms"] = lag_ms;
    }
  }
  // A migration whose file has no capture cannot stream: the operator is
  // looking at the wrong file, or its capture was removed.
  StatusReport r;
  std::string& problem = r.problem;
  std::string uncaptured_message;
  int& code = r.code;
  if (j.contains("uncaptured")) {
    uncaptured_message = "the cutover found " + FormatCount(j["uncaptured"].value("differing_keys", int64_t{0})) +
                         " key(s) in the fenced SQLite file that PostgreSQL does not have (writes no trigger "
                         "captured: SQLite's incremental blob API)";
  }
  if (j.contains("interrupted")) {
    problem = j["interrupted"]["message"].get<std::string>();
    code = ExitCodeFor(Code::kConflict);
  } else if (*m && !capture.ok()) {
    problem = capture.status().message();
    code = ExitCodeFor(capture.status().code());
  } else if (!uncaptured_message.empty()) {
    problem = uncaptured_message;
    code = ExitCodeFor(Code::kMismatch);
  }
  r.uncaptured_message = uncaptured_message;
  r.json = std::move(j);
  return r;
}

}  // namespace slipway::cli
