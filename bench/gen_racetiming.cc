// gen_racetiming: writes a new SQLite database shaped like a race-timing app
// (events, races, participants, results; schema in bench/racetiming_schema.h)
// for benchmarks and end-to-end tests. The content is a pure function of
// --rows and --seed. The database is built under FILE.partial and renamed to
// FILE only when complete, so FILE is never a half-written database.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/racetiming_data.h"
#include "bench/racetiming_schema.h"
#include "cli/args.h"
#include "common/sqlite.h"

namespace slipway::bench {
namespace {

constexpr int64_t kRowsPerTx = 50000;     // one transaction per this many rows
constexpr int64_t kFirstDay = 16436;      // 2015-01-01
constexpr int64_t kLastDay = 20269;       // 2025-06-30
constexpr int64_t kReferenceDay = 20148;  // "today" for event status: 2025-03-01
constexpr int kCacheKib = 262144;         // page cache while generating: 256 MiB

struct Counts {
  int64_t events = 0, races = 0, participants = 0, results = 0;
};

Counts SplitRows(int64_t n) {
  const int64_t total = kEventsShare + kRacesShare + kParticipantsShare + kResultsShare;
  Counts c;
  c.events = std::max<int64_t>(1, (n * kEventsShare + total / 2) / total);
  c.races = std::max<int64_t>(1, (n * kRacesShare + total / 2) / total);
  c.participants = std::max<int64_t>(1, (n * kParticipantsShare + total / 2) / total);
  c.results = std::max<int64_t>(1, n - c.events - c.races - c.participants);
  return c;
}

std::string Tenths(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", seconds);
  return buf;
}

class Generator {
 public:
  Generator(Db& db, uint64_t seed, Counts counts) : db_(db), rng_(seed), counts_(counts) {}

  Status Run() {
    RETURN_IF_ERROR(db_.Exec("BEGIN"));
    RETURN_IF_ERROR(Events().Annotate("events"));
    RETURN_IF_ERROR(Races().Annotate("races"));
    RETURN_IF_ERROR(Participants().Annotate("participants"));
    RETURN_IF_ERROR(Results().Annotate("results"));
    return db_.Exec("COMMIT");
  }

 private:
  struct Race {
    int distance_m;
    bool finished;
    int64_t start;  // epoch seconds
  };

  // Keeps transactions near kRowsPerTx rows: big enough to be fast, small
  // enough that the WAL stays bounded.
  Status RowDone() {
    if (++rows_in_tx_ < kRowsPerTx) return Status::Ok();
    rows_in_tx_ = 0;
    return db_.Exec("COMMIT; BEGIN");
  }

