// `slipway status`: where a migration stands, from both databases: phase,
// positions, lag in changes and milliseconds, the applier's heartbeat and
// figures. Reads only. On a terminal a compact view (phase, lag, rate, how
// long the backlog takes, last error), redrawn with --watch; otherwise the
// full report as plain text. A cutover or rollback that died after its fence (the
// app can write to neither database) is said first, and exits 8.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

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

namespace {

struct StatusReport {
  nlohmann::json json;
  int code = 0;           // exit code of what the report found
  std::string problem;    // said on stderr when code != 0
  std::string uncaptured_message;
};

// "35 ms", "4.2 s", "3 min", "2.5 h".
std::string FormatDuration(double ms) {
  char buf[32];
  if (ms < 1000) {
    std::snprintf(buf, sizeof(buf), "%.0f ms", ms);
  } else if (ms < 60000) {
    std::snprintf(buf, sizeof(buf), "%.1f s", ms / 1000);
  } else if (ms < 3600000) {
    std::snprintf(buf, sizeof(buf), "%.0f min", ms / 60000);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f h", ms / 3600000);
  }
  return buf;
}

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

// One line for a step: "running, 540000 of 1000000 rows (54%), 250000
// rows/s, about 2.0 s left, copying results".
std::string StepLine(const nlohmann::json& p) {
  const int64_t done = p.value("rows_done", int64_t{0});
  const int64_t total = p.value("rows_total", int64_t{0});
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s, %lld of %lld rows (%.0f%%), %.0f rows/s", p.value("state", "").c_str(),
                static_cast<long long>(done), static_cast<long long>(total),
                total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0,
                p.value("rate", 0.0));
  std::string line = buf;
  if (p.value("state", "") == "running") {
    if (p.contains("eta_seconds") && p["eta_seconds"].is_number()) {
      line += ", about " + FormatDuration(1000.0 * p["eta_seconds"].get<double>()) + " left";
    }
    std::string copying;
    for (const auto& t : p.value("tables", nlohmann::json::array())) {
      if (t.value("state", "") != "copying") continue;
      copying += (copying.empty() ? "" : ", ") + t.value("table", "");
    }
    if (!copying.empty()) line += ", copying " + copying;
    if (!p.value("table", "").empty()) {
      line += ", table " + p.value("table", "") + " (" + std::to_string(p.value("tables_done", 0) + 1) + " of " +
              std::to_string(p.value("tables_total", 0)) + ")";
    }
  }
  return line;
}

void PrintSteps(const nlohmann::json& j) {
  if (!j.contains("progress")) return;
  for (const auto& [step, p] : j["progress"].items()) {
    std::printf("%-11s %s\n", step.c_str(), StepLine(p).c_str());
  }
}

// Reads both databases once. An error reaching either is the Status.
Result<StatusReport> Collect(const std::string& source, const std::string& target) {
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
  r.uncaptured_message = uncaptured_message;
  r.json = std::move(j);
  return r;
}

// The full report, plain text: what `status` prints when not on a terminal.
void PrintPlain(const StatusReport& r) {
  const nlohmann::json& j = r.json;
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
    std::printf("NOT CARRIED OVER %s\n", r.uncaptured_message.c_str());
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
  PrintSteps(j);
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
}

std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%H:%M:%S UTC", &tm);
  return buf;
}

// Redrawing needs a terminal that understands the escape codes.
bool CanRedraw() {
  const char* term = std::getenv("TERM");
  return term != nullptr && *term != '\0' && std::string(term) != "dumb";
}

