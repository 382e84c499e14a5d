#include "cutover/verify_report.h"

#include <algorithm>
#include <cstdio>

#include "common/count_format.h"
#include "replicator/step_progress.h"

namespace slipway::cutover {
namespace {

const char* KindJson(DiffKind k) {
  switch (k) {
    case DiffKind::kMissing: return "missing";
    case DiffKind::kExtra: return "extra";
    case DiffKind::kDifferent: return "different";
  }
  return "?";
}

std::string StatusText(const TableReport& r) {
  std::string s;
  if (!r.Equal()) {
    s = "DIFFERENT (" + FormatCount(r.mismatched) + (r.unexamined_buckets > 0 ? "+" : "") + ")";
  } else {
    s = "equal";
  }
  if (r.pending > 0) s += ", pending " + FormatCount(r.pending);
  return s;
}

void Appendf(std::string* out, const char* fmt, auto... args) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, fmt, args...);
  *out += buf;
}

std::string DescribeKey(const KeyDiff& k) {
  std::string s = k.pending ? "pending, " : "";
  s += DiffKindName(k.kind);
  if (k.kind == DiffKind::kDifferent) {
    for (size_t i = 0; i < k.columns.size(); ++i) {
      const auto& c = k.columns[i];
      s += (i == 0 ? ": " : "; ") + c.column + " source " + c.source + ", target " + c.target;
    }
    if (k.columns.empty() && !k.row.empty()) s += ": " + k.row;
  } else if (!k.row.empty()) {
    s += " (" + k.row + ")";
  }
  return s;
}

}  // namespace

bool AllEqual(const std::vector<TableReport>& reports) {
  return std::all_of(reports.begin(), reports.end(), [](const TableReport& r) { return r.Equal(); });
}

std::string RenderVerifyText(const std::vector<TableReport>& reports) {
  int width = 5;
  for (const auto& r : reports) width = std::max(width, static_cast<int>(r.table.size()));
  std::string out;
  Appendf(&out, "%-*s  %13s  %13s  %-24s %8s\n", width, "table", "rows source", "rows target", "status", "seconds");
  for (const auto& r : reports) {
    Appendf(&out, "%-*s  %13s  %13s  %-24s %8.2f\n", width, r.table.c_str(), FormatCount(r.source_rows).c_str(),
            FormatCount(r.target_rows).c_str(), StatusText(r).c_str(), r.seconds);
  }
  for (const auto& r : reports) {
    if (r.keys.empty() && r.mismatched == 0 && r.pending == 0 && r.unexamined_buckets == 0 &&
        r.buckets_changed_between_reads == 0) {
      continue;
    }
    out += "\n" + r.table + " (" + r.target + "): ";
    if (r.mismatched > 0) out += FormatCount(r.mismatched) + " differing key(s)";
    if (r.pending > 0) {
      out += std::string(r.mismatched > 0 ? ", " : "") + FormatCount(r.pending) +
             " pending (changed after the target's position" +
             (r.position ? " " + std::to_string(*r.position) : "") + ")";
    }
    if (r.unexamined_buckets > 0) {
      out += (r.mismatched + r.pending > 0 ? ", and " : "") + FormatCount(static_cast<int64_t>(r.unexamined_buckets)) +
             " differing bucket(s) too many to narrow down";
    }
    if (r.buckets_changed_between_reads > 0) {
      out += (r.mismatched + r.pending + static_cast<int64_t>(r.unexamined_buckets) > 0 ? "; " : "") +
             FormatCount(static_cast<int64_t>(r.buckets_changed_between_reads)) +
             " bucket(s) changed between the two reads (written meanwhile, not examined)";
    }
    out += "\n";
    for (const auto& k : r.keys) out += "  " + k.key + "  " + DescribeKey(k) + "\n";
    const int64_t shown = static_cast<int64_t>(r.keys.size());
    if (r.mismatched + r.pending > shown) {
      out += "  ... " + FormatCount(r.mismatched + r.pending - shown) + " more (see --max-report)\n";
    }
  }
  return out;
}

nlohmann::json VerifyToJson(const std::vector<TableReport>& reports) {
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& r : reports) {
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& k : r.keys) {
      nlohmann::json jk = {{"key", k.key}, {"kind", KindJson(k.kind)}, {"pending", k.pending}};
      if (k.kind == DiffKind::kDifferent) {
        nlohmann::json cols = nlohmann::json::array();
        for (const auto& c : k.columns) cols.push_back({{"column", c.column}, {"source", c.source}, {"target", c.target}});
        jk["columns"] = cols;
      }
      if (!k.row.empty()) jk["row"] = k.row;
      keys.push_back(jk);
    }
    nlohmann::json first = nullptr;
    if (r.first_read) {
      first = {{"source_rows", r.first_read->source_rows},
               {"target_rows", r.first_read->target_rows},
               {"differing_buckets", r.first_read->differing_buckets}};
    }
    tables.push_back({{"table", r.table},
                      {"target", r.target},
                      {"source_rows", r.source_rows},
                      {"target_rows", r.target_rows},
                      {"equal", r.Equal()},
                      {"status", r.Equal() ? "equal" : "different"},
                      {"mismatched", r.mismatched},
                      {"pending", r.pending},
                      {"position", r.position ? nlohmann::json(*r.position) : nlohmann::json(nullptr)},
                      {"buckets", r.buckets},
                      {"differing_buckets", r.differing_buckets},
                      {"unexamined_buckets", r.unexamined_buckets},
                      {"buckets_changed_between_reads", r.buckets_changed_between_reads},
                      {"first_read", first},
                      {"seconds", r.seconds},
                      {"keys", keys}});
  }
  return {{"equal", AllEqual(reports)}, {"tables", tables}};
}

void VerifyRunProgress::Starting(const std::string& table) {
  std::lock_guard<std::mutex> lock(mu_);
  current_ = table;
}

nlohmann::json VerifyRunProgress::Figures() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json j = replicator::RowFigures(done_rows_, planned_, done_rows_, seconds_);
  j["table"] = current_;
  j["tables_done"] = done_tables_;
  j["tables_total"] = std::max(tables_, done_tables_);
  return j;
}

std::string VerifyRunProgress::Done(const TableReport& r) {
  std::lock_guard<std::mutex> lock(mu_);
  current_.clear();
  ++done_tables_;
  done_rows_ += std::max(r.source_rows, r.target_rows);
  seconds_ += r.seconds;
  const double rate = seconds_ > 0 ? static_cast<double>(done_rows_) / seconds_ : 0;
  const int64_t total = std::max(planned_, done_rows_);
  const double left = rate > 0 ? static_cast<double>(total - done_rows_) / rate : 0;
  char buf[256];
  std::snprintf(buf, sizeof buf, " (%zu/%zu): %s rows in %.1f s; %s of %s rows done, %s rows/s, about %.0f s left",
                done_tables_, std::max(tables_, done_tables_),
                FormatCount(std::max(r.source_rows, r.target_rows)).c_str(), r.seconds,
                FormatCount(done_rows_).c_str(), FormatCount(total).c_str(), FormatCountRounded(rate).c_str(), left);
  return "table " + r.table + buf;
}

}  // namespace slipway::cutover
