#include "cutover/verify_progress.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace slipway::cutover {
namespace {

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f s", s);
  return buf;
}

}  // namespace

Result<VerifyProgress> ReadVerifyProgress(PgConn& conn) {
  VerifyProgress p;
  ASSIGN_OR_RETURN(PgResult have, conn.Exec("SELECT to_regclass('slipway.verify_progress') IS NOT NULL AND "
                                            "to_regclass('slipway.verify_mismatch') IS NOT NULL"));
  if (have.Get(0, 0) != "t") return p;
  p.present = true;
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec(std::string("SELECT p.source_table, p.pass, p.walk, coalesce(p.after_text, ''), p.pass_rows, "
                            "p.pass_started_at::text, CASE WHEN p.updated_at > p.pass_started_at THEN p.pass_rows / "
                            "extract(epoch from p.updated_at - p.pass_started_at) END, p.completed_pass, "
                            "p.completed_at::text, extract(epoch from now() - p.completed_at), p.completed_from, "
                            "p.completed_rows, p.completed_seconds, p.completed_stamp IS NOT NULL AND "
                            "p.completed_stamp = (") +
                kMigrationStampSql + ") FROM slipway.verify_progress p ORDER BY 1"));
  for (int i = 0; i < r.Rows(); ++i) {
    VerifyTableProgress t;
    t.table = r.Str(i, 0);
    t.pass = std::stoll(r.Str(i, 1));
    t.walk = r.Str(i, 2);
    t.after_text = r.Str(i, 3);
    t.pass_rows = std::stoll(r.Str(i, 4));
    t.pass_started_at = r.Opt(i, 5);
    t.rate = r.IsNull(i, 6) ? 0 : std::stod(r.Str(i, 6));
    if (!r.IsNull(i, 7)) t.completed_pass = std::stoll(r.Str(i, 7));
    t.completed_at = r.Opt(i, 8);
    t.completed_age_s = r.IsNull(i, 9) ? 0 : std::stod(r.Str(i, 9));
    if (!r.IsNull(i, 10)) t.completed_from = std::stoll(r.Str(i, 10));
    t.completed_rows = r.IsNull(i, 11) ? 0 : std::stoll(r.Str(i, 11));
    t.completed_seconds = r.IsNull(i, 12) ? 0 : std::stod(r.Str(i, 12));
    t.completed_current = r.Get(i, 13) == "t";
    p.tables.push_back(std::move(t));
  }
  ASSIGN_OR_RETURN(PgResult m, conn.Exec("SELECT source_table, key_text, what, found_at::text FROM "
                                         "slipway.verify_mismatch ORDER BY found_at, source_table, key_text"));
  for (int i = 0; i < m.Rows(); ++i) p.mismatches.push_back({m.Str(i, 0), m.Str(i, 1), m.Str(i, 2), m.Str(i, 3)});
  return p;
}

nlohmann::json VerifyProgressJson(const VerifyProgress& p) {
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& t : p.tables) {
    nlohmann::json j = {{"table", t.table},
                        {"pass", t.pass},
                        {"walk", t.walk},
                        {"verified_up_to", t.after_text},
                        {"pass_rows", t.pass_rows},
                        {"pass_started_at", t.pass_started_at ? nlohmann::json(*t.pass_started_at) : nlohmann::json()},
                        {"rate_rows_per_s", t.rate}};
    if (t.completed_pass) {
      j["last_complete_pass"] = {{"pass", *t.completed_pass},
                                 {"completed_at", t.completed_at.value_or("")},
                                 {"age_s", t.completed_age_s},
                                 {"rows", t.completed_rows},
                                 {"seconds", t.completed_seconds},
                                 {"from_seq", t.completed_from ? nlohmann::json(*t.completed_from) : nlohmann::json()},
                                 {"current", t.completed_current}};
    } else {
      j["last_complete_pass"] = nullptr;
    }
    tables.push_back(std::move(j));
  }
  nlohmann::json mismatches = nlohmann::json::array();
  for (const auto& m : p.mismatches) {
    mismatches.push_back({{"table", m.table}, {"key", m.key_text}, {"what", m.what}, {"found_at", m.found_at}});
  }
  return {{"tables", tables}, {"open_mismatches", mismatches}};
}