// The short view for a terminal: where the move stands and whether it is
// keeping up. `refresh` says how often it is redrawn ("" once).
void PrintCompact(const StatusReport& r, const std::string& refresh) {
  const nlohmann::json& j = r.json;
  std::printf("slipway status  %s -> %s", j.value("source", "").c_str(), j.value("target", "").c_str());
  std::printf("   %s%s%s\n", NowUtc().c_str(), refresh.empty() ? "" : ", ", refresh.c_str());
  const bool reverse = j.value("direction", "") == "reverse";
  std::printf("phase       %s", j.value("phase", "none").c_str());
  if (j.contains("direction")) std::printf(", %s", reverse ? "PostgreSQL -> SQLite" : "SQLite -> PostgreSQL");
  std::printf("\n");
  nlohmann::json figures = nlohmann::json::object();
  bool running = false;
  if (j.contains("applier")) {
    running = j["applier"].value("running", false);
    if (j["applier"].contains("figures") && j["applier"]["figures"].is_object()) figures = j["applier"]["figures"];
  }
  int64_t lag_changes = reverse ? figures.value("lag_changes", int64_t{0}) : j.value("lag_changes", int64_t{0});
  double lag_ms = reverse ? figures.value("lag_ms", 0.0) : j.value("lag_ms", 0.0);
  if (j.contains("lag_changes") || reverse) {
    std::printf("lag         %lld changes, %s\n", static_cast<long long>(lag_changes), FormatDuration(lag_ms).c_str());
  }
  if (running) {
    const double rate = figures.value("rate", 0.0);
    std::printf("rate        %.0f changes/s", rate);
    if (lag_changes == 0) {
      std::printf(", caught up\n");
    } else if (rate > 0) {
      std::printf(", backlog clears in about %s\n", FormatDuration(1000.0 * static_cast<double>(lag_changes) / rate).c_str());
    } else {
      std::printf(", backlog of %lld changes not moving\n", static_cast<long long>(lag_changes));
    }
    std::printf("stream      running on %s pid %s, %lld applied, %lld errors\n",
                j["applier"].value("host", "").c_str(), j["applier"].value("pid", "").c_str(),
                static_cast<long long>(figures.value("changes_applied", int64_t{0})),
                static_cast<long long>(figures.value("errors", int64_t{0})));
  } else if (j.contains("applier")) {
    std::printf("stream      not running (last heartbeat %s)\n", j["applier"].value("heartbeat", "never").c_str());
  } else {
    std::printf("stream      not running\n");
  }
  if (j.contains("verify")) {
    const auto& v = j["verify"];
    size_t open = v.value("open_mismatches", nlohmann::json::array()).size();
    std::printf("verify      %zu table(s); %s\n", v.value("tables", nlohmann::json::array()).size(),
                open == 0 ? "no open mismatch" : (std::to_string(open) + " OPEN MISMATCH(ES)").c_str());
  }
  PrintSteps(j);
  const std::string last_error = figures.value("last_error", "");
  if (!last_error.empty()) {
    std::printf("last error  %s (%s)\n", last_error.c_str(), figures.value("last_error_at", "").c_str());
  } else {
    std::printf("last error  none\n");
  }
  if (!r.problem.empty()) std::printf("PROBLEM     %s\n", r.problem.c_str());
}

}  // namespace

int RunStatus(const std::vector<std::string>& argv) {
  std::vector<OptionSpec> specs = {
      {"source", true, "the SQLite database file", "FILE"},
      {"target", true, "PostgreSQL connection URI (or --target-file, or SLIPWAY_TARGET)", "URI"},
      TargetFileSpec(),
      {"json", false, "print one JSON document (with --watch: one a line)"},
      {"full", false, "the full report on a terminal too (what a file or a pipe gets)"},
      {"watch", false, "print again every --interval until interrupted; on a terminal, redraw in place"},
      {"interval", true, "how often --watch reads again (default 2s)", "DURATION"},
      {"help", false, "show this help"},
  };
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    PrintHelp("status", "slipway status --source FILE --target URI [--json|--full] [--watch [--interval 2s]]", specs);
    return 0;
  }
  if (Status t = ResolveTarget(*args, TargetEnv::kUse); !t.ok()) return Fail(t);
  auto source = args->Require("source");
  auto target = args->Require("target");
  if (!source.ok()) return Fail(source.status());
  if (!target.ok()) return Fail(target.status());
  auto interval = args->GetDurationMs("interval", 2000);
  if (!interval.ok()) return Fail(interval.status());
  if (*interval < 100) return Fail(InvalidArgument("--interval must be 100ms or more"));
  const bool json_out = args->Has("json");
  const bool terminal = ::isatty(STDOUT_FILENO) == 1 && !json_out && !args->Has("full");
  const bool redraw = terminal && args->Has("watch") && CanRedraw();
  for (;;) {
    auto r = Collect(*source, *target);
    if (!r.ok() && !args->Has("watch")) return Fail(r.status());
    if (redraw) std::fputs("\033[H\033[2J", stdout);
    if (!r.ok()) {
      std::printf("%s  slipway: error: %s\n", NowUtc().c_str(), r.status().message().c_str());
    } else if (json_out) {
      std::printf("%s\n", r->json.dump(args->Has("watch") ? -1 : 2).c_str());
    } else if (terminal) {
      PrintCompact(*r, args->Has("watch") ? "every " + FormatDuration(static_cast<double>(*interval)) : "");
    } else {
      if (args->Has("watch")) std::printf("--- %s\n", NowUtc().c_str());
      PrintPlain(*r);
    }
    std::fflush(stdout);
    if (!args->Has("watch")) {
      if (r->code != 0) std::fprintf(stderr, "slipway: %s\n", r->problem.c_str());
      return r->code;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(*interval));
  }
}

}  // namespace slipway::cli
