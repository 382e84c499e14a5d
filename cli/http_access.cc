#include "cli/http_access.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace slipway::cli {
namespace {

constexpr size_t kTokenBytes = 32;
constexpr size_t kMinTokenChars = 16;
constexpr size_t kMaxTokenFileBytes = 4096;

Result<std::string> RandomToken() {
  unsigned char bytes[kTokenBytes];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Internal(std::string("cannot read random bytes for the HTTP token: ") + std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

// The file is created afresh (O_EXCL, never through a symlink) with mode
// 0600, so no other user can have it open or read it.
Status WriteTokenFile(const std::string& path, const std::string& token) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return IoError("cannot replace the HTTP token file " + path + ": " + std::strerror(errno));
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot create the HTTP token file " + path + ": " + std::strerror(errno));
  std::string content = token + "\n";
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    ::unlink(path.c_str());
    return IoError("cannot write the HTTP token file " + path);
  }
  return Status::Ok();
}

Result<std::string> ReadTokenFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot read --http-token-file " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument("--http-token-file " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return InvalidArgument("--http-token-file " + path + " may be read by other users: chmod 600 " + path);
  }
  std::string content(kMaxTokenFileBytes, '\0');
  ssize_t n = ::read(fd, content.data(), content.size());
  ::close(fd);
  if (n < 0) return IoError("cannot read --http-token-file " + path);
  content.resize(static_cast<size_t>(n));
  std::string token = content.substr(0, content.find('\n'));
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) token.pop_back();
  if (token.size() < kMinTokenChars || token.find_first_of(" \t") != std::string::npos) {
    return InvalidArgument("--http-token-file " + path + ": the first line must be a token of at least " +
                           std::to_string(kMinTokenChars) + " characters without spaces");
  }
  return token;
}

}  // namespace

std::vector<OptionSpec> HttpAccessSpecs() {
  return {
      {"http-token-file", true,
       "token that POST requests must send (Authorization: Bearer TOKEN); file mode 0600 "
       "(default: a new token per run, written to a 0600 file whose path is printed)",
       "PATH"},
      {"http-allow-remote", false, "let --http bind an address beyond loopback (needs --http-token-file)"},
  };
}

Result<std::unique_ptr<HttpToken>> HttpToken::FromArgs(const Args& args, const std::string& generated_path) {
  auto t = std::unique_ptr<HttpToken>(new HttpToken());
  t->access_.allow_remote = args.Has("http-allow-remote");
  if (auto path = args.Get("http-token-file")) {
    ASSIGN_OR_RETURN(t->access_.token, ReadTokenFile(*path));
    t->path_ = *path;
    return t;
  }
  if (t->access_.allow_remote) {
    return InvalidArgument("--http-allow-remote needs --http-token-file (a token chosen for the hosts that connect)");
  }
  ASSIGN_OR_RETURN(t->access_.token, RandomToken());
  RETURN_IF_ERROR(WriteTokenFile(generated_path, t->access_.token));
  t->path_ = generated_path;
  t->generated_ = true;
  std::fprintf(stderr,
               "slipway: note: HTTP control token in %s (mode 0600); POST requests send it as "
               "`Authorization: Bearer TOKEN`\n",
               generated_path.c_str());
  return t;
}

HttpToken::~HttpToken() {
  if (generated_) ::unlink(path_.c_str());
}

}  // namespace slipway::cli