  Status Events() {
    ASSIGN_OR_RETURN(
        Stmt st,
        db_.Prepare(
            "INSERT INTO events (name, city, country, event_date, status, settings, created_at, "
            "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    const int64_t span = kLastDay - kFirstDay;
    for (int64_t e = 0; e < counts_.events; ++e) {
      const City& city = rng_.Pick(kCities);
      // Dates grow with the id, as they do when organisers add events over time.
      const int64_t day = kFirstDay + e * span / counts_.events + rng_.Range(0, 20);
      std::string status = day < kReferenceDay ? (rng_.Chance(0.04) ? "cancelled" : "finished")
                                               : (rng_.Chance(0.5) ? "open" : "scheduled");
      std::string year = FormatDate(day).substr(0, 4);
      std::string name = std::string(city.name) + " " + rng_.Pick(kEventKinds) + " " + year;
      std::string settings =
          std::string("{\"timezone\":\"") + city.tz +
          "\",\"currency\":\"EUR\",\"chip_timing\":" + (rng_.Chance(0.8) ? "true" : "false") +
          ",\"max_entries\":" + std::to_string(rng_.Range(5, 60) * 100) +
          ",\"categories\":[\"W\",\"M\",\"X\"],\"results_public\":true}";
      int64_t created = (day - rng_.Range(60, 300)) * 86400 + rng_.Range(0, 86399);
      int64_t updated = created + rng_.Range(0, 50) * 86400 + rng_.Range(0, 86399);
      st.Bind(1, name).Bind(2, std::string_view(city.name)).Bind(3, std::string_view(city.country));
      st.Bind(4, FormatDate(day)).Bind(5, status).Bind(6, settings);
      st.Bind(7, FormatTimestamp(created)).Bind(8, FormatTimestamp(updated));
      RETURN_IF_ERROR(st.Run());
      RETURN_IF_ERROR(st.Reset());
      event_days_.push_back(day);
      event_finished_.push_back(status == "finished");
      RETURN_IF_ERROR(RowDone());
    }
    return Status::Ok();
  }

  Status Races() {
    ASSIGN_OR_RETURN(
        Stmt st,
        db_.Prepare("INSERT INTO races (event_id, name, distance_m, start_time, max_participants, "
                    "is_chip_timed, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                    "?6, ?7, ?8, ?9)"));
    for (int64_t r = 0; r < counts_.races; ++r) {
      // Races belong to events in id order (about two per event).
      const int64_t e = r * counts_.events / counts_.races;
      const RaceKind& kind = rng_.Pick(kRaceKinds);
      const int64_t start =
          event_days_[e] * 86400 + rng_.Range(7, 11) * 3600 + rng_.Range(0, 3) * 900;
      const bool finished = event_finished_[e];
      const int64_t created = (event_days_[e] - rng_.Range(30, 200)) * 86400 + rng_.Range(0, 86399);
      st.Bind(1, e + 1).Bind(2, std::string_view(kind.name)).Bind(3, int64_t{kind.distance_m});
      st.Bind(4, FormatTimestamp(start));
      if (rng_.Chance(0.2)) {
        st.BindNull(5);
      } else {
        st.Bind(5, rng_.Range(2, 40) * 100);
      }
      st.Bind(6, int64_t{rng_.Chance(0.9) ? 1 : 0});
      st.Bind(7, std::string_view(finished ? "finished" : "scheduled"));
      st.Bind(8, FormatTimestamp(created)).Bind(9, FormatTimestamp(created + rng_.Range(0, 99999)));
      RETURN_IF_ERROR(st.Run());
      RETURN_IF_ERROR(st.Reset());
      races_.push_back({kind.distance_m, finished, start});
      RETURN_IF_ERROR(RowDone());
    }
    return Status::Ok();
  }

  Status Participants() {
    ASSIGN_OR_RETURN(Stmt st, db_.Prepare("INSERT INTO participants (first_name, last_name, email, "
                                          "birth_date, gender, club, city, "
                                          "is_member, metadata, created_at, updated_at) "
                                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
    for (int64_t p = 0; p < counts_.participants; ++p) {
      std::string first = rng_.Pick(kFirstNames);
      std::string last = rng_.Pick(kLastNames);
      const City& city = rng_.Pick(kCities);
      std::string email =
          first + "." + last + "." + std::to_string(p + 1) + "@" + rng_.Pick(kDomains);
      for (char& ch : email) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string meta = std::string("{\"shirt\":\"") + rng_.Pick(kShirts) +
                         "\",\"newsletter\":" + (rng_.Chance(0.3) ? "true" : "false");
      if (rng_.Chance(0.2))
        meta += ",\"phone\":\"+49 170 " + std::to_string(rng_.Range(1000000, 9999999)) + "\"";
      meta += "}";
      const int64_t created =
          kFirstDay * 86400 + p * (kLastDay - kFirstDay) * 86400 / counts_.participants;
      st.Bind(1, first).Bind(2, last).Bind(3, email);
      if (rng_.Chance(0.05)) {
        st.BindNull(4);
      } else {
        st.Bind(4, FormatDate(rng_.Range(-9131, 12784)));  // 1945-01-01 .. 2004-12-31
      }
      st.Bind(5, std::string_view(rng_.Pick(kGenders)));
      if (rng_.Chance(0.6)) {
        st.BindNull(6);
      } else {
        st.Bind(6, std::string(city.name) + " " + rng_.Pick(kClubs));
      }
      st.Bind(7, std::string_view(city.name)).Bind(8, int64_t{rng_.Chance(0.25) ? 1 : 0});
      if (rng_.Chance(0.5)) {
        st.BindNull(9);
      } else {
        st.Bind(9, meta);
      }
      st.Bind(10, FormatTimestamp(created))
          .Bind(11, FormatTimestamp(created + rng_.Range(0, 9999999)));
      RETURN_IF_ERROR(st.Run());
      RETURN_IF_ERROR(st.Reset());
      RETURN_IF_ERROR(RowDone());
    }
    return Status::Ok();
  }

  Status Results() {
    ASSIGN_OR_RETURN(
        Stmt st,
        db_.Prepare(
            "INSERT INTO results (race_id, participant_id, bib, status, finish_seconds, laps, dnf, "
            "splits, notes, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
            "?10, ?11)"));
    int64_t prev_race = -1;
    int64_t bib = 0;
    for (int64_t i = 0; i < counts_.results; ++i) {
      // Results are grouped by race in id order, bibs numbered from 1 per race.
      const int64_t r = i * counts_.races / counts_.results;
      bib = r == prev_race ? bib + 1 : 1;
      prev_race = r;
      const Race& race = races_[r];
      const int64_t registered = race.start - rng_.Range(1, 120) * 86400 + rng_.Range(0, 86399);
      std::string status = "registered";
      if (race.finished) {
        const double u = rng_.Unit();
        status = u < 0.90 ? "finished" : u < 0.95 ? "dnf" : u < 0.99 ? "dns" : "dq";
      }
      // Timing points every 5 km and at the finish; splits holds the
      // cumulative seconds (tenths) at the points before the finish, laps
      // counts the points passed.
      const int n_splits = (race.distance_m + 4999) / 5000;
      const double pace = 180.0 + rng_.Unit() * 300.0;  // seconds per km
      int passed = 0;
      std::string splits = "[";
      double finish = 0;
      if (status == "finished" || status == "dnf" || status == "dq") {
        passed = status == "dnf" ? static_cast<int>(rng_.Range(0, n_splits - 1)) : n_splits;
        double t = 0;
        for (int s = 1; s <= passed; ++s) {
          const double km = race.distance_m / 1000.0 * s / n_splits;
          t = km * pace * (0.97 + rng_.Unit() * 0.06);
          if (s == n_splits) break;
          if (s > 1) splits += ",";
          splits += Tenths(t);
        }
        finish = static_cast<double>(static_cast<int64_t>(t * 1000)) / 1000.0;
      }
      splits += "]";
      st.Bind(1, r + 1).Bind(2, rng_.Range(1, counts_.participants)).Bind(3, bib).Bind(4, status);
      if (status == "finished" || status == "dq") {
        st.Bind(5, finish);
      } else {
        st.BindNull(5);
      }
      st.Bind(6, int64_t{passed}).Bind(7, int64_t{status == "dnf" ? 1 : 0}).Bind(8, splits);
      if (rng_.Chance(0.03)) {
        st.Bind(9,
                std::string_view(status == "dq" ? "course cut at checkpoint" : "chip read late"));
      } else {
        st.BindNull(9);
      }
      // A result row is written when registered, or for a past race when the
      // finish is recorded; a few are corrected afterwards.
      const int64_t created =
          race.finished ? race.start + rng_.Range(600, 3600) + static_cast<int64_t>(finish)
                        : registered;
      st.Bind(10, FormatTimestamp(created));
      if (rng_.Chance(0.05)) {
        st.Bind(11, FormatTimestamp(created + rng_.Range(60, 999999)));
      } else {
        st.BindNull(11);
      }
      RETURN_IF_ERROR(st.Run());
      RETURN_IF_ERROR(st.Reset());
      RETURN_IF_ERROR(RowDone());
    }
    return Status::Ok();
  }

  Db& db_;
  Rng rng_;
  Counts counts_;
  int64_t rows_in_tx_ = 0;
  std::vector<int64_t> event_days_;
  std::vector<bool> event_finished_;
  std::vector<Race> races_;
};

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Removes a database file and its WAL/shm companions; missing files are fine.
Status RemoveDatabase(const std::string& path) {
  for (const std::string& p : {path, path + "-wal", path + "-shm"}) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
      return IoError("cannot remove " + p + ": " + std::strerror(errno));
    }
  }
  return Status::Ok();
}

Status Generate(const std::string& out, int64_t rows, uint64_t seed, bool force) {
  if (Exists(out) && !force) {
    return Conflict(out + " already exists (use --force to replace it)");
  }
  const std::string partial = out + ".partial";
  RETURN_IF_ERROR(RemoveDatabase(partial));
  const Counts counts = SplitRows(rows);
  const auto t0 = std::chrono::steady_clock::now();
  {
    ASSIGN_OR_RETURN(Db db, Db::OpenOrCreate(partial));
    // WAL is persistent in the file header, so it is set first and stays.
    // synchronous=OFF only while generating: a crash here loses only the
    // .partial file, which is never renamed.
    ASSIGN_OR_RETURN(auto mode, db.QueryText("PRAGMA journal_mode=WAL"));
    if (mode.value_or("") != "wal") return Internal("could not switch " + partial + " to WAL");
    RETURN_IF_ERROR(
        db.Exec("PRAGMA synchronous=OFF; PRAGMA cache_size=-" + std::to_string(kCacheKib)));
    RETURN_IF_ERROR(db.Exec(kRaceTimingTables).Annotate("create tables"));
    Generator gen(db, seed, counts);
    RETURN_IF_ERROR(gen.Run());
    RETURN_IF_ERROR(db.Exec(kRaceTimingIndexes).Annotate("create indexes"));
    // Back to the setting an application would run with; the checkpoint then
    // syncs the database file and truncates the WAL.
    RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=NORMAL"));
    RETURN_IF_ERROR(db.Exec("PRAGMA wal_checkpoint(TRUNCATE)").Annotate("checkpoint"));
  }  // closing the last connection removes the -wal and -shm files
  if (Exists(partial + "-wal")) return Internal(partial + "-wal still present after close");
  // Also drops a stale FILE-wal/-shm, which must not be paired with the new file.
  RETURN_IF_ERROR(RemoveDatabase(out));
  if (std::rename(partial.c_str(), out.c_str()) != 0) {
    return IoError("cannot rename " + partial + " to " + out + ": " + std::strerror(errno));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  struct stat st {};
  ::stat(out.c_str(), &st);
  std::printf(
      "gen_racetiming: out=%s rows=%lld events=%lld races=%lld participants=%lld "
      "results=%lld seed=%llu size_bytes=%lld size_mb=%.1f seconds=%.2f\n",
      out.c_str(), static_cast<long long>(rows), static_cast<long long>(counts.events),
      static_cast<long long>(counts.races), static_cast<long long>(counts.participants),
      static_cast<long long>(counts.results), static_cast<unsigned long long>(seed),
      static_cast<long long>(st.st_size), st.st_size / 1e6, secs);
  return Status::Ok();
}

constexpr const char* kUsage =
    "usage: gen_racetiming --out FILE --rows N [--seed S] [--force]\n"
    "       gen_racetiming --print-schema\n";

int Main(int argc, char** argv) {
  const std::vector<cli::OptionSpec> specs = {
      {"out", true, "database file to create"},
      {"rows", true, "total rows over all tables"},
      {"seed", true, "random seed (default 1)"},
      {"force", false, "replace an existing FILE"},
      {"print-schema", false, "print the schema SQL and exit"},
      {"help", false, "this text"}};
  auto args = cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc), specs);
  if (!args.ok()) {
    std::cerr << "gen_racetiming: " << args.status().message() << "\n" << kUsage;
    return 2;
  }
  if (args->Has("help")) {
    std::cout << kUsage;
    return 0;
  }
  if (args->Has("print-schema")) {
    std::cout << kRaceTimingTables << kRaceTimingIndexes;
    return 0;
  }
  auto out = args->Require("out");
  Result<int64_t> rows = args->Has("rows")
                             ? ParseInt64("rows", *args->Get("rows"))
                             : Result<int64_t>(InvalidArgument("missing required option --rows"));
  auto seed = ParseInt64("seed", args->GetOr("seed", "1"));
  for (const Status& s : {out.status(), rows.status(), seed.status()}) {
    if (!s.ok()) {
      std::cerr << "gen_racetiming: " << s.message() << "\n" << kUsage;
      return 2;
    }
  }
  if (*rows < 4) {
    std::cerr << "gen_racetiming: --rows must be at least 4\n" << kUsage;
    return 2;
  }
  Status s = Generate(*out, *rows, static_cast<uint64_t>(*seed), args->Has("force"));
  if (!s.ok()) {
    std::cerr << "gen_racetiming: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace slipway::bench

int main(int argc, char** argv) { return slipway::bench::Main(argc, argv); }
