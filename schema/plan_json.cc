// The plan as a JSON document: what `plan --json` prints and `--out` saves,
// and what `--plan FILE` reads back. Also the mapping file reader.
#include <fstream>
#include <sstream>

#include "common/durable_file.h"
#include "schema/plan.h"

namespace slipway::schema {
namespace {

using nlohmann::json;

json NoteJson(const Note& n) {
  json j = {{"severity", SeverityName(n.severity)}, {"table", n.table}, {"message", n.message}};
  if (!n.column.empty()) j["column"] = n.column;
  if (n.count > 0) j["count"] = n.count;
  if (!n.examples.empty()) j["example_keys"] = n.examples;
  if (!n.values.empty()) j["example_values"] = n.values;
  return j;
}

Severity SeverityFrom(const std::string& s) {
  if (s == "blocking") return Severity::kBlocking;
  if (s == "warning") return Severity::kWarning;
  if (s == "widened") return Severity::kWidened;
  return Severity::kInfo;
}

json ColumnJson(const ColumnMapping& c) {
  json j = {{"source", c.source},         {"target", c.target},   {"type", c.type.Sql()},
            {"repr", ReprName(c.repr)},   {"skip", c.skip},       {"not_null", c.not_null},
            {"identity", c.identity},     {"source_type", c.source_decl},
            {"affinity", AffinityName(c.affinity)}, {"reason", c.reason}};
  if (!c.format.empty()) j["format"] = c.format;
  if (!c.zone_offset.empty()) j["zone_offset"] = c.zone_offset;
  if (c.default_sql) j["default"] = *c.default_sql;
  if (!c.app_notices.empty()) j["app_notices"] = c.app_notices;
  if (c.user_override) j["user_override"] = true;
  return j;
}

Result<ColumnMapping> ColumnFrom(const json& j) {
  ColumnMapping c;
  c.source = j.at("source").get<std::string>();
  c.target = j.at("target").get<std::string>();
  ASSIGN_OR_RETURN(c.type, PgType::Parse(j.at("type").get<std::string>()));
  auto repr = ReprFromName(j.at("repr").get<std::string>());
  if (!repr) return InvalidArgument("unknown repr " + j.at("repr").get<std::string>());
  c.repr = *repr;
  c.skip = j.value("skip", false);
  c.not_null = j.value("not_null", false);
  c.identity = j.value("identity", false);
  c.source_decl = j.value("source_type", "");
  c.affinity = AffinityOf(c.source_decl);
  c.reason = j.value("reason", "");
  c.format = j.value("format", "");
  c.zone_offset = j.value("zone_offset", "");
  if (j.contains("default")) c.default_sql = j["default"].get<std::string>();
  if (j.contains("app_notices")) c.app_notices = j["app_notices"].get<std::vector<std::string>>();
  c.user_override = j.value("user_override", false);
  return c;
}

}  // namespace

json PlanToJson(const Plan& plan) {
  json tables = json::array();
  for (const auto& t : plan.tables) {
    json cols = json::array();
    for (const auto& c : t.columns) cols.push_back(ColumnJson(c));
    json jt = {{"source", t.source},
               {"target", t.target},
               {"rows", t.rows},
               {"key", t.key_kind == KeyKind::kRowid ? "rowid" : "primary key"},
               {"key_source", t.key_source},
               {"key_target", t.key_target},
               {"without_rowid", t.without_rowid},
               {"autoincrement", t.autoincrement},
               {"columns", cols}};
    if (t.sqlite_sequence) jt["sqlite_sequence"] = *t.sqlite_sequence;
    tables.push_back(jt);
  }
  json notes = json::array();
  for (const auto& n : plan.notes) notes.push_back(NoteJson(n));
  json ddl = json::array();
  for (const auto& d : plan.ddl) {
    json jd = {{"phase", d.phase == DdlPhase::kPreData ? "pre-data" : "post-data"},
               {"kind", d.kind},
               {"table", d.table},
               {"sql", d.sql},
               {"optional", d.optional},
               {"dropped", d.dropped}};
    if (!d.name.empty()) jd["name"] = d.name;
    if (!d.pg_name.empty()) jd["pg_name"] = d.pg_name;
    ddl.push_back(jd);
  }
  json source_columns = json::object();
  for (const auto& [t, cols] : plan.source_columns) {
    json arr = json::array();
    for (const auto& [name, decl] : cols) arr.push_back(json::array({name, decl}));
    source_columns[t] = arr;
  }
  return {
      {"format_version", plan.format_version},
      {"source", {{"path", plan.source_path}, {"fingerprint", plan.fingerprint}, {"journal_mode", plan.journal_mode}}},
      {"options",
       {{"types", plan.options.profile == TypeProfile::kKeep ? "keep" : "auto"},
        {"names", plan.options.names == NameStyle::kKeep ? "keep" : "lower"},
        {"target_schema", plan.options.target_schema == TargetSchemaMode::kExisting ? "existing" : "create"},
        {"pg_schema", plan.options.pg_schema},
        {"tables", plan.options.include},
        {"exclude", plan.options.exclude}}},
      {"summary",
       {{"tables", plan.tables.size()},
        {"blocking", plan.Count(Severity::kBlocking)},
        {"widened", plan.Count(Severity::kWidened)},
        {"warnings", plan.Count(Severity::kWarning)},
        {"clean", !plan.Blocked()},
        {"ddl_validated", plan.ddl_validated}}},
      {"tables", tables},
      {"notes", notes},
      {"ddl", ddl},
      {"source_columns", source_columns},
  };
}

Result<Plan> PlanFromJson(const json& j) {
  try {
    Plan p;
    p.format_version = j.at("format_version").get<int>();
    if (p.format_version != 1) return InvalidArgument("plan format version " + std::to_string(p.format_version) + " is not supported");
    p.source_path = j.at("source").at("path").get<std::string>();
    p.fingerprint = j.at("source").at("fingerprint").get<std::string>();
    p.journal_mode = j.at("source").value("journal_mode", "");
    const json& o = j.at("options");
    p.options.profile = o.value("types", "auto") == "keep" ? TypeProfile::kKeep : TypeProfile::kAuto;
    p.options.names = o.value("names", "lower") == "keep" ? NameStyle::kKeep : NameStyle::kLower;
    p.options.target_schema = o.value("target_schema", "create") == "existing" ? TargetSchemaMode::kExisting
                                                                               : TargetSchemaMode::kCreate;
    p.options.pg_schema = o.value("pg_schema", "public");
    p.options.include = o.value("tables", std::vector<std::string>{});
    p.options.exclude = o.value("exclude", std::vector<std::string>{});
    p.ddl_validated = j.at("summary").value("ddl_validated", false);
    for (const auto& jt : j.at("tables")) {
      TableMapping t;
      t.source = jt.at("source").get<std::string>();
      t.target = jt.at("target").get<std::string>();
      t.rows = jt.value("rows", int64_t{0});
      t.key_kind = jt.value("key", "primary key") == "rowid" ? KeyKind::kRowid : KeyKind::kPrimaryKey;
      t.key_source = jt.value("key_source", std::vector<std::string>{});
      t.key_target = jt.value("key_target", std::vector<std::string>{});
      t.without_rowid = jt.value("without_rowid", false);
      t.autoincrement = jt.value("autoincrement", false);
      if (jt.contains("sqlite_sequence")) t.sqlite_sequence = jt["sqlite_sequence"].get<int64_t>();
      for (const auto& jc : jt.at("columns")) {
        ASSIGN_OR_RETURN(ColumnMapping c, ColumnFrom(jc));
        t.columns.push_back(std::move(c));
      }
      p.tables.push_back(std::move(t));
    }
    for (const auto& jn : j.at("notes")) {
      Note n;
      n.severity = SeverityFrom(jn.at("severity").get<std::string>());
      n.table = jn.value("table", "");
      n.column = jn.value("column", "");
      n.message = jn.value("message", "");
      n.count = jn.value("count", int64_t{0});
      n.examples = jn.value("example_keys", std::vector<std::string>{});
      n.values = jn.value("example_values", std::vector<std::string>{});
      p.notes.push_back(std::move(n));
    }
    for (const auto& jd : j.at("ddl")) {
      DdlStatement d;
      d.phase = jd.at("phase").get<std::string>() == "pre-data" ? DdlPhase::kPreData : DdlPhase::kPostData;
      d.kind = jd.at("kind").get<std::string>();
      d.table = jd.value("table", "");
      d.name = jd.value("name", "");
      d.pg_name = jd.value("pg_name", "");
      d.sql = jd.at("sql").get<std::string>();
      d.optional = jd.value("optional", false);
      d.dropped = jd.value("dropped", false);
      p.ddl.push_back(std::move(d));
    }
    if (j.contains("source_columns")) {
      for (const auto& [t, arr] : j["source_columns"].items()) {
        for (const auto& pair : arr) p.source_columns[t].emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
      }
    }
    return p;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("plan file is not a slipway plan: ") + e.what());
  }
}

