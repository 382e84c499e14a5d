#include "schema/mapping.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

namespace slipway::schema {
namespace {

std::string Upper(const std::string& s) {
  std::string out = s;
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The declared type's base name and (p,s) modifiers: "DECIMAL(4,2)" -> DECIMAL, 4, 2.
struct Decl {
  std::string base;
  int p = -1, s = -1;
};

Decl ParseDecl(const std::string& declared) {
  Decl d;
  std::string u = Upper(declared);
  size_t open = u.find('(');
  d.base = u.substr(0, open);
  while (!d.base.empty() && d.base.back() == ' ') d.base.pop_back();
  if (open != std::string::npos) {
    d.p = std::atoi(u.c_str() + open + 1);
    size_t comma = u.find(',', open);
    if (comma != std::string::npos) d.s = std::atoi(u.c_str() + comma + 1);
  }
  return d;
}

bool Has(const std::string& hay, const char* needle) { return hay.find(needle) != std::string::npos; }

bool IsBoolDecl(const Decl& d) { return d.base == "BOOL" || d.base == "BOOLEAN"; }
bool IsDecimalDecl(const Decl& d) { return Has(d.base, "DECIMAL") || Has(d.base, "NUMERIC") || d.base == "MONEY"; }
bool IsDateDecl(const Decl& d) { return Has(d.base, "DATE") || Has(d.base, "TIME"); }
bool IsJsonDecl(const Decl& d) { return Has(d.base, "JSON"); }

int Digits(int64_t v) {
  if (v == INT64_MIN) return 19;
  v = std::llabs(v);
  int n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

constexpr int64_t kExactDoubleInt = int64_t{1} << 53;

bool IntsExactInDouble(const ColumnAudit& a) {
  return a.integers == 0 || (a.int_min > -kExactDoubleInt && a.int_max < kExactDoubleInt);
}

// The PostgreSQL type for a date/time text format.
PgType TypeForDateFormat(const std::string& format) {
  PgType t;
  bool has_date = format.rfind("YYYY-MM-DD", 0) == 0;
  bool has_time = Has(format, "HH:MM");
  bool zoned = !format.empty() && (format.back() == 'Z' || Has(format, "+HH"));
  if (has_date && !has_time) {
    t.kind = PgKind::kDate;
  } else if (!has_date) {
    t.kind = PgKind::kTime;
  } else {
    t.kind = zoned ? PgKind::kTimestamptz : PgKind::kTimestamp;
  }
  return t;
}

int FractionDigits(const std::string& format) {
  return static_cast<int>(std::count(format.begin(), format.end(), 'f'));
}

Note MakeNote(Severity sev, const Table& t, const Column& c, std::string msg, const Finding* f = nullptr,
              int64_t count = 0) {
  Note n;
  n.severity = sev;
  n.table = t.name;
  n.column = c.name;
  n.message = std::move(msg);
  n.count = count;
  if (f != nullptr) {
    if (n.count == 0) n.count = f->count;
    n.examples = f->examples;
    n.values = f->values;
  }
  return n;
}

std::string ClassSummary(const ColumnAudit& a) {
  std::string out;
  auto add = [&](int64_t n, const char* name) {
    if (n == 0) return;
    if (!out.empty()) out += ", ";
    out += std::to_string(n) + " " + name;
  };
  add(a.integers, "INTEGER");
  add(a.reals, "REAL");
  add(a.texts, "TEXT");
  add(a.blobs, "BLOB");
  return out.empty() ? "no values" : out;
}

void NoticesFor(ColumnMapping& m) {
  switch (m.type.kind) {
    case PgKind::kBoolean:
      m.app_notices.push_back("`col = 1`/`col = 0` and SUM(col) fail on boolean: use TRUE/FALSE or col::int");
      break;
    case PgKind::kDate:
    case PgKind::kTimestamp:
    case PgKind::kTimestamptz:
    case PgKind::kTime:
      if (m.repr == Repr::kUnixSeconds || m.repr == Repr::kUnixMillis) {
        m.app_notices.push_back("comparisons and arithmetic with epoch numbers fail: use to_timestamp()/extract(epoch ...)");
      } else {
        m.app_notices.push_back("string functions (substr, LIKE, strftime) need col::text or to_char(); values come back typed, not as text");
      }
      break;
    case PgKind::kJsonb:
      m.app_notices.push_back("jsonb normalises JSON written later (spacing, key order); LIKE/substr need col::text");
      break;
    case PgKind::kJson:
      m.app_notices.push_back("json has no = operator: WHERE col = ..., DISTINCT, GROUP BY fail; compare col::text");
      break;
    case PgKind::kUuid:
      m.app_notices.push_back("writing text that is not a uuid fails; LIKE needs col::text");
      break;
    case PgKind::kNumeric:
      if (m.type.precision > 0) {
        m.app_notices.push_back("values beyond numeric(" + std::to_string(m.type.precision) + "," +
                                std::to_string(m.type.scale) + ") are rejected (SQLite accepted them)");
      }
      break;
    case PgKind::kBytea:
      if (m.repr == Repr::kTextAsBytes) m.app_notices.push_back("text became bytes: text functions and comparisons with strings fail");
      break;
    default:
      break;
  }
  if (m.type.kind == PgKind::kText || m.type.kind == PgKind::kVarchar) {
    m.app_notices.push_back("LIKE is case-sensitive in PostgreSQL (SQLite's is not for ASCII): use ILIKE");
  }
}

}  // namespace

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kWidened: return "widened";
    case Severity::kWarning: return "warning";
    case Severity::kBlocking: return "blocking";
  }
  return "info";
}

const ColumnMapping* TableMapping::FindSource(const std::string& name) const {
  for (const auto& c : columns) {
    if (c.source == name) return &c;
  }
  return nullptr;
}

bool HoldsTextOrBlob(const ColumnMapping& c) {
  if (c.skip) return false;
  switch (c.type.kind) {
    case PgKind::kBigint:
    case PgKind::kInteger:
    case PgKind::kSmallint:
    case PgKind::kDouble:
    case PgKind::kReal4:
    case PgKind::kNumeric:
    case PgKind::kBoolean: return false;
    case PgKind::kDate:
    case PgKind::kTime:
    case PgKind::kTimestamp:
    case PgKind::kTimestamptz: return c.repr == Repr::kDateText;
    default: return true;
  }
}

bool HoldsTextOrBlob(const TableMapping& t) {
  return std::any_of(t.columns.begin(), t.columns.end(), [](const ColumnMapping& c) { return HoldsTextOrBlob(c); });
}

bool GlobMatch(const std::string& pattern, const std::string& name) {
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool Selected(const std::string& name, const MapOptions& opts) {
  bool in = opts.include.empty();
  for (const auto& g : opts.include) in = in || GlobMatch(g, name);
  if (!in) return false;
  for (const auto& g : opts.exclude) {
    if (GlobMatch(g, name)) return false;
  }
  return true;
}

ColumnMapping MapColumn(const Table& table, const Column& column, const ColumnAudit& a, TypeProfile profile,
                        std::vector<Note>* notes) {
  ColumnMapping m;
  m.source = column.name;
  m.source_decl = column.declared_type;
  m.affinity = column.affinity;
  m.not_null = column.not_null || column.pk_position > 0;
  const Decl decl = ParseDecl(column.declared_type);
  const bool keep = profile == TypeProfile::kKeep;
  const int64_t nonnull = a.NonNull();
  auto set = [&](PgKind kind, Repr repr, std::string reason) {
    m.type = PgType{kind};
    m.repr = repr;
    m.reason = std::move(reason);
  };

  if (a.blobs > 0 && a.blobs < nonnull) {
    set(PgKind::kBytea, Repr::kAnyAsBytes, "mixed BLOB and other values");
    notes->push_back(MakeNote(Severity::kBlocking, table, column,
                              "holds BLOB and non-BLOB values (" + ClassSummary(a) +
                                  "): no PostgreSQL type keeps both; choose bytea or text in a mapping file",
                              &a.mixed));
  } else if (a.blobs > 0) {
    set(PgKind::kBytea, Repr::kNative, "BLOB values");
  } else if (nonnull == 0) {
    // No values to learn from: the declared type decides, conservatively.
    if (!keep && IsBoolDecl(decl)) {
      set(PgKind::kBoolean, Repr::kBool01, "declared " + column.declared_type + ", no values");
    } else if (column.affinity == Affinity::kInteger) {
      set(PgKind::kBigint, Repr::kNative, "declared " + column.declared_type + ", no values");
    } else if (column.affinity == Affinity::kReal) {
      set(PgKind::kDouble, Repr::kNative, "declared " + column.declared_type + ", no values");
    } else if (IsDecimalDecl(decl) && !keep) {
      set(PgKind::kNumeric, Repr::kNumberAsNumeric, "declared " + column.declared_type + ", no values");
      if (decl.p > 0) m.type = PgType{PgKind::kNumeric, decl.p, std::max(decl.s, 0)};
    } else if (Upper(column.declared_type).find("BLOB") != std::string::npos) {
      set(PgKind::kBytea, Repr::kNative, "declared BLOB, no values");
    } else {
      set(PgKind::kText, Repr::kAnyAsText, "no values to learn a format from");
    }
  } else if (a.texts == 0) {
    // Numbers only.
    const bool all_int = a.reals == 0;
    if (all_int && !keep && IsBoolDecl(decl) && a.int_bool == a.integers) {
      set(PgKind::kBoolean, Repr::kBool01, "declared " + column.declared_type + ", every value 0 or 1");
    } else if (all_int && !keep && IsDateDecl(decl) && a.int_epoch_s == a.integers) {
      set(PgKind::kTimestamptz, Repr::kUnixSeconds, "declared " + column.declared_type + ", every value unix seconds");
    } else if (all_int && !keep && IsDateDecl(decl) && a.int_epoch_ms == a.integers) {
      set(PgKind::kTimestamptz, Repr::kUnixMillis, "declared " + column.declared_type + ", every value unix milliseconds");
      m.type.precision = 3;
    } else if (!keep && IsDecimalDecl(decl) && a.real_nonfinite.count == 0) {
      int int_digits = std::max(a.integers > 0 ? std::max(Digits(a.int_min), Digits(a.int_max)) : 0,
                                a.real_max_int_digits);
      set(PgKind::kNumeric, Repr::kNumberAsNumeric, "declared " + column.declared_type);
      if (decl.p > 0) {
        int s = std::max(decl.s, 0);
        if (int_digits <= decl.p - s && a.real_max_frac_digits <= s) {
          m.type = PgType{PgKind::kNumeric, decl.p, s};
        } else {
          m.reason += ", values exceed (" + std::to_string(decl.p) + "," + std::to_string(s) + ")";
          notes->push_back(MakeNote(Severity::kWidened, table, column,
                                    "values need more digits than " + column.declared_type + ": widened to numeric",
                                    nullptr, nonnull));
        }
      }
    } else if (all_int) {
      if (IsBoolDecl(decl) && !keep) {
        notes->push_back(MakeNote(Severity::kWidened, table, column,
                                  "declared " + column.declared_type + " but holds values other than 0/1: kept as bigint",
                                  nullptr, a.integers - a.int_bool));
      }
      set(PgKind::kBigint, Repr::kNative, all_int && column.affinity == Affinity::kInteger
                                              ? "INTEGER values"
                                              : "every value an integer");
    } else if (IntsExactInDouble(a)) {
      set(PgKind::kDouble, Repr::kNative, a.integers > 0 ? "INTEGER and REAL values" : "REAL values");
      if (column.affinity == Affinity::kInteger || column.affinity == Affinity::kNumeric) {
        if (!IsDecimalDecl(decl) || keep) {
          notes->push_back(MakeNote(Severity::kWidened, table, column,
                                    "declared " + column.declared_type + " but holds " + std::to_string(a.reals) +
                                        " REAL values: widened to double precision",
                                    &a.mixed, a.reals));
        }
      }
      if (a.real_nonfinite.count > 0) {
        notes->push_back(MakeNote(Severity::kInfo, table, column, "holds infinite REAL values (kept: double precision has Infinity)",
                                  &a.real_nonfinite));
      }
    } else {
      set(PgKind::kNumeric, Repr::kNumberAsNumeric, "integers beyond 2^53 next to REAL values");
      notes->push_back(MakeNote(Severity::kWidened, table, column,
                                "integers beyond 2^53 and REAL values: widened to numeric", nullptr, nonnull));
    }
  } else if (a.text_invalid_utf8.count > 0 || a.text_nul.count > 0) {
    const Finding& f = a.text_invalid_utf8.count > 0 ? a.text_invalid_utf8 : a.text_nul;
    if (a.texts == nonnull) {
      set(PgKind::kBytea, Repr::kTextAsBytes, "text that PostgreSQL text cannot hold");
      notes->push_back(MakeNote(Severity::kWidened, table, column,
                                std::string("holds text ") +
                                    (a.text_invalid_utf8.count > 0 ? "that is not valid UTF-8" : "with NUL bytes") +
                                    ": widened to bytea (written back as the same text)",
                                &f, a.text_invalid_utf8.count + a.text_nul.count));
    } else {
      set(PgKind::kBytea, Repr::kAnyAsBytes, "invalid text next to numbers");
      notes->push_back(MakeNote(Severity::kBlocking, table, column,
                                "holds invalid UTF-8/NUL text next to numbers (" + ClassSummary(a) +
                                    "): choose bytea in a mapping file",
                                &f));
    }
  } else if (a.texts < nonnull) {
    // Numbers and text mixed: only text holds them all.
    set(PgKind::kText, Repr::kAnyAsText, "mixed " + ClassSummary(a));
    m.app_notices.push_back("numbers became text: comparisons and ORDER BY are textual ('10' < '9'); arithmetic fails");
    notes->push_back(MakeNote(Severity::kWidened, table, column,
                              "declared " + (column.declared_type.empty() ? std::string("without a type") : column.declared_type) +
                                  ", holds " + ClassSummary(a) + ": widened to text",
                              &a.mixed));
    if (column.affinity == Affinity::kBlob && a.text_number > 0) {
      // Written back, a text that reads as a canonical number becomes that
      // number (reverse_codec.h): these texts would not stay text.
      notes->push_back(MakeNote(Severity::kWarning, table, column,
                                "rollback risk: " + std::to_string(a.text_number) +
                                    " text values read as numbers beside real numbers; after a rollback such a text "
                                    "written in PostgreSQL comes back as a number",
                                nullptr, a.text_number));
    }
  } else {
    // Text only.
    int64_t dated = 0;
    for (const auto& [fmt, n] : a.dates.formats) dated += n;
    const bool all_dates = dated == a.texts && a.dates.invalid.count == 0;
    if (!keep && all_dates && a.dates.formats.size() == 1) {
      const std::string& fmt = a.dates.formats.begin()->first;
      PgType t = TypeForDateFormat(fmt);
      if (FractionDigits(fmt) > 6) {
        set(PgKind::kText, Repr::kAnyAsText, "date text with more than microsecond precision");
      } else if (t.kind == PgKind::kTimestamptz && a.dates.offsets.size() != 1) {
        set(PgKind::kText, Repr::kAnyAsText, "timestamps with differing zone offsets");
        notes->push_back(MakeNote(Severity::kWarning, table, column,
                                  "timestamps carry " + std::to_string(a.dates.offsets.size()) +
                                      " different zone offsets; timestamptz would not keep them: kept as text",
                                  nullptr, a.texts));
      } else {
        set(t.kind, Repr::kDateText, "every value '" + fmt + "'");
        m.format = fmt;
        if (t.kind == PgKind::kTimestamptz) m.zone_offset = a.dates.offsets.begin()->first;
      }
    } else if (!keep && all_dates && a.dates.formats.size() > 1) {
      set(PgKind::kText, Repr::kAnyAsText, "date text in several formats");
      std::string list;
      for (const auto& [fmt, n] : a.dates.formats) list += (list.empty() ? "" : ", ") + fmt + " (" + std::to_string(n) + ")";
      notes->push_back(MakeNote(Severity::kWarning, table, column,
                                "date text in " + std::to_string(a.dates.formats.size()) + " formats (" + list +
                                    "): kept as text so each value keeps its form",
                                nullptr, a.texts));
    } else if (!keep && a.uuid_lower == a.texts) {
      set(PgKind::kUuid, Repr::kUuidText, "every value a lower-case uuid");
      m.format = "lower";
    } else if (!keep && a.uuid_upper == a.texts) {
      set(PgKind::kUuid, Repr::kUuidText, "every value an upper-case uuid");
      m.format = "upper";
    } else if (!keep && a.json_valid == a.texts && a.json_jsonb_exact == a.texts) {
      set(PgKind::kJsonb, Repr::kJsonText, "every value a JSON object/array that jsonb prints unchanged");
    } else if (!keep && IsJsonDecl(decl) && a.json_valid + a.json_scalar == a.texts) {
      set(PgKind::kJson, Repr::kJsonText, "JSON text that jsonb would reformat");
    } else {
      set(PgKind::kText, Repr::kNative, "TEXT values");
      if (!keep && a.json_valid == a.texts) {
        m.reason = "JSON text that jsonb would reformat (json/jsonb via a mapping file)";
      }
      if (column.affinity == Affinity::kInteger || column.affinity == Affinity::kReal ||
          (column.affinity == Affinity::kNumeric && !IsDateDecl(decl))) {
        m.repr = Repr::kAnyAsText;
        const bool numeric_decl = column.affinity != Affinity::kNumeric || IsDecimalDecl(decl);
        notes->push_back(MakeNote(numeric_decl ? Severity::kWidened : Severity::kInfo, table, column,
                                  "declared " + column.declared_type + " but every value is text: widened to text",
                                  &a.text_other, a.texts));
      } else if (!keep && IsDateDecl(decl) && dated < a.texts) {
        notes->push_back(MakeNote(Severity::kWarning, table, column,
                                  "declared " + column.declared_type + " but " + std::to_string(a.texts - dated) +
                                      " values are not dates: kept as text",
                                  &a.text_other, a.texts - dated));
      } else if (!keep && IsDateDecl(decl) && a.dates.invalid.count > 0) {
        notes->push_back(MakeNote(Severity::kWarning, table, column,
                                  "holds impossible dates: kept as text", &a.dates.invalid));
      }
    }
  }

  if (column.generated != Generated::kNone) {
    notes->push_back(MakeNote(Severity::kWarning, table, column,
                              "generated column (" + column.generated_expr +
                                  "): copied as a plain column; PostgreSQL will not compute it"));
  }
  if (!column.collation.empty()) {
    notes->push_back(MakeNote(Severity::kWarning, table, column,
                              "COLLATE " + column.collation +
                                  " is not carried over: PostgreSQL compares this column case-sensitively"));
  }
  NoticesFor(m);
  return m;
}

}  // namespace slipway::schema
