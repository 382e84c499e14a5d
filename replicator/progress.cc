#include "replicator/progress.h"

#include <algorithm>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "common/count_format.h"
#include "common/log.h"
#include "replicator/step_progress.h"

namespace slipway::replicator {
namespace {

const char* StateName(int s) {
  switch (s) {
    case 0: return "waiting";
    case 1: return "copying";
    case 2: return "indexing";
    case 3: return "done";
    default: return "done before";
  }
}

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

TableProgress* Progress::Register(const std::string& name, int64_t total_rows) {
  auto t = std::make_unique<TableProgress>();
  t->name = name;
  t->total_rows = total_rows;
  tables_.push_back(std::move(t));
  return tables_.back().get();
}

void Progress::Start() {
  start_ = std::chrono::steady_clock::now();
  for (const auto& t : tables_) rows_at_start_ += t->rows.load();
  if (mode_ == ProgressMode::kQuiet) return;
  thread_ = std::thread([this] { Loop(); });
}

void Progress::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (mode_ != ProgressMode::kQuiet) Draw(true);
}

void Progress::Event(const std::string& json_line) {
  if (mode_ != ProgressMode::kJson) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::fprintf(stdout, "%s\n", json_line.c_str());
  std::fflush(stdout);
}

nlohmann::json Progress::Figures() const {
  const auto now = std::chrono::steady_clock::now();
  int64_t rows = 0, total = 0;
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& t : tables_) {
    const int state = t->state.load();
    const int64_t done = t->rows.load();
    rows += done;
    total += std::max(t->total_rows, done);
    // A table's rate is that of its copy while it runs; once its rows are
    // in, nothing is left and no rate is shown.
    const double secs = state == 1 ? Seconds(now - t->started) : 0;
    nlohmann::json f = RowFigures(done, state >= 2 ? done : t->total_rows, state == 1 ? done : 0, secs);
    f["table"] = t->name;
    f["state"] = StateName(state);
    tables.push_back(std::move(f));
  }
  nlohmann::json j = RowFigures(rows, total, rows - rows_at_start_, Seconds(now - start_));
  j["elapsed_seconds"] = Seconds(now - start_);
  j["tables"] = std::move(tables);
  return j;
}

void Progress::Loop() {
  const auto period = mode_ == ProgressMode::kTerminal ? std::chrono::milliseconds(250) : std::chrono::seconds(5);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, period, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    Draw(false);
    lock.lock();
  }
}

void Progress::Draw(bool final) {
  const double elapsed = Seconds(std::chrono::steady_clock::now() - start_);
  int64_t rows = 0, total = 0, bytes = 0;
  for (const auto& t : tables_) {
    rows += t->rows.load();
    total += t->total_rows;
    bytes += t->bytes.load();
  }
  if (mode_ == ProgressMode::kJson) {
    nlohmann::json j = {{"event", final ? "snapshot_progress_final" : "snapshot_progress"},
                        {"elapsed_s", elapsed},
                        {"rows", rows},
                        {"rows_expected", std::max(total, rows)},
                        {"bytes", bytes}};
    nlohmann::json tables = nlohmann::json::array();
    for (const auto& t : tables_) {
      tables.push_back({{"table", t->name}, {"state", StateName(t->state.load())}, {"rows", t->rows.load()},
                        {"rows_expected", std::max(t->total_rows, t->rows.load())}});
    }
    j["tables"] = tables;
    Event(j.dump());
    return;
  }
  if (mode_ == ProgressMode::kLog) {
    // The plan's count is an estimate taken earlier: never below what is done.
    const int64_t of = std::max(total, rows);
    const double rate = elapsed > 0 ? static_cast<double>(rows) / elapsed : 0;
    // Tables per state: once every row is copied, the indexes, keys and
    // foreign keys of the tables still "indexing" are what is left.
    int copying = 0, indexing = 0, done = 0;
    for (const auto& t : tables_) {
      const int st = t->state.load();
      copying += st == 1;
      indexing += st == 2;
      done += st >= 3;
    }
    Logger("snapshot")->info(
        "progress rows={} of={} mb={:.1f} elapsed_s={:.1f} rows_per_s={:.0f} eta_s={:.0f} tables_copying={} "
        "tables_indexing={} tables_done={} of_tables={}",
        rows, of, bytes / 1e6, elapsed, rate, rate > 0 ? static_cast<double>(of - rows) / rate : 0.0, copying, indexing,
        done, tables_.size());
    return;
  }
  // Terminal: redraw one line per table plus a total, in place.
  std::string out;
  if (lines_drawn_ > 0) out += "\033[" + std::to_string(lines_drawn_) + "F";
  int lines = 0;
  auto line = [&](const std::string& name, const char* state, int64_t r, int64_t tot, int64_t b, double secs) {
    double rate = secs > 0 ? b / 1e6 / secs : 0;
    double left = (r > 0 && tot > r && secs > 0) ? secs * (static_cast<double>(tot - r) / r) : 0;
    char buf[256];
    std::snprintf(buf, sizeof buf, "\033[K  %-28.28s %-11s %15s / %-15s %7.1f MB/s  ETA %5.0fs\n", name.c_str(),
                  state, FormatCount(r).c_str(), FormatCount(std::max(tot, r)).c_str(), rate, left);
    out += buf;
    ++lines;
  };
  for (const auto& t : tables_) {
    double secs = t->state.load() >= 1 ? Seconds(std::chrono::steady_clock::now() - t->started) : 0;
    line(t->name, StateName(t->state.load()), t->rows.load(), t->total_rows, t->bytes.load(), secs);
  }
  line("TOTAL", final ? "finished" : "", rows, total, bytes, elapsed);
  lines_drawn_ = lines;
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace slipway::replicator
