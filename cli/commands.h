#pragma once
// The command table: one entry per phase, each runnable alone.

#include <string>
#include <vector>

#include "cli/args.h"

namespace slipway::cli {

using CommandFn = int (*)(const std::vector<std::string>& argv);

struct Command {
  const char* name;
  const char* summary;
  CommandFn run;
};

const std::vector<Command>& Commands();

// Entry point used by main(): dispatches to a command, returns the exit code.
int Main(int argc, char** argv);

// Prints a one-line error for a failed Status and returns its exit code.
int Fail(const Status& s);

}  // namespace slipway::cli
