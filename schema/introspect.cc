#include "schema/introspect.h"

#include <algorithm>
#include <array>
#include <map>
#include <utility>

#include "schema/create_sql.h"
#include "schema/sql_lexer.h"

namespace slipway::schema {

namespace {

// One row of sqlite_schema, with its position so that indexes can be listed
// in creation order.
struct SchemaRow {
  std::string type;
  std::string name;
  std::string tbl_name;
  std::string sql;  // NULL (automatic indexes) reads as ""
  int64_t position = 0;
};

// What PRAGMA table_list says about one table (SQLite 3.37+).
struct TableListEntry {
  std::string type;  // "table", "virtual", "shadow", "view"
  bool without_rowid = false;
  bool strict = false;
};

// Holds one read transaction for the whole introspection when the caller has
// none, so that every query sees the same schema even while another process
// writes to the live file. A caller's own transaction is left alone.
class ReadTransaction {
 public:
  explicit ReadTransaction(Db& db) : db_(db) {}
  ~ReadTransaction() {
    // Only reads happened: COMMIT cannot lose anything, and on failure the
    // connection is closed or reused by a caller that will see the error.
    if (open_) (void)db_.Exec("COMMIT");
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

  Status Begin() {
    if (sqlite3_get_autocommit(db_.get()) == 0) return Status::Ok();
    RETURN_IF_ERROR(db_.Exec("BEGIN"));
    open_ = true;
    return Status::Ok();
  }

 private:
  Db& db_;
  bool open_ = false;
};

Result<std::vector<SchemaRow>> ReadSchemaRows(Db& db) {
  ASSIGN_OR_RETURN(Stmt st,
                   db.Prepare("SELECT type, name, tbl_name, sql, rowid FROM main.sqlite_schema ORDER BY rowid"));
  std::vector<SchemaRow> rows;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    rows.push_back({st.Text(0), st.Text(1), st.Text(2), st.Text(3), st.Int(4)});
  }
  return rows;
}

// Empty when the pragma is missing (SQLite < 3.37) or fails: the callers then
// fall back to parsing the CREATE text and to shadow-table names.
std::map<std::string, TableListEntry> ReadTableList(Db& db) {
  std::map<std::string, TableListEntry> out;
  auto st = db.Prepare("SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'");
  if (!st.ok()) return out;
  while (true) {
    auto row = st->Step();
    if (!row.ok()) return {};
    if (!*row) break;
    out[st->Text(0)] = {st->Text(1), st->Int(2) != 0, st->Int(3) != 0};
  }
  return out;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// The shadow-table suffixes each virtual table module creates.
bool IsKnownShadowSuffix(const std::string& module, std::string_view suffix) {
  static const std::map<std::string, std::vector<std::string_view>> kSuffixes = {
      {"fts5", {"data", "idx", "content", "docsize", "config"}},
      {"fts4", {"content", "segments", "segdir", "docsize", "stat"}},
      {"fts3", {"content", "segments", "segdir", "docsize", "stat"}},
      {"rtree", {"node", "rowid", "parent"}},
      {"rtree_i32", {"node", "rowid", "parent"}},
      {"geopoly", {"node", "rowid", "parent"}},
  };
  auto it = kSuffixes.find(module);
  if (it == kSuffixes.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(),
                     [&](std::string_view s) { return EqualsIgnoreCase(s, suffix); });
}

// Sets kind, virtual_module and shadow_of for every table. SQLite names a
// shadow table "<virtual table>_<suffix>" and splits at the last '_'.
void ClassifyTables(std::vector<Table>& tables, const std::map<std::string, TableListEntry>& table_list) {
  for (Table& t : tables) {
    if (StartsWithIgnoreCase(t.name, "sqlite_")) {
      t.kind = TableKind::kInternal;
    } else {
      t.virtual_module = ParseVirtualModule(t.sql);
      if (!t.virtual_module.empty()) t.kind = TableKind::kVirtual;
    }
  }
  for (Table& t : tables) {
    if (t.kind != TableKind::kTable) continue;
    auto listed = table_list.find(t.name);
    bool pragma_says_shadow = listed != table_list.end() && listed->second.type == "shadow";
    size_t cut = t.name.rfind('_');
    if (cut == std::string::npos || cut == 0) {
      if (pragma_says_shadow) t.kind = TableKind::kShadow;
      continue;
    }
    std::string_view owner_name = std::string_view(t.name).substr(0, cut);
    std::string_view suffix = std::string_view(t.name).substr(cut + 1);
    auto owner = std::find_if(tables.begin(), tables.end(), [&](const Table& v) {
      return v.kind == TableKind::kVirtual && EqualsIgnoreCase(v.name, owner_name);
    });
    bool known = owner != tables.end() && IsKnownShadowSuffix(owner->virtual_module, suffix);
    if (!pragma_says_shadow && !known) continue;
    t.kind = TableKind::kShadow;
    if (owner != tables.end()) t.shadow_of = owner->name;
  }
}

// Columns from PRAGMA table_xinfo, with what only the CREATE text says.
Status ReadColumns(Db& db, Table& t, const ParsedTable& parsed) {
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT cid, name, type, \"notnull\", dflt_value, pk, hidden "
                                       "FROM pragma_table_xinfo(?1, 'main') ORDER BY cid"));
  st.Bind(1, t.name);
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    Column c;
    c.cid = static_cast<int>(st.Int(0));
    c.name = st.Text(1);
    c.declared_type = st.Text(2);
    c.affinity = AffinityOf(c.declared_type);
    c.not_null = st.Int(3) != 0;
    c.default_sql = st.OptText(4);
    c.pk_position = static_cast<int>(st.Int(5));
    switch (st.Int(6)) {
      case 1: c.hidden = true; break;
      case 2: c.generated = Generated::kVirtual; break;
      case 3: c.generated = Generated::kStored; break;
      default: break;
    }
    for (const ParsedColumn& p : parsed.columns) {
      if (!EqualsIgnoreCase(p.name, c.name)) continue;
      c.collation = p.collation;
      if (c.generated != Generated::kNone) c.generated_expr = p.generated_expr;
      break;
    }
    t.columns.push_back(std::move(c));
  }
  std::vector<const Column*> key;
  for (const Column& c : t.columns) {
    if (c.pk_position > 0) key.push_back(&c);
  }
  std::sort(key.begin(), key.end(), [](const Column* a, const Column* b) { return a->pk_position < b->pk_position; });
  for (const Column* c : key) t.primary_key.push_back(c->name);
  return Status::Ok();
}

