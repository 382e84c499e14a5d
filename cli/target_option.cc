#include "cli/target_option.h"

#include <cstdlib>

#include "common/durable_file.h"
#include "common/redact.h"

namespace slipway::cli {
namespace {

Status FromOptionsOrEnvironment(Args& args, TargetEnv env) {
  if (auto path = args.Get("target-file")) {
    if (args.Has("target")) return InvalidArgument("give --target or --target-file, not both");
    auto content = ReadFile(*path);
    if (!content.ok()) return IoError("cannot read --target-file " + *path);
    std::string line = content->substr(0, content->find('\n'));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos) {
      return InvalidArgument("--target-file " + *path + " holds no connection string on its first line");
    }
    args.Set("target", line.substr(start));
    return Status::Ok();
  }
  if (args.Has("target") || env == TargetEnv::kIgnore) return Status::Ok();
  const char* value = std::getenv(kTargetEnv);
  if (value != nullptr && *value != '\0') {
    args.Set("target", value);
    return Status::Ok();
  }
  return InvalidArgument("missing required option --target (or --target-file PATH, or SLIPWAY_TARGET in the "
                         "environment)");
}

}  // namespace

OptionSpec TargetFileSpec() {
  return {"target-file", true,
          "read the PostgreSQL connection URI from the first line of this file (keeps a password out of argv)",
          "PATH"};
}

Status ResolveTarget(Args& args, TargetEnv env) {
  RETURN_IF_ERROR(FromOptionsOrEnvironment(args, env));
  // A malformed URI is refused before anything else is looked at.
  if (auto target = args.Get("target")) return CheckUriUserinfo(*target);
  return Status::Ok();
}

}  // namespace slipway::cli