Status SavePlan(const Plan& plan, const std::string& path) {
  return WriteFileDurably(path, PlanToJson(plan).dump(2) + "\n");
}

Result<Plan> LoadPlan(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kIo, "cannot read plan file " + path);
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status(Code::kIo, "plan file " + path + " is not valid JSON");
  auto p = PlanFromJson(j);
  if (!p.ok()) return Status(Code::kIo, p.status().message() + " (" + path + ")");
  return p;
}

Status CheckSchemaUnchanged(const Plan& plan, const SourceSchema& now) {
  if (now.Fingerprint() == plan.fingerprint) return Status::Ok();
  std::vector<std::string> changes;
  for (const auto& [table, cols] : plan.source_columns) {
    const Table* t = now.FindTable(table);
    if (t == nullptr) {
      changes.push_back("table " + table + " no longer exists");
      continue;
    }
    for (const auto& [name, decl] : cols) {
      const Column* c = t->FindColumn(name);
      if (c == nullptr) {
        changes.push_back("column " + table + "." + name + " no longer exists");
      } else if (c->declared_type != decl) {
        changes.push_back("column " + table + "." + name + " changed type from '" + decl + "' to '" + c->declared_type + "'");
      }
    }
    for (const auto& c : t->columns) {
      bool known = false;
      for (const auto& [name, decl] : cols) known = known || name == c.name;
      if (!known) changes.push_back("column " + table + "." + c.name + " was added");
    }
  }
  for (const auto& t : now.tables) {
    if (t.kind == TableKind::kTable && t.name.rfind("_slipway", 0) != 0 && plan.source_columns.count(t.name) == 0 &&
        Selected(t.name, plan.options)) {
      bool skipped_by_plan = false;
      for (const auto& n : plan.notes) skipped_by_plan = skipped_by_plan || (n.table == t.name && n.column.empty());
      if (!skipped_by_plan) changes.push_back("table " + t.name + " was added");
    }
  }
  std::string msg = "the source schema changed since the plan was made";
  if (changes.empty()) {
    msg += " (constraints or indexes differ)";
  } else {
    msg += ": " + changes[0];
    if (changes.size() > 1) msg += " (and " + std::to_string(changes.size() - 1) + " more)";
  }
  return Status(Code::kSchemaChanged, msg + "; run slipway plan again");
}

