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
#include "cli/status_report.h"
#include "cli/target_option.h"
#include "common/count_format.h"

namespace slipway::cli {

namespace {

// One line for a step: "running, 540,000 of 1,000,000 rows (54%), 250,000
// rows/s, about 2.0 s left, copying results".
std::string StepLine(const nlohmann::json& p) {
  const int64_t done = p.value("rows_done", int64_t{0});
  const int64_t total = p.value("rows_total", int64_t{0});
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s, %s of %s rows (%.0f%%), %s rows/s", p.value("state", "").c_str(),
                FormatCount(done).c_str(), FormatCount(total).c_str(),
                total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0,
                FormatCountRounded(p.value("rate", 0.0)).c_str());
  std::string line = buf;
  if (p.value("state", "") == "running") {
    if (p.contains("eta_seconds") && p["eta_seconds"].is_number()) {
      line += ", about " + FormatDurationMs(1000.0 * p["eta_seconds"].get<double>()) + " left";
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

// The full report, plain text: what `status` prints when not on a terminal.
void PrintPlain(const StatusReport& r) {
  const nlohmann::json& j = r.json;
  std::printf("migration   %s\nphase       %s\n", j.value("migration_id", "-").c_str(), j["phase"].get<std::string>().c_str());
  if (j.contains("capture")) {
    std::printf("capture     %s\n", j["capture"] == "session"
                                         ? "session (slipway's SQLite extension in the app; triggers for other writers)"
                                         : "triggers");
  }
  if (j.value("direction", "") == "reverse") {
    std::printf("direction   PostgreSQL -> SQLite (changes made after the cutover flow back)");
    if (j.contains("applier") && j["applier"].contains("figures") && j["applier"]["figures"].is_object()) {
      const auto& f = j["applier"]["figures"];
      std::printf(", lag %s changes, %s ms", FormatCount(f.value("lag_changes", int64_t{0})).c_str(),
                  FormatCountRounded(f.value("lag_ms", 0.0)).c_str());
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
    std::printf("position    applied %lld of %lld (lag %s changes, %s ms)\n",
                static_cast<long long>(j["applied_seq"].get<int64_t>()),
                static_cast<long long>(j.value("source_seq", int64_t{0})),
                FormatCount(j.value("lag_changes", int64_t{0})).c_str(),
                FormatCountRounded(j.value("lag_ms", 0.0)).c_str());
  }
  if (j.contains("applier")) {
    const auto& a = j["applier"];
    std::printf("applier     %s", a["running"].get<bool>() ? "running" : "not running");
    if (a["running"].get<bool>()) {
      std::printf(" on %s pid %s", a["host"].get<std::string>().c_str(), a["pid"].get<std::string>().c_str());
      if (a.contains("figures") && a["figures"].is_object()) {
        std::printf(", %s changes/s, %s applied, %s errors",
                    FormatCountRounded(a["figures"].value("rate", 0.0)).c_str(),
                    FormatCount(a["figures"].value("changes_applied", int64_t{0})).c_str(),
                    FormatCount(a["figures"].value("errors", int64_t{0})).c_str());
      }
    }
    std::printf("\n");
  }
  if (j.contains("tables")) {
    for (const auto& t : j["tables"]) {
      std::printf("table       %-30s %-8s %s rows copied\n", t["table"].get<std::string>().c_str(),
                  t["state"].get<std::string>().c_str(), FormatCount(t["rows_copied"].get<int64_t>()).c_str());
    }
  }
  PrintSteps(j);
  if (j.contains("verify")) {
    for (const auto& t : j["verify"]["tables"]) {
      std::printf("verify      %-30s pass %lld", t["table"].get<std::string>().c_str(),
                  static_cast<long long>(t["pass"].get<int64_t>()));
      const std::string upto = t["verified_up_to"].get<std::string>();
      std::printf(", %s up to %s (%s rows)", t["walk"].get<std::string>() == "extras" ? "target keys" : "rows",
                  upto.empty() ? "the start" : upto.c_str(), FormatCount(t["pass_rows"].get<int64_t>()).c_str());
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
    std::printf("lag         %s changes, %s\n", FormatCount(lag_changes).c_str(), FormatDurationMs(lag_ms).c_str());
  }
  if (running) {
    const double rate = figures.value("rate", 0.0);
    std::printf("rate        %s changes/s", FormatCountRounded(rate).c_str());
    if (lag_changes == 0) {
      std::printf(", caught up\n");
    } else if (rate > 0) {
      std::printf(", backlog clears in about %s\n", FormatDurationMs(1000.0 * static_cast<double>(lag_changes) / rate).c_str());
    } else {
      std::printf(", backlog of %s changes not moving\n", FormatCount(lag_changes).c_str());
    }
    std::printf("stream      running on %s pid %s, %s applied, %s errors\n",
                j["applier"].value("host", "").c_str(), j["applier"].value("pid", "").c_str(),
                FormatCount(figures.value("changes_applied", int64_t{0})).c_str(),
                FormatCount(figures.value("errors", int64_t{0})).c_str());
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
    auto r = CollectStatus(*source, *target);
    if (!r.ok() && !args->Has("watch")) return Fail(r.status());
    if (redraw) std::fputs("\033[H\033[2J", stdout);
    if (!r.ok()) {
      std::printf("%s  slipway: error: %s\n", NowUtc().c_str(), r.status().message().c_str());
    } else if (json_out) {
      std::printf("%s\n", r->json.dump(args->Has("watch") ? -1 : 2).c_str());
    } else if (terminal) {
      PrintCompact(*r, args->Has("watch") ? "every " + FormatDurationMs(static_cast<double>(*interval)) : "");
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
