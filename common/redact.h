#pragma once
// Secrets never reach a log line, an error, status output or a process title.
// RedactConninfo() renders a connection string without its password; Redact()
// removes a known password from arbitrary text; ScrubArgv() overwrites
// passwords in the process's own argv so `ps` cannot show them.

#include <string>
#include <string_view>

namespace slipway {

// "postgresql://u:secret@h/db" -> "postgresql://u:***@h/db"; key=value
// "password=secret" -> "password=***"; ?password=secret -> ?password=***.
std::string RedactConninfo(std::string_view conninfo);

// Replaces every occurrence of the password found in `conninfo` inside `text`.
std::string Redact(std::string_view text, std::string_view conninfo);

// Overwrites, in place, the password part of any argument that looks like a
// connection string. Call once at start-up, after copying what is needed.
void ScrubArgv(int argc, char** argv);

}  // namespace slipway
