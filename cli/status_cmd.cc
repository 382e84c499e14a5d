// `slipway status`: where a migration stands, from both databases: phase,
// positions, lag in changes and milliseconds, the applier's heartbeat and
// figures. Reads only. A cutover or rollback that died after its fence (the
// app can write to neither database) is said first, and exits 8.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/plan_report.h"
#include "cli/target_option.h"
#include "common/exit_codes.h"
#include "common/pg.h"
#include "common/redact.h"
#include "common/sqlite.h"
#include "cutover/verify_progress.h"
#include "replicator/capture.h"
#include "replicator/pg_state.h"
#include "replicator/session.h"

namespace slipway::cli {

int RunStatus(const std::vector<std::string>& argv) {
  std::vector<OptionSpec> specs = {
      {"source", true, "the SQLite database file", "FILE"},
      {"target", true, "PostgreSQL connection URI (or --target-file, or SLIPWAY_TARGET)", "URI"},
      TargetFileSpec(),
      {"json", false, "print one JSON document"},
      {"help", false, "show this help"},
  };
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    PrintHelp("status", "slipway status --source FILE --target URI [--json]", specs);
    return 0;
  }
  if (Status t = ResolveTarget(*args, TargetEnv::kUse); !t.ok()) return Fail(t);
  auto source = args->Require("source");
  auto target = args->Require("target");
  if (!source.ok()) return Fail(source.status());
  if (!target.ok()) return Fail(target.status());
  auto pg = PgConn::Connect(*target);
  if (!pg.ok()) return Fail(pg.status());
  Status s = replicator::SetupSession(*pg, replicator::SessionRole::kReader);
  if (!s.ok()) return Fail(s);
  auto m = replicator::ReadMigration(*pg);
  if (!m.ok()) return Fail(m.status());
  auto db = Db::Open(*source, Db::Mode::kReadOnly);
  if (!db.ok()) return Fail(db.status());

  nlohmann::json j;
  j["source"] = *source;
  j["target"] = RedactConninfo(*target);
  auto capture = replicator::ReadCapture(*db);
  j["capture_installed"] = capture.ok();
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
    auto tables = replicator::ReadTableStates(*pg);
    if (tables.ok()) {
      nlohmann::json t = nlohmann::json::array();
      for (const auto& [name, st] : *tables) {
        t.push_back({{"table", name}, {"state", st.state}, {"rows_copied", st.copied_rows},
                     {"start_seq", st.start_seq ? nlohmann::json(*st.start_seq) : nlohmann::json(nullptr)}});
      }
      j["tables"] = t;
    }
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
  std::string problem, uncaptured_message;
  int code = 0;
  if (j.contains("uncaptured")) {
    uncaptured_message = "the cutover found " + std::to_string(j["uncaptured"].value("differing_keys", int64_t{0})) +
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
  if (args->Has("json")) {
    std::printf("%s\n", j.dump(2).c_str());
    return code;
  }
  std::printf("migration   %s\nphase       %s\n", j.value("migration_id", "-").c_str(), j["phase"].get<std::string>().c_str());
  if (j.value("direction", "") == "reverse") {
    std::printf("direction   PostgreSQL -> SQLite (changes made after the cutover flow back)");
    if (j.contains("applier") && j["applier"].contains("figures") && j["applier"]["figures"].is_object()) {
      const auto& f = j["applier"]["figures"];
      std::printf(", lag %lld changes, %.0f ms", static_cast<long long>(f.value("lag_changes", int64_t{0})),
                  f.value("lag_ms", 0.0));
    }
    std::printf("\n");
  }
  if (j.contains("interrupted")) {
    std::printf("INTERRUPTED %s\n", j["interrupted"]["message"].get<std::string>().c_str());
  }
  if (j.contains("uncaptured")) {
    std::printf("NOT CARRIED OVER %s\n", uncaptured_message.c_str());
    for (const auto& d : j["uncaptured"].value("differences", nlohmann::json::array())) {
      std::printf("  %s\n", d.get<std::string>().c_str());
    }
  }
  if (j.contains("applied_seq")) {
    std::printf("position    applied %lld of %lld (lag %lld changes, %.0f ms)\n",
                static_cast<long long>(j["applied_seq"].get<int64_t>()),
                static_cast<long long>(j.value("source_seq", int64_t{0})),
                static_cast<long long>(j.value("lag_changes", int64_t{0})), j.value("lag_ms", 0.0));
  }
  if (j.contains("applier")) {
    const auto& a = j["applier"];
    std::printf("applier     %s", a["running"].get<bool>() ? "running" : "not running");
    if (a["running"].get<bool>()) {
      std::printf(" on %s pid %s", a["host"].get<std::string>().c_str(), a["pid"].get<std::string>().c_str());
      if (a.contains("figures") && a["figures"].is_object()) {
        std::printf(", %.0f changes/s, %lld applied, %lld errors", a["figures"].value("rate", 0.0),
                    static_cast<long long>(a["figures"].value("changes_applied", int64_t{0})),
                    static_cast<long long>(a["figures"].value("errors", int64_t{0})));
      }
    }
    std::printf("\n");
  }
  if (j.contains("tables")) {
    for (const auto& t : j["tables"]) {
      std::printf("table       %-30s %-8s %lld rows copied\n", t["table"].get<std::string>().c_str(),
                  t["state"].get<std::string>().c_str(), static_cast<long long>(t["rows_copied"].get<int64_t>()));
    }
  }
  if (j.contains("verify")) {
    for (const auto& t : j["verify"]["tables"]) {
      std::printf("verify      %-30s pass %lld", t["table"].get<std::string>().c_str(),
                  static_cast<long long>(t["pass"].get<int64_t>()));
      const std::string upto = t["verified_up_to"].get<std::string>();
      std::printf(", %s up to %s (%lld rows)", t["walk"].get<std::string>() == "extras" ? "target keys" : "rows",
                  upto.empty() ? "the start" : upto.c_str(), static_cast<long long>(t["pass_rows"].get<int64_t>()));
      if (t["last_complete_pass"].is_object()) {
        const auto& c = t["last_complete_pass"];
        std::printf("; last complete pass %lld at %s (%.0f s ago)%s", static_cast<long long>(c["pass"].get<int64_t>()),
                    c["completed_at"].get<std::string>().c_str(), c["age_s"].get<double>(),
                    c["current"].get<bool>() ? "" : ", before a schema change or cutover");
      } else {
        std::printf("; no complete pass yet");
      }
      std::printf("\n");
    }
    for (const auto& mm : j["verify"]["open_mismatches"]) {
      std::printf("MISMATCH    table %s %s: %s (since %s)\n", mm["table"].get<std::string>().c_str(),
                  mm["key"].get<std::string>().c_str(), mm["what"].get<std::string>().c_str(),
                  mm["found_at"].get<std::string>().c_str());
    }
  }
  if (code != 0) std::fprintf(stderr, "slipway: %s\n", problem.c_str());
  return code;
}

}  // namespace slipway::cli
