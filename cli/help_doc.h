#pragma once
// A command's documentation from its option table: the --help text, the man
// page (`slipway help --man CMD`) and the bash completion script
// (`slipway help --completion`). All three read the OptionSpec list that the
// command parses its arguments with, so they cannot drift from it.
//
// Thread-safety: single-threaded use from main() only.

#include <string>
#include <vector>

#include "cli/args.h"

namespace slipway::cli {

// Prints a command's help from its option specs (stdout), or, while
// collecting (below), records them instead.
void PrintHelp(const char* command, const char* usage, const std::vector<OptionSpec>& specs);

struct CommandHelp {
  std::string command;
  std::string usage;
  std::vector<OptionSpec> specs;
};

// Runs each named command with --help while collecting; returns what their
// PrintHelp calls recorded, in command order.
std::vector<CommandHelp> CollectHelp(const std::vector<std::string>& commands);

// roff for `man`: slipway(1) with command "" (the command list), else
// slipway-COMMAND(1).
std::string ManPage(const CommandHelp& help, const std::string& summary);
std::string MainManPage();
std::string BashCompletion(const std::vector<CommandHelp>& helps);

// `slipway help [--man CMD|slipway] [--completion] [--commands]`.
int RunHelp(const std::vector<std::string>& argv);

}  // namespace slipway::cli