FkAction ActionOf(std::string_view s) {
  if (EqualsIgnoreCase(s, "RESTRICT")) return FkAction::kRestrict;
  if (EqualsIgnoreCase(s, "SET NULL")) return FkAction::kSetNull;
  if (EqualsIgnoreCase(s, "SET DEFAULT")) return FkAction::kSetDefault;
  if (EqualsIgnoreCase(s, "CASCADE")) return FkAction::kCascade;
  return FkAction::kNoAction;
}

bool SameNames(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) { return EqualsIgnoreCase(x, y); });
}

// Foreign keys from PRAGMA foreign_key_list; DEFERRABLE and the constraint
// name from the parsed clause with the same columns and referenced table.
Status ReadForeignKeys(Db& db, Table& t, const ParsedTable& parsed) {
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT id, \"table\", \"from\", \"to\", on_update, on_delete "
                                       "FROM pragma_foreign_key_list(?1, 'main') ORDER BY id, seq"));
  st.Bind(1, t.name);
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    int id = static_cast<int>(st.Int(0));
    if (t.foreign_keys.empty() || t.foreign_keys.back().id != id) {
      ForeignKey fk;
      fk.id = id;
      fk.ref_table = st.Text(1);
      fk.on_update = ActionOf(st.TextView(4));
      fk.on_delete = ActionOf(st.TextView(5));
      t.foreign_keys.push_back(std::move(fk));
    }
    ForeignKey& fk = t.foreign_keys.back();
    fk.columns.push_back(st.Text(2));
    // "to" is NULL when the clause names no columns: the referenced PK.
    if (!st.IsNull(3)) fk.ref_columns.push_back(st.Text(3));
  }
  std::vector<bool> used(parsed.foreign_keys.size(), false);
  for (ForeignKey& fk : t.foreign_keys) {
    for (size_t i = 0; i < parsed.foreign_keys.size(); ++i) {
      const ParsedForeignKey& p = parsed.foreign_keys[i];
      if (used[i] || !SameNames(p.columns, fk.columns) || !EqualsIgnoreCase(p.ref_table, fk.ref_table)) continue;
      used[i] = true;
      fk.deferrable = p.deferrable;
      fk.initially_deferred = p.initially_deferred;
      fk.name = p.name;
      break;
    }
  }
  return Status::Ok();
}

