// lag_bench: how far behind `slipway stream` runs while the app writes, and
// the largest write rate at which that lag stays bounded, on this machine.
//
//   lag_bench [--db FILE] [--rows N] [--rates 1000,2000,4000,8000,16000]
//             [--seconds S] [--step-seconds S] [--sample-ms MS] [--port P]
//             [--root DIR] [--out DIR] [--capture triggers|session]
//
// A throwaway PostgreSQL (deploy/pg-throwaway.sh), a fresh copy of the
// race-timing database, `slipway snapshot`, then one `slipway stream` for the
// whole bench. For each rate in turn, `app_writer --rate R --rows-per-tx 1`
// runs for S seconds (the first rate --seconds, the others --step-seconds)
// while a probe samples the lag every MS milliseconds:
//   1. open a read transaction on the SQLite file (snapshot at t1);
//   2. read applied_seq from slipway.migration in the target (at t2 > t1);
//   3. in the same read transaction, lag = now - ts of the oldest change
//      with seq > applied_seq, or 0 when there is none.
// A change not applied at t2 was not pruned at t1 either (the stream prunes
// only applied changes), so the oldest unapplied change committed before t1
// is always found; changes committed between t1 and t2 are at most t2 - t1
// old. The lag of a change is thus measured from its changelog ts (the
// trigger's julianday('now'), inside the app's transaction) to the moment the
// probe sees it applied, with the sampling interval as resolution.
// After each step the probe waits for the stream to catch up (drain time).
// Stepping stops when the writer reaches less than 90% of the asked rate
// (it cannot go faster on this machine) or the lag was not bounded.
// With --capture session the snapshot captures by session and the writer
// loads slipway's SQLite extension (slipway_capture() before each COMMIT).
// Prints a table and writes OUT/lag_bench.json (lag_bench-session.json).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_process.h"
#include "bench/bench_util.h"
#include "cli/args.h"
#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/session.h"

namespace slipway::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A step's lag is bounded when it grows by less than this per second of run
// (least-squares slope) and the stream drains what is left within kMaxDrain.
constexpr double kMaxSlopeMsPerS = 10.0;
constexpr double kMaxDrainSeconds = 1.0;
constexpr double kWriterShortfall = 0.9;  // below this share of the asked rate, stop stepping


struct Options {
  std::string db;
  int64_t rows = 200000;
  int64_t seed = 1;
  std::vector<int64_t> rates = {1000, 2000, 4000, 8000, 16000};
  double seconds = 30;
  double step_seconds = 20;
  int sample_ms = 20;
  int port = 0;
  std::string root = ".";
  std::string out = "bench/out";
  fs::path bin;
  std::string capture = "triggers";
};

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Samples the lag: see the comment at the top.
class Probe {
 public:
  static Result<Probe> Open(const std::string& source, const std::string& target) {
    Probe p;
    ASSIGN_OR_RETURN(p.db_, Db::Open(source, Db::Mode::kReadOnly));
    ASSIGN_OR_RETURN(p.pg_, PgConn::Connect(target));
    RETURN_IF_ERROR(replicator::SetupSession(p.pg_, replicator::SessionRole::kReader));
    ASSIGN_OR_RETURN(p.newest_, p.db_.Prepare("SELECT max(seq) FROM _slipway_changelog"));
    ASSIGN_OR_RETURN(p.oldest_, p.db_.Prepare("SELECT (julianday('now') - ts) * 86400000.0 FROM _slipway_changelog "
                                              "WHERE seq > ?1 ORDER BY seq LIMIT 1"));
    return p;
  }

  struct Sample {
    double lag_ms = 0;
    int64_t lag_changes = 0;
  };

  Result<Sample> Take() {
    Sample s;
    RETURN_IF_ERROR(db_.Exec("BEGIN"));
    struct End {
      Db& d;
      ~End() { (void)d.Exec("COMMIT"); }
    } end{db_};
    ASSIGN_OR_RETURN(bool row, newest_.Step());
    const int64_t newest = row ? newest_.Int(0) : 0;
    RETURN_IF_ERROR(newest_.Reset());
    ASSIGN_OR_RETURN(PgResult r, pg_.Exec("SELECT applied_seq FROM slipway.migration"));
    const int64_t applied = std::stoll(r.Str(0, 0));
    s.lag_changes = std::max<int64_t>(0, newest - applied);
    oldest_.Bind(1, applied);
    ASSIGN_OR_RETURN(row, oldest_.Step());
    if (row) s.lag_ms = std::max(0.0, oldest_.Real(0));
    RETURN_IF_ERROR(oldest_.Reset());
    return s;
  }

