#pragma once
// Random identifiers: 128 bits from the system's random device, as 32 lower-
// case hex digits. Used for migration ids and source-history tokens, which
// must differ between any two files or runs, not be secret.
// Thread-safety: safe to call from any thread.

#include <string>

namespace slipway {

std::string RandomHexId();

}  // namespace slipway
