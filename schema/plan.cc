#include "schema/plan.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "schema/defaults.h"
#include "schema/fts.h"
#include "schema/identifiers.h"

namespace slipway::schema {
namespace {

Note TableNote(Severity sev, const std::string& table, std::string msg) {
  Note n;
  n.severity = sev;
  n.table = table;
  n.message = std::move(msg);
  return n;
}

bool IsSlipwayTable(const std::string& name) { return name.rfind("_slipway", 0) == 0; }

bool SameNameNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The referenced table when `fk` is one column referring to that table's
// INTEGER PRIMARY KEY (its rowid), else nullptr.
const Table* RowidParent(const SourceSchema& schema, const ForeignKey& fk) {
  if (fk.columns.size() != 1 || fk.ref_columns.size() > 1) return nullptr;
  for (const auto& p : schema.tables) {
    if (p.kind != TableKind::kTable || !SameNameNoCase(p.name, fk.ref_table)) continue;
    if (p.without_rowid || p.rowid_alias.empty()) return nullptr;
    if (!fk.ref_columns.empty() && !SameNameNoCase(fk.ref_columns[0], p.rowid_alias)) return nullptr;
    return &p;
  }
  return nullptr;
}

// The rowids of a table as a bitmap over [lo, lo + bits.size()).
struct RowidSet {
  int64_t lo = 0;
  std::vector<bool> bits;
  bool Has(int64_t v) const {
    return v >= lo && static_cast<uint64_t>(v - lo) < bits.size() && bits[static_cast<size_t>(v - lo)];
  }
};

// Largest rowid range held as a bitmap (32 MB).
constexpr int64_t kMaxRowidBitmap = int64_t{1} << 28;

// ForeignKeyViolations() without a lookup per row, for tables whose every
// foreign key is one column referring to a rowid: the referenced rowids in a
// bitmap, then one scan of the table's key columns. The same rows as
// pragma_foreign_key_check, which matches a child value against a rowid
// after applying INTEGER affinity: NULL never breaks a key and an integer
// breaks it when no such rowid exists; any other value (text, real, blob),
// a rowid range too wide for the bitmap, or a table whose rowid is
// shadowed by a column gives nullopt, and the pragma decides.
std::optional<Result<std::map<int, Finding>>> RowidKeyViolations(Db& db, const SourceSchema& schema, const Table& t) {
  if (t.without_rowid) return std::nullopt;
  for (const auto& c : t.columns) {
    if (SameNameNoCase(c.name, "rowid")) return std::nullopt;
  }
  std::vector<const Table*> parents;
  for (const auto& fk : t.foreign_keys) {
    const Table* p = RowidParent(schema, fk);
    if (p == nullptr) return std::nullopt;
    parents.push_back(p);
  }
  // One read transaction for the referenced rowids and the table's rows, as
  // the pragma reads both in one statement. Ended after every statement
  // below is finalized (declared before them).
  if (!db.Exec("BEGIN").ok()) return std::nullopt;
  struct EndRead {
    Db& db;
    ~EndRead() { (void)db.Exec("COMMIT"); }
  } end_read{db};
  std::map<std::string, RowidSet> sets;  // by parent table
  for (const Table* p : parents) {
    if (sets.count(p->name) > 0) continue;
    // The INTEGER PRIMARY KEY is the rowid (a column named "rowid" would
    // shadow that name).
    const std::string key = QuoteSqliteIdent(p->rowid_alias);
    const std::string from = " FROM " + QuoteSqliteIdent(p->name);
    auto lo = db.QueryInt("SELECT min(" + key + ")" + from);
    auto hi = db.QueryInt("SELECT max(" + key + ")" + from);
    if (!lo.ok()) return Result<std::map<int, Finding>>(lo.status());
    if (!hi.ok()) return Result<std::map<int, Finding>>(hi.status());
    RowidSet set;
    if (lo->has_value() && hi->has_value()) {
      if (**hi - **lo >= kMaxRowidBitmap) return std::nullopt;
      set.lo = **lo;
      set.bits.assign(static_cast<size_t>(**hi - **lo + 1), false);
      auto st = db.Prepare("SELECT " + key + from);
      if (!st.ok()) return Result<std::map<int, Finding>>(st.status());
      while (true) {
        auto row = st->Step();
        if (!row.ok()) return Result<std::map<int, Finding>>(row.status());
        if (!*row) break;
        const int64_t v = st->Int(0);
        if (v >= set.lo && v - set.lo < static_cast<int64_t>(set.bits.size())) {
          set.bits[static_cast<size_t>(v - set.lo)] = true;
        }
      }
    }
    sets.emplace(p->name, std::move(set));
  }
  std::string sql = "SELECT rowid";
  for (const auto& fk : t.foreign_keys) sql += ", " + QuoteSqliteIdent(fk.columns[0]);
  auto st = db.Prepare(sql + " FROM " + QuoteSqliteIdent(t.name));
  if (!st.ok()) return Result<std::map<int, Finding>>(st.status());
  std::vector<const RowidSet*> by_key;
  for (const Table* p : parents) by_key.push_back(&sets.at(p->name));
  std::map<int, Finding> out;
  while (true) {
    auto row = st->Step();
    if (!row.ok()) return Result<std::map<int, Finding>>(row.status());
    if (!*row) break;
    for (size_t k = 0; k < t.foreign_keys.size(); ++k) {
      const int col = static_cast<int>(k) + 1;
      const int type = st->Type(col);
      if (type == SQLITE_NULL) continue;
      if (type != SQLITE_INTEGER) return std::nullopt;
      if (by_key[k]->Has(st->Int(col))) continue;
      out[t.foreign_keys[k].id].Add("rowid=" + std::to_string(st->Int(0)), "");
    }
  }
  return Result<std::map<int, Finding>>(std::move(out));
}

// Rows that break a foreign key (SQLite does not enforce them unless the app
// turned them on): counted per table and constraint, with example rowids.
Result<std::map<int, Finding>> ForeignKeyViolations(Db& db, const SourceSchema& schema, const Table& t) {
  std::map<int, Finding> out;
  if (t.foreign_keys.empty()) return out;
  if (auto quick = RowidKeyViolations(db, schema, t)) return std::move(*quick);
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT rowid, fkid FROM pragma_foreign_key_check(?)"));
  st.Bind(1, std::string_view(t.name));
  while (true) {
    auto row = st.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::string key = st.IsNull(0) ? "(no rowid)" : "rowid=" + std::to_string(st.Int(0));
    out[static_cast<int>(st.Int(1))].Add(key, "");
  }
  return out;
}

// What BuildPlan reads from the data of one table: its audit and the rows
// that break its foreign keys.
struct TableScan {
  std::optional<Result<TableAudit>> audit;
  std::optional<Result<std::map<int, Finding>>> violations;
};

// Reads the audit and the foreign-key check of every table on `jobs`
// threads, each with a read-only connection of its own, the largest reads
// first. Each read is its own read transaction, as when BuildPlan reads the
// tables one after the other, so the figures are the same.
std::vector<TableScan> ScanTables(const std::string& path, const SourceSchema& schema,
                                  const std::vector<const Table*>& tables, int jobs) {
  std::vector<TableScan> out(tables.size());
  struct Task {
    size_t table;
    bool audit;  // else the foreign-key check
    double weight;
  };
  std::vector<Task> tasks;
  {
    auto db = Db::Open(path, Db::Mode::kReadOnly);
    for (size_t i = 0; i < tables.size(); ++i) {
      // The largest rowid is a cheap size estimate (one B-tree descent); a
      // table without rowid counts as large.
      double weight = 1e18;
      if (db.ok() && !tables[i]->without_rowid) {
        auto n = db->QueryInt("SELECT max(rowid) FROM " + QuoteSqliteIdent(tables[i]->name));
        if (n.ok()) weight = static_cast<double>(n->value_or(0));
      }
      tasks.push_back({i, true, weight});
      if (!tables[i]->foreign_keys.empty()) {
        tasks.push_back({i, false, weight * static_cast<double>(tables[i]->foreign_keys.size())});
      }
    }
  }
  std::stable_sort(tasks.begin(), tasks.end(), [](const Task& a, const Task& b) { return a.weight > b.weight; });
  std::atomic<size_t> next{0};
  std::mutex mu;
  auto work = [&]() {
    auto db = Db::Open(path, Db::Mode::kReadOnly);
    for (size_t k = next++; k < tasks.size(); k = next++) {
      const Task& t = tasks[k];
      const Table& table = *tables[t.table];
      if (t.audit) {
        Result<TableAudit> r = db.ok() ? AuditTable(*db, table) : Result<TableAudit>(db.status());
        std::lock_guard<std::mutex> lock(mu);
        out[t.table].audit.emplace(std::move(r));
      } else {
        Result<std::map<int, Finding>> r =
            db.ok() ? ForeignKeyViolations(*db, schema, table) : Result<std::map<int, Finding>>(db.status());
        std::lock_guard<std::mutex> lock(mu);
        out[t.table].violations.emplace(std::move(r));
      }
    }
  };
  std::vector<std::thread> threads;
  const size_t n = std::min(tasks.size(), static_cast<size_t>(std::max(1, jobs)));
  for (size_t i = 0; i < n; ++i) threads.emplace_back(work);
  for (auto& th : threads) th.join();
  return out;
}

}  // namespace

bool Plan::Blocked() const { return Count(Severity::kBlocking) > 0; }

int64_t Plan::Count(Severity s) const {
  return std::count_if(notes.begin(), notes.end(), [&](const Note& n) { return n.severity == s; });
}

const TableMapping* Plan::FindTable(const std::string& source_name) const {
  for (const auto& t : tables) {
    if (t.source == source_name) return &t;
  }
  return nullptr;
}

Result<Plan> BuildPlan(Db& db, const SourceSchema& schema, const MapOptions& options, const MappingFile* overrides,
                       const AuditProgress& progress, int jobs) {
  Plan plan;
  plan.source_path = schema.path;
  plan.fingerprint = schema.Fingerprint();
  plan.journal_mode = schema.journal_mode;
  plan.options = options;
  NameScope relations;  // tables and indexes share a namespace in PostgreSQL

  if (schema.journal_mode != "wal") {
    plan.notes.push_back(TableNote(Severity::kWarning, "",
                                   "journal mode is " + schema.journal_mode +
                                       ": snapshot and stream need WAL (PRAGMA journal_mode=WAL, or snapshot --set-wal)"));
  }
  for (const auto& v : schema.views) {
    plan.notes.push_back(TableNote(Severity::kInfo, v.name, "view not migrated (recreate it in PostgreSQL if the app uses it)"));
  }
  for (const auto& tr : schema.triggers) {
    if (IsSlipwayTable(tr.name)) continue;
    plan.notes.push_back(TableNote(Severity::kWarning, tr.table, "trigger " + tr.name +
                                                                     " not migrated: its logic must be re-created in PostgreSQL"));
  }

  // The tables whose data is read, in schema order; with several jobs their
  // reads run ahead on connections of their own.
  auto override_of = [overrides](const std::string& name) -> const TableOverride* {
    if (overrides == nullptr) return nullptr;
    auto it = overrides->tables.find(name);
    return it != overrides->tables.end() ? &it->second : nullptr;
  };
  std::vector<const Table*> scanned;
  for (const auto& t : schema.tables) {
    if (IsSlipwayTable(t.name) || t.kind != TableKind::kTable || !Selected(t.name, options)) continue;
    const TableOverride* to = override_of(t.name);
    if (to != nullptr && to->skip) continue;
    scanned.push_back(&t);
  }
  std::map<const Table*, TableScan> ahead;
  if (jobs > 1 && !scanned.empty()) {
    std::vector<TableScan> scans = ScanTables(db.path(), schema, scanned, jobs);
    for (size_t i = 0; i < scanned.size(); ++i) ahead[scanned[i]] = std::move(scans[i]);
  }

  for (const auto& t : schema.tables) {
    if (IsSlipwayTable(t.name)) continue;
    if (t.kind == TableKind::kInternal) continue;
    if (!Selected(t.name, options)) continue;
    if (t.kind == TableKind::kVirtual) {
      plan.notes.push_back(TableNote(Severity::kWarning, t.name,
                                     "virtual table (" + t.virtual_module + ") not migrated; use a PostgreSQL equivalent"));
      continue;
    }
    if (t.kind == TableKind::kShadow) {
      plan.notes.push_back(TableNote(Severity::kInfo, t.name, "shadow table of virtual table " + t.shadow_of + ": not migrated"));
      continue;
    }
    const TableOverride* to = override_of(t.name);
    if (to != nullptr && to->skip) {
      plan.notes.push_back(TableNote(Severity::kInfo, t.name, "skipped by the mapping file"));
      continue;
    }

    auto read_ahead = ahead.find(&t);
    TableScan* scan = read_ahead != ahead.end() ? &read_ahead->second : nullptr;
    ASSIGN_OR_RETURN(TableAudit audit, scan != nullptr && scan->audit ? std::move(*scan->audit) : AuditTable(db, t));
    if (progress) progress(audit);

    TableMapping tm;
    tm.source = t.name;
    tm.target = to != nullptr && to->target ? *to->target : PgName(t.name, options.names);
    tm.without_rowid = t.without_rowid;
    tm.autoincrement = t.autoincrement;
    tm.sqlite_sequence = t.sqlite_sequence;
    tm.rows = audit.rows;
    std::string other;
    if (!relations.Claim(tm.target, "table " + t.name, &other)) {
      plan.notes.push_back(TableNote(Severity::kBlocking, t.name,
                                     "PostgreSQL name \"" + tm.target + "\" collides with " + other +
                                         " (use --keep-names or a mapping file)"));
    }
    if (options.names == NameStyle::kLower && IsPgReserved(tm.target)) {
      plan.notes.push_back(TableNote(Severity::kInfo, t.name, "\"" + tm.target +
                                                                  "\" is reserved in PostgreSQL: an app's SQL must quote it"));
    }

    NameScope column_names;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const Column& c = t.columns[i];
      if (c.hidden) continue;
      ColumnMapping cm = MapColumn(t, c, audit.columns[i], options.profile, &plan.notes);
      if (c.pk_position > 0 && audit.columns[i].nulls > 0) {
        // SQLite lets a non-INTEGER primary key of a rowid table hold NULLs.
        Note n = TableNote(Severity::kBlocking, t.name,
                           "primary key column holds " + std::to_string(audit.columns[i].nulls) +
                               " NULLs (SQLite allows that outside INTEGER PRIMARY KEY); a PostgreSQL key cannot: "
                               "give those rows keys, or skip the table in a mapping file");
        n.column = c.name;
        n.count = audit.columns[i].nulls;
        plan.notes.push_back(n);
      }
      cm.target = PgName(c.name, options.names);
      const ColumnOverride* co = nullptr;
      if (to != nullptr) {
        auto it = to->columns.find(c.name);
        if (it != to->columns.end()) co = &it->second;
      }
      if (co != nullptr) {
        if (co->target) cm.target = *co->target;
        if (co->skip) {
          cm.skip = true;
          if (c.pk_position > 0) {
            plan.notes.push_back(TableNote(Severity::kBlocking, t.name, "primary key column " + c.name + " cannot be skipped"));
          }
        }
        if (co->type) {
          auto type = PgType::Parse(*co->type);
          if (!type.ok()) return type.status().Annotate("mapping file, table " + t.name + " column " + c.name);
          bool nn = cm.not_null;
          cm = AdaptToType(cm, *type, audit.columns[i]);
          cm.not_null = nn;
          cm.reason = "set by the mapping file";
          for (auto& n : FitCheck(t.name, cm, audit.columns[i])) plan.notes.push_back(std::move(n));
          // Drop the automatic notes about this column's old type.
          plan.notes.erase(std::remove_if(plan.notes.begin(), plan.notes.end(),
                                          [&](const Note& n) {
                                            return n.table == t.name && n.column == c.name &&
                                                   (n.severity == Severity::kWidened ||
                                                    (n.severity == Severity::kBlocking && n.message.find("fit") == std::string::npos));
                                          }),
                           plan.notes.end());
        }
        cm.user_override = true;
      }
      for (auto& n : KindLossNotes(t.name, cm, audit.columns[i])) plan.notes.push_back(std::move(n));
      if (cm.skip) {
        tm.columns.push_back(std::move(cm));
        continue;
      }
      if (!column_names.Claim(cm.target, c.name, &other)) {
        Note n = TableNote(Severity::kBlocking, t.name, "columns \"" + other + "\" and \"" + c.name +
                                                           "\" both become \"" + cm.target +
                                                           "\" (use --keep-names or a mapping file)");
        n.column = c.name;
        plan.notes.push_back(n);
      }
      if (t.rowid_alias == c.name) cm.identity = true;
      if (c.default_sql && !c.default_sql->empty()) {
        DefaultTranslation d = TranslateDefault(*c.default_sql, cm);
        cm.default_sql = d.pg_sql;
        if (!d.dropped_reason.empty()) {
          Note n = TableNote(Severity::kWarning, t.name, "DEFAULT dropped: " + d.dropped_reason);
          n.column = c.name;
          plan.notes.push_back(n);
        }
      }
      tm.columns.push_back(std::move(cm));
    }

    if (!t.primary_key.empty()) {
      tm.key_kind = KeyKind::kPrimaryKey;
      tm.key_source = t.primary_key;
      for (const auto& k : t.primary_key) {
        const ColumnMapping* cm = tm.FindSource(k);
        tm.key_target.push_back(cm != nullptr ? cm->target : k);
      }
    } else {
      tm.key_kind = KeyKind::kRowid;
      tm.key_target = {kRowidColumn};
      if (column_names.Taken(kRowidColumn)) {
        plan.notes.push_back(TableNote(Severity::kBlocking, t.name, std::string("has a column named ") + kRowidColumn));
      }
      plan.notes.push_back(TableNote(Severity::kInfo, t.name,
                                     std::string("no primary key: rows are keyed by SQLite's rowid, kept in column ") +
                                         kRowidColumn));
    }

    if (HoldsTextOrBlob(tm)) {
      plan.notes.push_back(TableNote(
          Severity::kInfo, t.name,
          "trigger capture cannot see writes through SQLite's incremental blob API (sqlite3_blob_write, Python's "
          "blobopen) to its TEXT/BLOB columns: the stream does not carry them; the cutover compares this table "
          "after the move and reports any such write PostgreSQL lacks (the app should also UPDATE the row)"));
    }
    auto violations =
        scan != nullptr && scan->violations ? std::move(*scan->violations) : ForeignKeyViolations(db, schema, t);
    if (!violations.ok()) return violations.status().Annotate("table " + t.name);
    for (const auto& [fkid, f] : *violations) {
      for (const auto& fk : t.foreign_keys) {
        if (fk.id != fkid) continue;
        Note n = TableNote(Severity::kWarning, t.name,
                           "rows break the foreign key to " + fk.ref_table +
                               ": the constraint is kept NOT VALID (new rows are checked, these are not)");
        n.count = f.count;
        n.examples = f.examples;
        plan.notes.push_back(n);
      }
    }
    plan.source_columns[t.name] = {};
    for (const auto& c : t.columns) plan.source_columns[t.name].emplace_back(c.name, c.declared_type);
    plan.tables.push_back(std::move(tm));
    plan.audits[t.name] = std::move(audit);
  }
  if (plan.tables.empty()) {
    plan.notes.push_back(TableNote(Severity::kWarning, "", "no table selected: nothing to migrate"));
  }
  // Full-text indexes stay in SQLite; after the cutover the app's rows change
  // in PostgreSQL, and the reverse stream writes them back with triggers off.
  for (const auto& t : schema.tables) {
    if (t.kind != TableKind::kVirtual || IsSlipwayTable(t.name)) continue;
    std::optional<FtsTable> fts = ParseFts(t.name, t.sql);
    if (!fts) continue;
    const TableMapping* content = fts->external() ? plan.FindTable(*fts->content) : nullptr;
    if (content != nullptr) {
      plan.notes.push_back(TableNote(Severity::kInfo, t.name,
                                     "full-text index of " + content->source +
                                         " (external content): the reverse stream keeps it in step with the rows "
                                         "it writes back"));
    } else {
      const std::string refill =
          fts->external() ? "INSERT INTO \"" + t.name + "\"(\"" + t.name + "\") VALUES('rebuild')"
                          : "delete its rows and fill it again from its source table, as the app's triggers do";
      plan.notes.push_back(TableNote(Severity::kWarning, t.name,
                                     std::string("full-text index (") +
                                         (fts->external() ? "external content, its table not migrated"
                                          : fts->content  ? "contentless"
                                                          : "internal content") +
                                         ") is not kept in step with rows changed in PostgreSQL after the cutover: "
                                         "after a rollback, " + refill));
    }
  }
  plan.ddl = GenerateDdl(schema, plan);
  for (auto& n : RollbackRiskNotes(schema, plan)) plan.notes.push_back(std::move(n));
  return plan;
}

}  // namespace slipway::schema
