#pragma once
// Where the target's connection string comes from. A password in argv can be
// read in /proc/PID/cmdline by other users until slipway overwrites it at
// start-up, so the URI may instead come from a file (--target-file, first
// line) or from the environment (SLIPWAY_TARGET, e.g. a service file's
// Environment=). Precedence: --target, --target-file, SLIPWAY_TARGET.

#include "cli/args.h"

namespace slipway::cli {

inline constexpr const char* kTargetEnv = "SLIPWAY_TARGET";

// The --target-file option, for commands that take --target.
OptionSpec TargetFileSpec();

enum class TargetEnv {
  kUse,     // the command needs a target: SLIPWAY_TARGET supplies a missing one; none: usage error
  kIgnore,  // --target is optional and changes what the command does (plan, cleanup)
};

// Stores the resolved connection string as args' "target" value (absent when
// none is given). --target together with --target-file is a usage error; an
// unreadable file is kIo, an empty one kInvalidArgument, naming the file.
Status ResolveTarget(Args& args, TargetEnv env);

}  // namespace slipway::cli
