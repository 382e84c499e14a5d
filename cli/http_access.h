#pragma once
// The control endpoint's token for a command run with --http: read from
// --http-token-file (a file only its owner may read), or generated for this
// run into a file created with mode 0600 and removed when the run ends. The
// path is announced on stderr so the operator can send the token as
// `Authorization: Bearer $(cat PATH)`. --http-allow-remote (binding beyond
// loopback) is accepted only with --http-token-file.
// Thread-safety: not thread-safe; owned by the command's thread.

#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/http_server.h"

namespace slipway::cli {

// --http-token-file and --http-allow-remote.
std::vector<OptionSpec> HttpAccessSpecs();

class HttpToken {
 public:
  // generated_path: where a token is written when --http-token-file is not
  // given. Unreadable, empty or group/world-readable token files are refused.
  static Result<std::unique_ptr<HttpToken>> FromArgs(const Args& args, const std::string& generated_path);
  ~HttpToken();

  HttpToken(const HttpToken&) = delete;
  HttpToken& operator=(const HttpToken&) = delete;

  const HttpAccess& access() const { return access_; }
  const std::string& path() const { return path_; }

 private:
  HttpToken() = default;

  HttpAccess access_;
  std::string path_;
  bool generated_ = false;
};

}  // namespace slipway::cli
