#pragma once
// How counts (rows, changes, keys, tables, rates) read in what slipway prints.
//
// The rule: text for people groups thousands with commas ("151,974 rows",
// "2,310 changes/s"); JSON, Prometheus text and the key=value fields of log
// lines carry plain digits, for the programs that read them. Identifiers are
// not counts and stay plain everywhere: positions (applied seq), pass
// numbers, pids, row ids.
//
// Thread-safe: pure functions.
#include <cstdint>
#include <string>

namespace slipway {

// 151974 -> "151,974"; 999 -> "999"; -1234 -> "-1,234".
std::string FormatCount(int64_t n);

// A rate or a mean, rounded to a whole number first: 1234.5 -> "1,235".
std::string FormatCountRounded(double n);

// A duration for people, in the unit that reads best: "35 ms", "4.2 s",
// "3 min", "2.5 h".
std::string FormatDurationMs(double ms);

}  // namespace slipway
