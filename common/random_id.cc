#include "common/random_id.h"

#include <cstdint>
#include <cstdio>
#include <random>

namespace slipway {

std::string RandomHexId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(gen()),
                static_cast<unsigned long long>(gen()));
  return buf;
}

}  // namespace slipway
