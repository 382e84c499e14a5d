#pragma once
// How verify results are shown: a table per table (rows on each side,
// status, time) followed by the differing keys with both values, or the same
// as one JSON document. Row counts and buckets are those of the read the
// verdict comes from; when a second read narrowed differences down, the
// first read's figures are under "first_read".
// Thread-safety: pure functions.

#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cutover/verifier.h"
#include "schema/plan.h"

namespace slipway::cutover {

// True when every table is equal (pending-only differences included).
bool AllEqual(const std::vector<TableReport>& reports);

std::string RenderVerifyText(const std::vector<TableReport>& reports);

// Progress of a verify over several tables, one line per table done: rows
// done of those the plan counted, the rate so far and the time left at it.
// "table results (2/4): 760000 rows in 3.2 s; 990000 of 1000000 rows done,
// 240000 rows/s, about 0 s left"
// Thread-safety: Figures() may run on another thread than the rest.
class VerifyRunProgress {
 public:
  // Over the plan's tables that `pick` selects, with the rows the plan counted.
  template <typename Pick>
  VerifyRunProgress(const schema::Plan& plan, Pick pick) {
    for (const auto& tm : plan.tables) {
      if (!pick(tm)) continue;
      planned_ += tm.rows;
      ++tables_;
    }
  }
  // The table being verified now (shown by Figures()).
  void Starting(const std::string& table);
  std::string Done(const TableReport& r);
  // rows_done, rows_total, rate, eta_seconds (replicator::RowFigures), the
  // table under way and the tables done, as slipway.step_progress holds them.
  nlohmann::json Figures() const;

 private:
  mutable std::mutex mu_;
  int64_t planned_ = 0;
  size_t tables_ = 0;
  size_t done_tables_ = 0;
  int64_t done_rows_ = 0;
  double seconds_ = 0;
  std::string current_;
};
nlohmann::json VerifyToJson(const std::vector<TableReport>& reports);

}  // namespace slipway::cutover
