// `slipway cutover` and `slipway rollback`: one state machine run in either
// direction (freeze, drain, verify, fence, flip, open). See cutover/cutover.h.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/http_access.h"
#include "cli/http_server.h"
#include "cli/plan_report.h"
#include "cli/status_report.h"
#include "common/count_format.h"
#include "common/exit_codes.h"
#include "cli/target_option.h"
#include "common/redact.h"
#include "cutover/config_flip.h"
#include "cutover/cutover.h"
#include "web/embedded.h"

namespace slipway::cli {

namespace {

int RunMove(const std::vector<std::string>& argv, cutover::Direction direction) {
  const bool forward = direction == cutover::Direction::kForward;
  const char* name = forward ? "cutover" : "rollback";
  std::vector<OptionSpec> specs = {
      {"source", true, "the SQLite database file", "FILE"},
      {"target", true, "PostgreSQL connection URI (or --target-file, or SLIPWAY_TARGET)", "URI"},
      TargetFileSpec(),
      {"flip-file", true, "the app's config file (.env KEY=value, or JSON)", "PATH"},
      {"flip-key", true, "the key holding the database URL (JSON: dotted path allowed)", "KEY"},
      {"create-flip-file", false, "create --flip-file if it does not exist (otherwise a missing file is an error)"},
      {"app-url", true,
       forward ? "the URL written at the flip (default: --target)"
               : "the URL written at the flip (default: the value the config held before the cutover)",
       "URL"},
      {"on-flip", true, "shell command run after the flip; SLIPWAY_NEW_URL/SLIPWAY_OLD_URL in its environment", "CMD"},
      {"max-freeze", true, "longest the app's writes may be frozen (default 1s)", "DURATION"},
      {"max-lag", true, "changes behind at most before freezing (default 1000)", "N"},
      {"lag-timeout", true, "how long to wait for a small lag (default 2m)", "DURATION"},
      {"verify", true, "changed (default: full verify before, touched keys inside the freeze), full (all inside), none",
       "MODE"},
      {"verify-max-age", true,
       forward ? "with --verify changed: skip the full verify before the freeze when the stream's background "
                 "verify completed a pass of every table this recently, with no mismatch open (default 5m; 0: never)"
               : "not used by the rollback",
       "DURATION"},
      {"postpone", false, "hold before the freeze until released (--release, HTTP POST /release, or removing the flag file)"},
      {"postpone-file", true, "flag file for --postpone (default: SOURCE.slipway-postpone)", "PATH"},
      {"release", false, "release a postponed cutover running elsewhere, then exit"},
      {"attempts", true, "freezes tried before giving up (default 3)", "N"},
      {"dry-run", false, "freeze, drain, verify, sync sequences, then release: nothing changes; report the cost"},
      {"resume", false, "finish a move interrupted after its fence"},
      {"abort", false, "undo a move interrupted after its fence: the app's database live again, the config restored"},
      {"http", true, "serve the status page (GET /, /status), GET /target and POST /release on ADDR:PORT", "ADDR:PORT"},
      HttpAccessSpecs()[0],
      HttpAccessSpecs()[1],
      {"json", false, "print the report as JSON"},
      {"help", false, "show this help"},
  };
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    const std::string usage = std::string("slipway ") + name +
                              " --source FILE --target URI --flip-file PATH --flip-key KEY [--app-url URL] "
                              "[--on-flip CMD] [--max-freeze 1s] [--postpone] [--dry-run] [--resume] [--abort]";
    PrintHelp(name, usage.c_str(), specs);
    return 0;
  }
  if (Status t = ResolveTarget(*args, TargetEnv::kUse); !t.ok()) return Fail(t);
  auto target = args->Require("target");
  if (!target.ok()) return Fail(target.status());
  if (args->Has("release")) {
    Status s = cutover::ReleasePostponed(*target);
    if (!s.ok()) return Fail(s);
    std::printf("released\n");
    return 0;
  }
  auto source = args->Require("source");
  if (!source.ok()) return Fail(source.status());
  cutover::CutoverOptions o;
  o.direction = direction;
  o.source_path = *source;
  o.target_uri = *target;
  o.flip_file = args->GetOr("flip-file", "");
  o.flip_key = args->GetOr("flip-key", "");
  const bool needs_flip = !args->Has("dry-run");
  if (needs_flip && (o.flip_file.empty() || o.flip_key.empty())) {
    return Fail(InvalidArgument("--flip-file and --flip-key are required (the app's config to rewrite)"));
  }
  o.create_flip_file = args->Has("create-flip-file");
  if (!args->Has("abort")) {
    // Before anything is frozen: a mistyped path must not fence SQLite and
    // then rewrite a file the app never reads.
    std::string note;
    Status flip = cutover::CheckFlipTarget(o.flip_file, o.flip_key, o.create_flip_file, &note);
    if (!flip.ok()) return Fail(flip);
    if (!note.empty() && !args->Has("resume")) std::fprintf(stderr, "slipway: note: %s\n", note.c_str());
  }
  o.app_url = args->GetOr("app-url", "");
  o.on_flip = args->GetOr("on-flip", "");
  auto freeze = args->GetDurationMs("max-freeze", 1000);
  auto lag_timeout = args->GetDurationMs("lag-timeout", 120000);
  auto max_lag = args->GetInt("max-lag", 1000);
  auto attempts = args->GetInt("attempts", 3);
  auto verify_max_age = args->GetDurationMs("verify-max-age", 300000);
  for (const Status& s : {freeze.status(), lag_timeout.status(), max_lag.status(), attempts.status(),
                          verify_max_age.status()}) {
    if (!s.ok()) return Fail(s);
  }
  o.verify_max_age_s = *verify_max_age / 1000;
  o.max_freeze_ms = *freeze;
  o.lag_timeout_ms = *lag_timeout;
  o.max_lag = *max_lag;
  o.attempts = *attempts;
  std::string mode = args->GetOr("verify", "changed");
  if (mode == "full") {
    o.verify = cutover::VerifyMode::kFull;
  } else if (mode == "none") {
    o.verify = cutover::VerifyMode::kNone;
  } else if (mode != "changed") {
    return Fail(InvalidArgument("--verify must be changed, full or none"));
  }
  o.postpone = args->Has("postpone");
  o.postpone_file = args->GetOr("postpone-file", "");
  o.dry_run = args->Has("dry-run");
  o.resume = args->Has("resume");
  o.abort = args->Has("abort");

