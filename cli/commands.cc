#include "cli/commands.h"

#include <cstdio>
#include <cstring>

#include "cli/help_doc.h"
#include "common/exit_codes.h"
#include "common/log.h"
#include "common/redact.h"

namespace slipway::cli {

int RunPlan(const std::vector<std::string>& argv);
int RunVerify(const std::vector<std::string>& argv);
int RunSnapshot(const std::vector<std::string>& argv);
int RunCleanup(const std::vector<std::string>& argv);
int RunStream(const std::vector<std::string>& argv);
int RunStatus(const std::vector<std::string>& argv);
int RunCutover(const std::vector<std::string>& argv);
int RunRollback(const std::vector<std::string>& argv);

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"plan", "inspect the SQLite file and show what it becomes in PostgreSQL", RunPlan},
      {"verify", "prove source and target hold the same rows; name the keys that differ", RunVerify},
      {"snapshot", "install capture and copy every table to PostgreSQL (resumable)", RunSnapshot},
      {"stream", "apply every change the app makes to PostgreSQL, continuously", RunStream},
      {"status", "phase, positions, lag and apply rate of a migration", RunStatus},
      {"cutover", "freeze writes, drain, verify, fence SQLite, flip the app's config", RunCutover},
      {"rollback", "the cutover in reverse: freeze PostgreSQL, drain back, fence it, flip the config to SQLite",
       RunRollback},
      {"cleanup", "remove slipway's triggers and tables (and, with --target, its state)", RunCleanup},
  };
  return kCommands;
}

namespace {

// The command Main() is running, for the hint on a usage error.
const char* g_command = nullptr;

bool IsOptionError(const std::string& message) {
  for (const char* start : {"unknown option ", "unexpected argument ", "option --", "missing required option "}) {
    if (message.rfind(start, 0) == 0) return true;
  }
  return false;
}

}  // namespace

int Fail(const Status& s) {
  std::string hint;
  if (g_command != nullptr && s.code() == Code::kInvalidArgument && IsOptionError(s.message())) {
    hint = std::string(" (see slipway ") + g_command + " --help)";
  }
  std::fprintf(stderr, "slipway: error: %s%s\n", s.message().c_str(), hint.c_str());
  return ExitCodeFor(s.code());
}

namespace {

void PrintUsage(FILE* out) {
  std::fprintf(out, "usage: slipway COMMAND [OPTIONS]\n\ncommands:\n");
  for (const auto& c : Commands()) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\nslipway COMMAND --help shows a command's options; slipway help --man COMMAND its man page.\n");
}

}  // namespace

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Passwords given on the command line are masked in our own arguments from
  // here on; until then other users can read them (README, Secrets).
  ScrubArgv(argc, argv);
  const char* level = std::getenv("SLIPWAY_LOG");
  SetupLogging(level != nullptr ? level : "info", false);
  if (args.size() > 1 && args[0] == "help") return RunHelp(std::vector<std::string>(args.begin() + 1, args.end()));
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintUsage(args.empty() ? stderr : stdout);
    return args.empty() ? static_cast<int>(ExitCode::kUsage) : 0;
  }
  if (args[0] == "--version") {
    std::printf("slipway 0.1.0\n");
    return 0;
  }
  for (const auto& c : Commands()) {
    if (args[0] == c.name) {
      g_command = c.name;
      std::vector<std::string> rest(args.begin() + 1, args.end());
      // -h is --help for every command, as it is for slipway itself.
      for (auto& a : rest) {
        if (a == "-h") a = "--help";
      }
      return c.run(rest);
    }
  }
  std::fprintf(stderr, "slipway: error: unknown command '%s' (see slipway --help)\n", args[0].c_str());
  return static_cast<int>(ExitCode::kUsage);
}

}  // namespace slipway::cli
