#include "cli/plan_report.h"

#include <algorithm>
#include <cstdio>

#include "common/count_format.h"
#include "common/redact.h"

namespace slipway::cli {
namespace {

std::string Pad(const std::string& s, size_t width) {
  size_t chars = 0;
  for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
  return chars >= width ? s + " " : s + std::string(width - chars, ' ');
}

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string RenderPlanReport(const schema::Plan& plan, const schema::SourceSchema& source) {
  using schema::Severity;
  std::string out;
  int64_t rows = 0;
  for (const auto& t : plan.tables) rows += t.rows;
  out += "slipway plan: " + plan.source_path + " (journal " + source.journal_mode + ", " +
         FormatCount(static_cast<int64_t>(plan.tables.size())) + " tables, " + FormatCount(rows) + " rows)\n";

  for (const auto& t : plan.tables) {
    std::string key;
    for (const auto& k : t.key_target) key += (key.empty() ? "" : ", ") + k;
    out += "\nTABLE " + t.source + " -> " + plan.options.pg_schema + "." + t.target + "  (" + FormatCount(t.rows) +
           " rows, key " + key + ")\n";
    size_t w = 6;
    for (const auto& c : t.columns) w = std::max(w, c.source.size() + 2);
    for (const auto& c : t.columns) {
      if (c.skip) {
        out += "  " + Pad(c.source, w) + "skipped\n";
        continue;
      }
      std::string type = c.type.Sql() + (c.identity ? " identity" : "") + (c.not_null ? " not null" : "");
      std::string name = c.target == c.source ? "" : "\"" + c.target + "\" ";
      out += "  " + Pad(c.source, w) + Pad(c.source_decl.empty() ? "(untyped)" : c.source_decl, 16) + "-> " + name +
             Pad(type, 28) + c.reason + "\n";
    }
  }

  const Severity order[] = {Severity::kBlocking, Severity::kWidened, Severity::kWarning, Severity::kInfo};
  bool header = false;
  for (Severity sev : order) {
    for (const auto& n : plan.notes) {
      if (n.severity != sev) continue;
      if (!header) {
        out += "\nFINDINGS\n";
        header = true;
      }
      std::string where = n.table.empty() ? "" : n.table + (n.column.empty() ? "" : "." + n.column) + ": ";
      out += "  " + Pad(Upper(schema::SeverityName(n.severity)), 9) + where + n.message;
      if (n.count > 0) out += " [" + FormatCount(n.count) + " rows]";
      if (!n.examples.empty()) {
        out += " e.g. ";
        for (size_t i = 0; i < n.examples.size(); ++i) {
          out += (i > 0 ? "; " : "") + n.examples[i];
          if (i < n.values.size() && !n.values[i].empty()) out += " -> " + n.values[i];
        }
      }
      out += "\n";
    }
  }

  // Grouped by notice: one line per kind, naming the columns it applies to.
  std::vector<std::pair<std::string, std::vector<std::string>>> notices;
  for (const auto& t : plan.tables) {
    for (const auto& c : t.columns) {
      if (c.skip) continue;
      for (const auto& a : c.app_notices) {
        std::string key = c.type.Sql() + ": " + a;
        auto it = std::find_if(notices.begin(), notices.end(), [&](const auto& p) { return p.first == key; });
        if (it == notices.end()) {
          notices.emplace_back(key, std::vector<std::string>{});
          it = notices.end() - 1;
        }
        it->second.push_back(t.target + "." + c.target);
      }
    }
  }
  out += "\nWHAT AN APP'S QUERIES MAY NOTICE\n";
  for (const auto& [what, cols] : notices) {
    out += "  " + what + "\n    ";
    for (size_t i = 0; i < cols.size(); ++i) out += (i > 0 ? ", " : "") + cols[i];
    out += "\n";
  }

  if (plan.options.target_schema == schema::TargetSchemaMode::kCreate) {
    out += "\nDDL" + std::string(plan.ddl_validated ? " (checked on the target, rolled back)" : " (not checked: no --target)") +
           "\n";
    out += schema::RenderDdl(plan);
  }
  int64_t blocking = plan.Count(Severity::kBlocking);
  out += "\nRESULT: ";
  out += blocking > 0 ? "BLOCKED (" + std::to_string(blocking) + " blocking findings: fix the data or override with --mapping)"
                      : "clean (" + std::to_string(plan.Count(Severity::kWidened)) + " widened, " +
                            std::to_string(plan.Count(Severity::kWarning)) + " warnings)";
  out += "\n";
  return out;
}

}  // namespace slipway::cli
