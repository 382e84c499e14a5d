#include "cli/help_doc.h"

#include <cstdio>
#include <optional>
#include <set>

#include "cli/commands.h"
#include "common/exit_codes.h"

namespace slipway::cli {
namespace {

std::optional<std::vector<CommandHelp>> g_collecting;

struct ExitCodeDoc {
  ExitCode code;
  const char* meaning;
};

// The short form of the README's exit-code table.
constexpr ExitCodeDoc kExitCodes[] = {
    {ExitCode::kOk, "success (verify: equal)"},
    {ExitCode::kDifferent, "source and target differ (verify, cutover's checks)"},
    {ExitCode::kUsage, "unknown command or option, bad option value"},
    {ExitCode::kBlocked, "the plan blocks: something cannot move unchanged"},
    {ExitCode::kSourceMissing, "the source file does not exist or cannot be opened"},
    {ExitCode::kNotSqlite, "the source is not a SQLite database, or is corrupt"},
    {ExitCode::kUnreachable, "the target cannot be reached, or a transient error persisted"},
    {ExitCode::kAuthFailed, "the target refused the credentials"},
    {ExitCode::kConflict, "the target holds state slipway must not touch, or the phase does not allow the command"},
    {ExitCode::kSchemaChanged, "the source schema changed in a way the plan or the stream cannot carry"},
    {ExitCode::kIo, "a local file cannot be read or written"},
    {ExitCode::kWrongSource, "the source is not the file the target followed"},
    {ExitCode::kPermission, "the target role lacks a privilege slipway needs"},
    {ExitCode::kSourceLocked, "the source file is locked by another connection"},
    {ExitCode::kNoCapture, "the source has no capture installed (no snapshot taken from it)"},
    {ExitCode::kInternal, "internal error"},
};

// Text as roff: backslashes doubled, '-' as \-, a leading '.' or '\'' escaped.
std::string Roff(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

std::string Summary(const std::string& command) {
  for (const auto& c : Commands()) {
    if (command == c.name) return c.summary;
  }
  return "";
}

// Options whose value names a file: completed with file names.
bool TakesPath(const OptionSpec& s) {
  return s.takes_value && (s.metavar == "FILE" || s.metavar == "PATH" || s.metavar == "DIR");
}

}  // namespace

namespace {

// `text` after `lead` (the current line so far), its words wrapped at
// `width` onto lines that start with `indent` spaces.
std::string Wrapped(std::string lead, const std::string& text, size_t indent, size_t width) {
  size_t col = lead.size();
  bool first = true;  // no word on this line yet
  size_t p = 0;
  while (p < text.size()) {
    size_t e = text.find(' ', p);
    if (e == std::string::npos) e = text.size();
    const std::string word = text.substr(p, e - p);
    p = e + 1;
    if (word.empty()) continue;
    if (!first && col + 1 + word.size() > width) {
      lead += "\n" + std::string(indent, ' ');
      col = indent;
      first = true;
    }
    if (!first) {
      lead += ' ';
      ++col;
    }
    lead += word;
    col += word.size();
    first = false;
  }
  return lead;
}

}  // namespace

void PrintHelp(const char* command, const char* usage, const std::vector<OptionSpec>& specs) {
  if (g_collecting) {
    g_collecting->push_back({command, usage, specs});
    return;
  }
  // Lines of at most 100 characters; each description in a column of its
  // own, an option too long for its column on a line of its own.
  constexpr size_t kIndent = 32, kWidth = 100;
  std::printf("%s\n\n%s options:\n", Wrapped("usage: ", usage, 4, kWidth).c_str(), command);
  for (const auto& s : specs) {
    std::string left = "  --" + s.name + (s.takes_value ? " " + s.metavar : "");
    left += left.size() + 1 > kIndent ? "\n" + std::string(kIndent, ' ') : std::string(kIndent - left.size(), ' ');
    // Wrapped() counts from the start of the last line of `left`.
    const size_t nl = left.rfind('\n');
    std::string head = nl == std::string::npos ? "" : left.substr(0, nl + 1);
    std::string tail = nl == std::string::npos ? left : left.substr(nl + 1);
    std::printf("%s%s\n", head.c_str(), Wrapped(tail, s.help, kIndent, kWidth).c_str());
  }
  const std::string exits = std::string("0 on success; every other code is listed in `man slipway-") + command +
                            "` (EXIT STATUS) and in the README's exit-code table.";
  std::printf("\n%s\n", Wrapped("exit codes: ", exits, 2, kWidth).c_str());
}

std::vector<CommandHelp> CollectHelp(const std::vector<std::string>& commands) {
  g_collecting.emplace();
  for (const auto& name : commands) {
    for (const auto& c : Commands()) {
      if (name == c.name) (void)c.run({"--help"});
    }
  }
  std::vector<CommandHelp> out = std::move(*g_collecting);
  g_collecting.reset();
  return out;
}

std::string ManPage(const CommandHelp& help, const std::string& summary) {
  const std::string title = "slipway-" + help.command;
  std::string out;
  out += ".TH " + Roff(title) + " 1 \"\" \"slipway 0.1.0\" \"slipway manual\"\n";
  out += ".SH NAME\n" + Roff(title) + " \\- " + Roff(summary) + "\n";
  out += ".SH SYNOPSIS\n.B " + Roff(help.usage) + "\n";
  out += ".SH DESCRIPTION\n" + Roff(summary) + ".\n";
  out += ".SH OPTIONS\n";
  for (const auto& s : help.specs) {
    out += ".TP\n\\fB\\-\\-" + Roff(s.name) + "\\fR";
    if (s.takes_value) out += " \\fI" + Roff(s.metavar) + "\\fR";
    out += "\n" + Roff(s.help) + "\n";
  }
  out += ".SH ENVIRONMENT\n.TP\n.B SLIPWAY_TARGET\nthe target's connection URI when neither \\-\\-target nor "
         "\\-\\-target\\-file is given (commands that need a target)\n.TP\n.B SLIPWAY_LOG\nlog level (trace, debug, "
         "info, warn, error)\n";
  out += ".SH EXIT STATUS\n";
  for (const auto& e : kExitCodes) {
    out += ".TP\n.B " + std::to_string(static_cast<int>(e.code)) + "\n" + Roff(e.meaning) + "\n";
  }
  out += ".SH SEE ALSO\n.BR slipway (1)\n";
  return out;
}

std::string MainManPage() {
  std::string out;
  out += ".TH slipway 1 \"\" \"slipway 0.1.0\" \"slipway manual\"\n";
  out += ".SH NAME\nslipway \\- move a live application from SQLite to PostgreSQL\n";
  out += ".SH SYNOPSIS\n.B slipway\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n.br\n.B slipway \\-\\-version\n";
  out += ".SH COMMANDS\n";
  for (const auto& c : Commands()) {
    out += ".TP\n.BR slipway\\-" + Roff(c.name) + " (1)\n" + Roff(c.summary) + "\n";
  }
  out += ".SH EXIT STATUS\n";
  for (const auto& e : kExitCodes) {
    out += ".TP\n.B " + std::to_string(static_cast<int>(e.code)) + "\n" + Roff(e.meaning) + "\n";
  }
  return out;
}

std::string BashCompletion(const std::vector<CommandHelp>& helps) {
  std::string commands;
  for (const auto& h : helps) commands += (commands.empty() ? "" : " ") + h.command;
  std::set<std::string> path_options;
  for (const auto& h : helps) {
    for (const auto& s : h.specs) {
      if (TakesPath(s)) path_options.insert("--" + s.name);
    }
  }
  std::string paths;
  for (const auto& p : path_options) paths += (paths.empty() ? "" : "|") + p;
  std::string out;
  out += "# bash completion for slipway (generated by `slipway help --completion`)\n";
  out += "_slipway() {\n";
  out += "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} opts=\n";
  out += "  if [[ $COMP_CWORD -eq 1 ]]; then\n";
  out += "    COMPREPLY=($(compgen -W \"" + commands + " help --help --version\" -- \"$cur\"))\n";
  out += "    return\n  fi\n";
  if (!paths.empty()) {
    out += "  case \"$prev\" in\n    " + paths + ")\n";
    out += "      COMPREPLY=($(compgen -f -- \"$cur\"))\n      return ;;\n  esac\n";
  }
  out += "  case \"${COMP_WORDS[1]}\" in\n";
  for (const auto& h : helps) {
    std::string opts;
    for (const auto& s : h.specs) opts += (opts.empty() ? "--" : " --") + s.name;
    out += "    " + h.command + ") opts=\"" + opts + "\" ;;\n";
  }
  out += "  esac\n";
  out += "  COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n";
  out += "}\n";
  out += "complete -o default -F _slipway slipway\n";
  return out;
}

int RunHelp(const std::vector<std::string>& argv) {
  std::vector<OptionSpec> specs = {
      {"man", true, "print the man page of a command (or of slipway itself) as roff", "CMD"},
      {"completion", false, "print the bash completion script"},
      {"commands", false, "print the command names, one a line"},
      {"help", false, "show this help"},
  };
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Fail(args.status());
  if (auto cmd = args->Get("man")) {
    if (*cmd == "slipway") {
      std::fputs(MainManPage().c_str(), stdout);
      return 0;
    }
    auto helps = CollectHelp({*cmd});
    if (helps.empty()) return Fail(InvalidArgument("no command '" + *cmd + "' (see slipway --help)"));
    std::fputs(ManPage(helps[0], Summary(*cmd)).c_str(), stdout);
    return 0;
  }
  if (args->Has("completion")) {
    std::vector<std::string> names;
    for (const auto& c : Commands()) names.push_back(c.name);
    std::fputs(BashCompletion(CollectHelp(names)).c_str(), stdout);
    return 0;
  }
  if (args->Has("commands")) {
    for (const auto& c : Commands()) std::printf("%s\n", c.name);
    return 0;
  }
  PrintHelp("help", "slipway help [--man CMD] [--completion] [--commands]", specs);
  return 0;
}

}  // namespace slipway::cli