IndexOrigin OriginOf(std::string_view origin) {
  if (origin == "u") return IndexOrigin::kUnique;
  if (origin == "pk") return IndexOrigin::kPrimaryKey;
  return IndexOrigin::kCreateIndex;
}

Status ReadIndexColumns(Db& db, Index& ix) {
  ParsedIndex parsed = ParseCreateIndex(ix.sql);
  if (ix.partial) ix.where_sql = parsed.where_sql;
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT seqno, cid, name, \"desc\", coll "
                                       "FROM pragma_index_xinfo(?1, 'main') WHERE key ORDER BY seqno"));
  st.Bind(1, ix.name);
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    IndexColumn c;
    size_t seqno = static_cast<size_t>(st.Int(0));
    int64_t cid = st.Int(1);
    if (cid == -2) {  // an expression: only the CREATE INDEX text has it
      if (seqno < parsed.terms.size()) c.expr = parsed.terms[seqno];
    } else if (cid == -1) {
      c.name = "rowid";
    } else {
      c.name = st.Text(2);
    }
    c.desc = st.Int(3) != 0;
    std::string coll = st.Text(4);
    c.collation = EqualsIgnoreCase(coll, "BINARY") ? "" : AsciiUpper(coll);
    ix.columns.push_back(std::move(c));
  }
  return Status::Ok();
}

Status ReadIndexes(Db& db, Table& t, const std::map<std::string, const SchemaRow*>& index_rows) {
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1, 'main')"));
  st.Bind(1, t.name);
  std::vector<std::pair<int64_t, Index>> found;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    Index ix;
    ix.name = st.Text(0);
    ix.unique = st.Int(1) != 0;
    ix.origin = OriginOf(st.TextView(2));
    ix.partial = st.Int(3) != 0;
    // The primary key of a WITHOUT ROWID table is the table itself and has
    // no sqlite_schema row: it sorts first, as it was made with the table.
    int64_t position = -1;
    auto it = index_rows.find(ix.name);
    if (it != index_rows.end()) {
      ix.sql = it->second->sql;
      position = it->second->position;
    }
    RETURN_IF_ERROR(ReadIndexColumns(db, ix).Annotate("index " + QuoteSqliteIdent(ix.name)));
    found.emplace_back(position, std::move(ix));
  }
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [position, ix] : found) t.indexes.push_back(std::move(ix));
  return Status::Ok();
}

// The single INTEGER PRIMARY KEY column of a rowid table. SQLite makes no
// separate primary-key index for an alias, so a 'pk' index means "not an
// alias" (INTEGER PRIMARY KEY DESC written as a column constraint is one).
std::string RowidAlias(const Table& t, const ParsedTable& parsed) {
  if (t.without_rowid || t.kind == TableKind::kVirtual || t.primary_key.size() != 1) return "";
  const Column* c = t.FindColumn(t.primary_key[0]);
  if (c == nullptr || !EqualsIgnoreCase(c->declared_type, "INTEGER")) return "";
  for (const Index& ix : t.indexes) {
    if (ix.origin == IndexOrigin::kPrimaryKey) return "";
  }
  for (const ParsedColumn& p : parsed.columns) {
    if (EqualsIgnoreCase(p.name, c->name) && p.primary_key_desc) return "";
  }
  return c->name;
}

