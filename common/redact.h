#pragma once
// Secrets never reach a log line, an error, status output or a process title.
// RedactConninfo() renders a connection string without its password; Redact()
// removes a known password from arbitrary text; ScrubArgv() overwrites
// passwords in the process's own argv (other users can read argv in
// /proc/PID/cmdline before that: see README, "Secrets").

#include <string>
#include <string_view>

#include "common/status.h"

namespace slipway {

// "postgresql://u:secret@h/db" -> "postgresql://u:***@h/db"; key=value
// "password=secret" -> "password=***"; ?password=secret -> ?password=***.
std::string RedactConninfo(std::string_view conninfo);

// Replaces every occurrence of the password found in `conninfo` inside `text`,
// and, for a URI whose password holds an unencoded '@' or '/', every piece of
// it libpq may echo (a host name "kr1t@127.0.0.1" from "u:Se@kr1t@127.0.0.1").
std::string Redact(std::string_view text, std::string_view conninfo);

// kInvalidArgument (saying how to percent-encode) for a URI whose user name
// or password holds an unencoded '@' or '/': libpq would split it at the wrong
// place and echo a piece of the password as a host name. The message never
// holds any part of the URI.
Status CheckUriUserinfo(std::string_view conninfo);

// Replaces, in place, the password part of any argument that looks like a
// connection string with a fixed mask ("***", whatever the password's
// length). Call once at start-up, after copying what is needed. This narrows
// but cannot close the window in which another user can read the password in
// /proc/PID/cmdline: the way to keep it out is not to put it in argv.
void ScrubArgv(int argc, char** argv);

}  // namespace slipway
