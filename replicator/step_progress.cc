#include "replicator/step_progress.h"

#include <unistd.h>

#include <algorithm>

#include "common/log.h"
#include "common/pg.h"
#include "replicator/session.h"

namespace slipway::replicator {

nlohmann::json RowFigures(int64_t rows_done, int64_t rows_total, int64_t rows_this_run, double seconds) {
  const int64_t total = std::max(rows_total, rows_done);
  const double rate = seconds > 0 ? static_cast<double>(std::max<int64_t>(0, rows_this_run)) / seconds : 0.0;
  nlohmann::json j = {{"rows_done", rows_done}, {"rows_total", total}, {"rate", rate}};
  if (rows_done >= total) {
    j["eta_seconds"] = 0.0;
  } else if (rate > 0) {
    j["eta_seconds"] = static_cast<double>(total - rows_done) / rate;
  } else {
    j["eta_seconds"] = nullptr;
  }
  return j;
}

struct StepProgressWriter::Conn {
  PgConn pg;
};

StepProgressWriter::StepProgressWriter(std::string target_uri, std::string step, Sampler sample)
    : target_uri_(std::move(target_uri)), step_(std::move(step)), sample_(std::move(sample)) {}

StepProgressWriter::~StepProgressWriter() {
  if (started_) Stop(false);
}

void StepProgressWriter::Start() {
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void StepProgressWriter::Stop(bool ok) {
  if (!started_) return;
  started_ = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  Write(ok ? "done" : "failed");
}

void StepProgressWriter::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    Write(nullptr);
    lock.lock();
    cv_.wait_for(lock, kPeriod, [this] { return stop_; });
  }
}

void StepProgressWriter::Write(const char* outcome) {
  auto log = Logger("progress");
  if (!conn_) {
    auto pg = PgConn::Connect(target_uri_);
    if (!pg.ok() || !SetupSession(*pg, SessionRole::kReader).ok()) {
      log->debug("step={} progress not written: {}", step_, pg.ok() ? "session setup failed" : pg.status().message());
      return;
    }
    conn_ = std::make_unique<Conn>(Conn{std::move(*pg)});
  }
  const nlohmann::json figures = sample_();
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  auto r = conn_->pg.ExecParams(
      "INSERT INTO slipway.step_progress AS p (step, host, pid, outcome, figures) "
      "VALUES ($1, $2, $3::integer, NULLIF($4, ''), $5::jsonb) "
      "ON CONFLICT (step) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, updated_at = now(), "
      "outcome = EXCLUDED.outcome, figures = EXCLUDED.figures, "
      "started_at = CASE WHEN $6::boolean THEN p.started_at ELSE now() END",
      {step_, host, std::to_string(::getpid()), outcome != nullptr ? outcome : "", figures.dump(),
       written_ ? "true" : "false"});
  if (!r.ok()) {
    // Not there yet (no state schema), or the connection went: the next
    // write connects again.
    log->debug("step={} progress not written: {}", step_, r.status().message());
    conn_.reset();
    return;
  }
  written_ = true;
}

}  // namespace slipway::replicator