  std::unique_ptr<HttpToken> token;
  std::unique_ptr<HttpServer> http;
  if (auto addr = args->Get("http")) {
    auto t = HttpToken::FromArgs(*args, o.source_path + ".slipway-" + name + "-http-token");
    if (!t.ok()) return Fail(t.status());
    token = std::move(*t);
    HttpHandlers h;
    std::string flip_file = o.flip_file, flip_key = o.flip_key;
    std::string sqlite_url = "sqlite:///" + o.source_path;
    h.target = [flip_file, flip_key, sqlite_url] {
      // A password in the app's URL is the app's to read from its config, not the endpoint's to show.
      auto v = cutover::ReadConfigValue(flip_file, flip_key);
      return v.ok() ? RedactConninfo(*v) : sqlite_url;
    };
    h.release = [] {
      cutover::ReleaseFlag() = true;
      return true;
    };
    // The stream's status page, over what `slipway status --json` reads
    // (the phase as the move advances, lag, the stream's figures, tables,
    // the background verify, the last move's steps once recorded).
    h.page_html = [] { return std::string(web::status_page); };
    h.status_json = [name, source = o.source_path, target = o.target_uri] {
      auto r = CollectStatus(source, target);
      nlohmann::json j = r.ok() ? r->json : nlohmann::json{{"last_error", r.status().message()}};
      j["command"] = name;
      return j.dump();
    };
    auto server = HttpServer::Start(*addr, std::move(h), token->access());
    if (!server.ok()) return Fail(server.status());
    http = std::move(*server);
  }

  auto r = cutover::RunCutover(o);
  if (!r.ok()) return Fail(r.status());
  // Writes no trigger captured, found after the move: the app is on
  // PostgreSQL, which lacks them: exit 1, as for the differences verify finds.
  const int code = r->uncaptured_total > 0 ? ExitCodeFor(Code::kMismatch) : 0;
  const std::string uncaptured =
      FormatCount(r->uncaptured_total) +
      " key(s) differ between the fenced SQLite file and PostgreSQL without a change in PostgreSQL since the "
      "cutover: writes no trigger captured (SQLite's incremental blob API), which PostgreSQL does not have. The app "
      "now writes to PostgreSQL; copy those values over by hand, or `slipway rollback --verify none`, touch the rows "
      "in SQLite (UPDATE ... SET col = col) and cut over again";
  if (args->Has("json")) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : r->steps) steps.push_back({{"step", s.step}, {"ms", s.ms}});
    nlohmann::json j = {{"outcome", r->outcome}, {"freeze_ms", r->freeze_ms}, {"freeze_started_at_ms", r->freeze_started_ms},
                       {"freeze_ended_at_ms", r->freeze_ended_ms}, {"steps", steps},
                        {"final_seq", r->final_seq}, {"attempts", r->attempts}, {"notes", r->notes}};
    if (r->uncaptured_checked) {
      j["uncaptured_check"] = {{"tables", r->uncaptured_tables},
                               {"differing_keys", r->uncaptured_total},
                               {"differences", r->uncaptured}};
    }
    std::printf("%s\n", j.dump().c_str());
    if (code != 0) std::fprintf(stderr, "slipway: error: %s\n", uncaptured.c_str());
    return code;
  }
  // The outcome in words; --json keeps the short form.
  std::string said = r->outcome;
  if (r->outcome == "cut over") said = "done: the app's database is PostgreSQL now";
  if (r->outcome == "rolled back") said = "done: the app's database is SQLite again";
  if (r->outcome == "dry run") said = "dry run: the freeze was measured and released, nothing changed";
  std::printf("%s: %s\n", name, said.c_str());
  if (!r->steps.empty()) {
    std::printf("freeze: %.1f ms (final position %lld, attempt %d)\n", r->freeze_ms,
                static_cast<long long>(r->final_seq), r->attempts);
    for (const auto& s : r->steps) {
      std::printf("  %-28s %8.1f ms  %5.1f%%\n", s.step.c_str(), s.ms, r->freeze_ms > 0 ? 100.0 * s.ms / r->freeze_ms : 0);
    }
  }
  for (const auto& n : r->notes) std::printf("note: %s\n", n.c_str());
  if (r->uncaptured_checked) {
    std::printf("checked after the move (writes no trigger captures): %zu table(s), %s differing key(s)\n",
                r->uncaptured_tables.size(), FormatCount(r->uncaptured_total).c_str());
    for (const auto& d : r->uncaptured) std::printf("  NOT CARRIED OVER %s\n", d.c_str());
  }
  if (code != 0) std::fprintf(stderr, "slipway: error: %s\n", uncaptured.c_str());
  return code;
}

}  // namespace

int RunCutover(const std::vector<std::string>& argv) { return RunMove(argv, cutover::Direction::kForward); }
int RunRollback(const std::vector<std::string>& argv) { return RunMove(argv, cutover::Direction::kReverse); }

}  // namespace slipway::cli