 private:
  Db db_;
  PgConn pg_;
  Stmt newest_, oldest_;
};

struct Step {
  int64_t rate = 0;
  double seconds = 0;
  std::vector<double> t, lag_ms;
  std::vector<int64_t> lag_changes;
  double writer_rate = 0;
  std::string writer_line;
  double drain_seconds = 0;
  double slope_ms_per_s = 0;
  double stream_cpu = 0;  // share of one core
  bool bounded = false;
};

double Slope(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  if (n < 2) return 0;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  const double d = n * sxx - sx * sx;
  return d == 0 ? 0 : (n * sxy - sx * sy) / d;
}

Status RunStep(const Options& o, const std::string& writer, const std::string& source, const std::string& work,
               pid_t stream, Probe& probe, Step& st) {
  const std::string log = work + "/writer.log";
  const double cpu0 = ProcessCpuSeconds(stream);
  const auto t0 = Clock::now();
  std::vector<std::string> argv = {writer, "--db", source, "--rate", std::to_string(st.rate), "--seconds",
                                   std::to_string(st.seconds), "--rows-per-tx", "1", "--seed", std::to_string(st.rate)};
  if (o.capture == "session") {
    argv.push_back("--session-extension");
    argv.push_back(CaptureExtensionPath(o.bin));
  }
  pid_t pid = SpawnProcess(argv, log);
  auto next = t0;
  int status = 0;
  while (!g_stop) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid = 0;
      break;
    }
    ASSIGN_OR_RETURN(Probe::Sample s, probe.Take());
    st.t.push_back(Seconds(t0));
    st.lag_ms.push_back(s.lag_ms);
    st.lag_changes.push_back(s.lag_changes);
    next += std::chrono::milliseconds(o.sample_ms);
    std::this_thread::sleep_until(next);
  }
  if (pid != 0) {
    ::kill(pid, SIGTERM);
    WaitProcess(pid);
    return Internal("interrupted");
  }
  const double cpu_secs = ProcessCpuSeconds(stream) - cpu0;
  const double wall = Seconds(t0);
  st.writer_line = ReadFile(log);
  while (!st.writer_line.empty() && st.writer_line.back() == '\n') st.writer_line.pop_back();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return Internal("app_writer failed: " + st.writer_line);
  const size_t p = st.writer_line.find(" rate=");
  if (p != std::string::npos) st.writer_rate = std::stod(st.writer_line.substr(p + 6));
  // Drain: how long until nothing is left to apply.
  const auto d0 = Clock::now();
  while (!g_stop && Seconds(d0) < 120) {
    ASSIGN_OR_RETURN(Probe::Sample s, probe.Take());
    if (s.lag_changes == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  st.drain_seconds = Seconds(d0);
  st.stream_cpu = cpu_secs / wall;
  st.slope_ms_per_s = Slope(st.t, st.lag_ms);
  st.bounded = st.slope_ms_per_s < kMaxSlopeMsPerS && st.drain_seconds < kMaxDrainSeconds;
  return Status::Ok();
}

Status Run(const Options& o) {
  const std::string slipway = (o.bin / "../slipway").lexically_normal().string();
  const std::string writer = (o.bin / "app_writer").string();
  if (!fs::exists(o.db)) {
    const std::string gen = (o.bin / "gen_racetiming").string();
    std::fprintf(stderr, "[lag_bench] generating %s\n", o.db.c_str());
    fs::create_directories(fs::path(o.db).parent_path());
    if (RunProcess({gen, "--out", o.db, "--rows", std::to_string(o.rows), "--seed", std::to_string(o.seed)},
                   "/dev/null") != 0) {
      return Internal("gen_racetiming failed");
    }
  }
  const std::string work = o.out + "/lag_bench." + std::to_string(::getpid());
  fs::create_directories(work);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { fs::remove_all(dir); }
  } cleanup{work};
  Server server;
  RETURN_IF_ERROR(server.Start(o.root, o.port ? o.port : 56000 + ::getpid() % 1000, "lbench"));
  {
    ASSIGN_OR_RETURN(PgConn admin, PgConn::Connect(server.Uri("postgres")));
    RETURN_IF_ERROR(admin.Run("CREATE DATABASE lag"));
  }
  const std::string source = work + "/source.db";
  fs::copy_file(o.db, source);
  std::fprintf(stderr, "[lag_bench] slipway snapshot\n");
  if (RunProcess({slipway, "snapshot", "--source", source, "--target", server.Uri("lag"), "--capture", o.capture},
                 work + "/snapshot.log") != 0) {
    return Internal("slipway snapshot failed: " + ReadFile(work + "/snapshot.log"));
  }
  pid_t stream = SpawnProcess({slipway, "stream", "--source", source, "--target", server.Uri("lag")}, work + "/stream.log");
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGTERM);
      WaitProcess(pid);
    }
  } reap{stream};
  ASSIGN_OR_RETURN(Probe probe, Probe::Open(source, server.Uri("lag")));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  if (::waitpid(stream, nullptr, WNOHANG) == stream) return Internal("slipway stream exited: " + ReadFile(work + "/stream.log"));

  std::vector<Step> steps;
  for (size_t i = 0; i < o.rates.size() && !g_stop; ++i) {
    Step st;
    st.rate = o.rates[i];
    st.seconds = i == 0 ? o.seconds : o.step_seconds;
    std::fprintf(stderr, "[lag_bench] %lld tx/s for %.0f s\n", static_cast<long long>(st.rate), st.seconds);
    RETURN_IF_ERROR(RunStep(o, writer, source, work, stream, probe, st));
    std::fprintf(stderr, "[lag_bench]   p50 %.1f ms, p99 %.1f ms, max %.1f ms, slope %.2f ms/s, drain %.2f s, %s\n",
                 Percentile(st.lag_ms, 0.5), Percentile(st.lag_ms, 0.99), Percentile(st.lag_ms, 1.0),
                 st.slope_ms_per_s, st.drain_seconds, st.writer_line.c_str());
    steps.push_back(std::move(st));
    const Step& last = steps.back();
    if (!last.bounded || last.writer_rate < kWriterShortfall * static_cast<double>(last.rate)) break;
  }
  if (g_stop) return Internal("interrupted");

  char loadavg[64] = "?";
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fgets(loadavg, sizeof loadavg, f) == nullptr) loadavg[0] = '\0';
    std::fclose(f);
  }
  std::printf("stream lag, app_writer single-row transactions (insert/update/delete 50/40/10) on a %lld-row database,\n"
              "capture by %s,\n",
              static_cast<long long>(o.rows), o.capture.c_str());
  std::printf("lag sampled every %d ms; %ld cores; load average at the end: %s\n", o.sample_ms,
              ::sysconf(_SC_NPROCESSORS_ONLN), loadavg);
  std::printf("%8s %9s %6s %8s %8s %8s %12s %9s %9s %8s  %s\n", "tx/s", "achieved", "secs", "p50 ms", "p99 ms", "max ms",
              "slope ms/s", "drain s", "stream%", "samples", "bounded");
  int64_t best = 0;
  nlohmann::json js = nlohmann::json::array();
  for (const Step& st : steps) {
    std::printf("%8lld %9.0f %6.0f %8.1f %8.1f %8.1f %12.2f %9.2f %8.0f%% %8zu  %s\n", static_cast<long long>(st.rate),
                st.writer_rate, st.seconds, Percentile(st.lag_ms, 0.5), Percentile(st.lag_ms, 0.99),
                Percentile(st.lag_ms, 1.0), st.slope_ms_per_s, st.drain_seconds, 100 * st.stream_cpu, st.lag_ms.size(),
                st.bounded ? "yes" : "NO");
    if (st.bounded) best = std::max(best, static_cast<int64_t>(st.writer_rate));
    js.push_back({{"rate", st.rate},
                  {"seconds", st.seconds},
                  {"writer_rate", st.writer_rate},
                  {"writer", st.writer_line},
                  {"lag_ms", {{"p50", Percentile(st.lag_ms, 0.5)}, {"p99", Percentile(st.lag_ms, 0.99)},
                              {"max", Percentile(st.lag_ms, 1.0)}}},
                  {"max_lag_changes", st.lag_changes.empty() ? 0 : *std::max_element(st.lag_changes.begin(), st.lag_changes.end())},
                  {"slope_ms_per_s", st.slope_ms_per_s},
                  {"drain_seconds", st.drain_seconds},
                  {"stream_cpu_share", st.stream_cpu},
                  {"samples", st.lag_ms.size()},
                  {"bounded", st.bounded},
                  {"series", {{"t", st.t}, {"lag_ms", st.lag_ms}}}});
  }
  const Step& top = steps.back();
  const bool writer_limited = top.bounded && top.writer_rate < kWriterShortfall * static_cast<double>(top.rate);
  std::printf("largest achieved rate with bounded lag: %lld tx/s%s\n", static_cast<long long>(best),
              writer_limited ? " (the writer could not go faster: the stream's limit is higher)"
              : top.bounded  ? " (the highest rate tried)"
                             : "");
  std::printf("bounded = lag slope < %.0f ms/s over the step and drained within %.0f s after the writer stopped\n",
              kMaxSlopeMsPerS, kMaxDrainSeconds);
  nlohmann::json j = {{"bench", "lag_bench"},       {"rows", o.rows}, {"capture", o.capture},
                      {"sample_ms", o.sample_ms},   {"loadavg_at_end", std::string(loadavg)},
                      {"largest_bounded_rate", best}, {"writer_limited", writer_limited},
                      {"steps", js}};
  const std::string json = o.out + (o.capture == "session" ? "/lag_bench-session.json" : "/lag_bench.json");
  std::ofstream(json) << j.dump() << "\n";
  std::fprintf(stderr, "[lag_bench] wrote %s\n", json.c_str());
  return Status::Ok();
}