Result<MappingFile> LoadMappingFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kIo, "cannot read mapping file " + path);
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status(Code::kIo, "mapping file " + path + " is not a JSON object");
  MappingFile mf;
  try {
    const json& tables = j.contains("tables") ? j["tables"] : j;
    for (const auto& [tname, jt] : tables.items()) {
      TableOverride to;
      if (jt.contains("target")) to.target = jt["target"].get<std::string>();
      to.skip = jt.value("skip", false);
      if (jt.contains("columns")) {
        for (const auto& [cname, jc] : jt["columns"].items()) {
          ColumnOverride co;
          if (jc.contains("target")) co.target = jc["target"].get<std::string>();
          if (jc.contains("type")) co.type = jc["type"].get<std::string>();
          co.skip = jc.value("skip", false);
          for (const auto& [k, v] : jc.items()) {
            if (k != "target" && k != "type" && k != "skip") {
              return Status(Code::kIo, "mapping file " + path + ": unknown key '" + k + "' for column " + tname + "." + cname);
            }
          }
          to.columns[cname] = co;
        }
      }
      mf.tables[tname] = std::move(to);
    }
  } catch (const json::exception& e) {
    return Status(Code::kIo, "mapping file " + path + ": " + e.what());
  }
  return mf;
}

}  // namespace slipway::schema