Status CheckNoOpenMismatch(const VerifyProgress& p) {
  if (p.mismatches.empty()) return Status::Ok();
  const VerifyMismatch& m = p.mismatches.front();
  return Status(Code::kMismatch,
                "the stream's background verify has " + std::to_string(p.mismatches.size()) +
                    " open mismatch" + (p.mismatches.size() == 1 ? "" : "es") + ", first table " + m.table + " " +
                    m.key_text + " (" + m.what + "); not cutting over while the two sides differ (the running "
                    "stream re-checks it every second and clears it once both sides are equal)");
}

Result<SkipDecision> DecideVerifySkip(PgConn& pg, Db& source, const schema::Plan& plan, int64_t max_age_s) {
  SkipDecision d;
  ASSIGN_OR_RETURN(VerifyProgress p, ReadVerifyProgress(pg));
  if (!p.present || p.tables.empty()) {
    d.reason = "no background verify has run (`slipway stream --verify-rate`)";
    return d;
  }
  if (!p.mismatches.empty()) {
    d.reason = "the background verify has open mismatches";
    return d;
  }
  std::map<std::string, const VerifyTableProgress*> by_table;
  for (const auto& t : p.tables) by_table[t.table] = &t;
  std::string first_why;
  int64_t rows_left = 0;
  double rate = 0;
  std::optional<int64_t> from;
  for (const auto& tm : plan.tables) {
    auto it = by_table.find(tm.source);
    const VerifyTableProgress* t = it == by_table.end() ? nullptr : it->second;
    std::string why;
    if (t == nullptr || !t->completed_pass || !t->completed_from) {
      why = "table " + tm.source + " has no complete background pass";
    } else if (!t->completed_current) {
      why = "the last background pass of table " + tm.source + " predates a schema change or a cutover";
    } else if (t->completed_age_s > static_cast<double>(max_age_s)) {
      why = "the last background pass of table " + tm.source + " completed " + Seconds(t->completed_age_s) +
            " ago, over --verify-max-age " + std::to_string(max_age_s) + " s";
    }
    if (why.empty()) {
      from = from ? std::min(*from, *t->completed_from) : *t->completed_from;
      continue;
    }
    if (first_why.empty()) first_why = why;
    const int64_t size = t != nullptr && t->completed_rows > 0 ? t->completed_rows : tm.rows;
    rows_left += std::max<int64_t>(0, size - (t != nullptr ? t->pass_rows : 0));
    if (t != nullptr) rate = std::max(rate, t->rate);
  }
  if (!first_why.empty()) {
    d.reason = first_why + "; the background pass has about " + std::to_string(rows_left) + " rows left";
    if (rate > 0) {
      d.reason += " (" + Seconds(std::ceil(static_cast<double>(rows_left) / rate)) + " at " +
                  std::to_string(static_cast<int64_t>(rate)) + " rows/s)";
    }
    return d;
  }
  // The freeze checks the keys touched after `from`: the changelog must
  // still hold all of them. Pruning removes the oldest rows first and seq
  // numbers follow each other, so that holds when its oldest row is at or
  // before from + 1.
  ASSIGN_OR_RETURN(std::optional<int64_t> oldest, source.QueryInt("SELECT min(seq) FROM _slipway_changelog"));
  const int64_t f = from.value_or(0);
  if (oldest && *oldest > f + 1) {
    d.reason = "the changelog no longer holds the changes since seq " + std::to_string(f) +
               " that the background pass started at (oldest seq " + std::to_string(*oldest) + ")";
    return d;
  }
  d.skip = true;
  d.from = f;
  double oldest_age = 0;
  for (const auto& t : p.tables) oldest_age = std::max(oldest_age, t.completed_age_s);
  d.reason = "every table had a complete background pass within the last " + Seconds(oldest_age) +
             " and no mismatch is open; the freeze verifies every key changed since seq " + std::to_string(f);
  return d;
}

}  // namespace slipway::cutover