Status ParseOptions(int argc, char** argv, Options& o) {
  const std::vector<cli::OptionSpec> specs = {{"db", true, ""},   {"rows", true, ""},      {"seed", true, ""},
                                              {"rates", true, ""}, {"seconds", true, ""},   {"step-seconds", true, ""},
                                              {"sample-ms", true, ""}, {"port", true, ""}, {"root", true, ""},
                                              {"out", true, ""}, {"capture", true, ""}};
  ASSIGN_OR_RETURN(cli::Args args, cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc), specs));
  ASSIGN_OR_RETURN(o.rows, ParseInt64("rows", args.GetOr("rows", "200000")));
  ASSIGN_OR_RETURN(o.seed, ParseInt64("seed", args.GetOr("seed", "1")));
  ASSIGN_OR_RETURN(o.seconds, ParseDouble("seconds", args.GetOr("seconds", "30")));
  ASSIGN_OR_RETURN(o.step_seconds, ParseDouble("step-seconds", args.GetOr("step-seconds", "20")));
  ASSIGN_OR_RETURN(int64_t ms, ParseInt64("sample-ms", args.GetOr("sample-ms", "20")));
  ASSIGN_OR_RETURN(int64_t port, ParseInt64("port", args.GetOr("port", "0")));
  o.sample_ms = static_cast<int>(ms);
  o.port = static_cast<int>(port);
  if (args.Has("rates")) {
    o.rates.clear();
    std::string text = *args.Get("rates");
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t comma = text.find(',', pos);
      ASSIGN_OR_RETURN(int64_t r, ParseInt64("rates", text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos)));
      if (r < 1) return InvalidArgument("--rates must be positive");
      o.rates.push_back(r);
      pos = comma == std::string::npos ? text.size() + 1 : comma + 1;
    }
  }
  if (o.rates.empty() || !(o.seconds > 0) || !(o.step_seconds > 0) || o.sample_ms < 1) {
    return InvalidArgument("--rates, --seconds, --step-seconds and --sample-ms must be positive");
  }
  o.root = args.GetOr("root", ".");
  o.capture = args.GetOr("capture", "triggers");
  if (o.capture != "triggers" && o.capture != "session") return InvalidArgument("--capture must be triggers or session");
  o.out = args.GetOr("out", "bench/out");
  o.db = args.GetOr("db", o.out + "/racetiming-r" + std::to_string(o.rows) + "-s" + std::to_string(o.seed) + ".db");
  return ResolveBenchPaths(&o.bin, &o.out, &o.db);
}

}  // namespace
}  // namespace slipway::bench

int main(int argc, char** argv) {
  return slipway::bench::BenchMain<slipway::bench::Options>("lag_bench", argc, argv, slipway::bench::ParseOptions,
                                                           slipway::bench::Run);
}