Status ReadTable(Db& db, Table& t, const std::map<std::string, TableListEntry>& table_list,
                 const std::map<std::string, const SchemaRow*>& index_rows, Stmt* sequence) {
  if (t.kind == TableKind::kVirtual) {
    // Needs the module; a module this SQLite lacks must not stop the rest.
    if (!ReadColumns(db, t, ParsedTable{}).ok()) t.columns.clear();
    return Status::Ok();
  }
  ParsedTable parsed = ParseCreateTable(t.sql);
  auto listed = table_list.find(t.name);
  if (listed != table_list.end()) {
    t.without_rowid = listed->second.without_rowid;
    t.strict = listed->second.strict;
  } else {
    t.without_rowid = parsed.without_rowid;
    t.strict = parsed.strict;
  }
  t.autoincrement = parsed.autoincrement;
  t.checks = parsed.checks;
  RETURN_IF_ERROR(ReadColumns(db, t, parsed));
  RETURN_IF_ERROR(ReadForeignKeys(db, t, parsed));
  RETURN_IF_ERROR(ReadIndexes(db, t, index_rows));
  t.rowid_alias = RowidAlias(t, parsed);
  if (sequence != nullptr) {
    RETURN_IF_ERROR(sequence->Reset());
    sequence->Bind(1, t.name);
    ASSIGN_OR_RETURN(bool row, sequence->Step());
    if (row && !sequence->IsNull(0)) t.sqlite_sequence = sequence->Int(0);
  }
  return Status::Ok();
}

Status ReadFileSettings(Db& db, SourceSchema& s) {
  // Without an argument these pragmas only read, on any connection.
  ASSIGN_OR_RETURN(auto journal, db.QueryText("PRAGMA main.journal_mode"));
  ASSIGN_OR_RETURN(auto encoding, db.QueryText("PRAGMA main.encoding"));
  ASSIGN_OR_RETURN(auto page_size, db.QueryInt("PRAGMA main.page_size"));
  ASSIGN_OR_RETURN(auto page_count, db.QueryInt("PRAGMA main.page_count"));
  ASSIGN_OR_RETURN(auto schema_version, db.QueryInt("PRAGMA main.schema_version"));
  ASSIGN_OR_RETURN(auto user_version, db.QueryInt("PRAGMA main.user_version"));
  ASSIGN_OR_RETURN(auto foreign_keys, db.QueryInt("PRAGMA foreign_keys"));
  s.journal_mode = journal.value_or("");
  s.encoding = encoding.value_or("");
  s.page_size = page_size.value_or(0);
  s.page_count = page_count.value_or(0);
  s.schema_version = schema_version.value_or(0);
  s.user_version = user_version.value_or(0);
  s.foreign_keys_enforced = foreign_keys.value_or(0) != 0;
  return Status::Ok();
}

}  // namespace

Result<SourceSchema> Introspect(Db& db) {
  ReadTransaction txn(db);
  RETURN_IF_ERROR(txn.Begin().Annotate("introspect " + db.path()));
  SourceSchema s;
  s.path = db.path();
  RETURN_IF_ERROR(ReadFileSettings(db, s).Annotate("introspect " + db.path()));
  ASSIGN_OR_RETURN(std::vector<SchemaRow> rows, ReadSchemaRows(db));
  std::map<std::string, const SchemaRow*> index_rows;
  bool has_sequence = false;
  for (const SchemaRow& r : rows) {
    if (r.type == "table") {
      Table t;
      t.name = r.name;
      t.sql = r.sql;
      has_sequence = has_sequence || r.name == "sqlite_sequence";
      s.tables.push_back(std::move(t));
    } else if (r.type == "index") {
      index_rows[r.name] = &r;
    } else if (r.type == "view") {
      s.views.push_back({r.name, r.sql});
    } else if (r.type == "trigger") {
      s.triggers.push_back({r.name, r.tbl_name, r.sql});
    }
  }
  std::map<std::string, TableListEntry> table_list = ReadTableList(db);
  ClassifyTables(s.tables, table_list);
  std::optional<Stmt> sequence;
  if (has_sequence) {
    ASSIGN_OR_RETURN(sequence, db.Prepare("SELECT seq FROM main.sqlite_sequence WHERE name = ?1"));
  }
  for (Table& t : s.tables) {
    Stmt* seq = sequence.has_value() && t.kind != TableKind::kInternal ? &*sequence : nullptr;
    RETURN_IF_ERROR(ReadTable(db, t, table_list, index_rows, seq).Annotate("table " + QuoteSqliteIdent(t.name)));
  }
  return s;
}

}  // namespace slipway::schema
