#pragma once
// How verify results are shown: a table per table (rows on each side,
// status, time) followed by the differing keys with both values, or the same
// as one JSON document. Row counts and buckets are those of the read the
// verdict comes from; when a second read narrowed differences down, the
// first read's figures are under "first_read".
// Thread-safety: pure functions.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cutover/verifier.h"

namespace slipway::cutover {

// True when every table is equal (pending-only differences included).
bool AllEqual(const std::vector<TableReport>& reports);

std::string RenderVerifyText(const std::vector<TableReport>& reports);
nlohmann::json VerifyToJson(const std::vector<TableReport>& reports);

}  // namespace slipway::cutover
