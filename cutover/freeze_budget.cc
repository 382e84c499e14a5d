#include "cutover/freeze_budget.h"

#include <sys/socket.h>

#include <algorithm>

namespace slipway::cutover {
namespace {

using Clock = std::chrono::steady_clock;

// How long the watchdog gives the server to answer a cancel before it shuts
// the connections down.
constexpr auto kCancelGrace = std::chrono::milliseconds(150);

}  // namespace

void FreezeBudget::Start(int64_t budget_ms, const std::vector<PgConn*>& conns) {
  Stop();
  deadline_ = Clock::now() + std::chrono::milliseconds(std::max<int64_t>(0, budget_ms));
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
    cancelled_ = false;
  }
  running_ = true;
  for (PgConn* c : conns) {
    if (c != nullptr) Watch(*c);
  }
  thread_ = std::thread([this] { Watchdog(); });
}

void FreezeBudget::Watch(PgConn& conn) {
  if (conn.get() == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  watched_.push_back({&conn, PQgetCancel(conn.get())});
}

void FreezeBudget::Unwatch(PgConn& conn) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = watched_.begin(); it != watched_.end(); ++it) {
    if (it->conn != &conn) continue;
    if (it->cancel != nullptr) PQfreeCancel(it->cancel);
    watched_.erase(it);
    return;
  }
}

void FreezeBudget::Stop() {
  if (!running_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  running_ = false;
  std::vector<Watched> watched;
  {
    std::lock_guard<std::mutex> lock(mu_);
    watched.swap(watched_);
  }
  for (auto& w : watched) {
    if (w.cancel != nullptr) PQfreeCancel(w.cancel);
    PGconn* c = w.conn->get();
    if (c == nullptr || PQstatus(c) != CONNECTION_OK) continue;
    // A statement that failed left its transaction aborted: nothing in it
    // can be kept, and the timeouts only reset outside it.
    if (PQtransactionStatus(c) == PQTRANS_INERROR) (void)w.conn->Run("ROLLBACK");
    if (PQtransactionStatus(c) == PQTRANS_IDLE) (void)w.conn->Run("RESET statement_timeout; RESET lock_timeout");
  }
}

int64_t FreezeBudget::LeftMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
}

bool FreezeBudget::Cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

Status FreezeBudget::Bound(PgConn& conn) {
  const int64_t left = LeftMs();
  if (left <= 0) return Status(Code::kRetryable, "the freeze budget ran out");
  const std::string ms = std::to_string(left) + "ms";
  // SET, not SET LOCAL: the applier commits transactions of its own.
  return conn.Run("SET statement_timeout = '" + ms + "'; SET lock_timeout = '" + ms + "'");
}

void FreezeBudget::Watchdog() {
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_until(lock, deadline_, [this] { return stop_; })) return;
  cancelled_ = true;
  char err[256];
  for (auto& w : watched_) {
    if (w.cancel != nullptr) (void)PQcancel(w.cancel, err, sizeof err);
  }
  if (cv_.wait_until(lock, deadline_ + kCancelGrace, [this] { return stop_; })) return;
  // The server did not answer the cancel: the statement's thread gets an
  // error from its socket and releases the lock.
  for (auto& w : watched_) {
    const int fd = w.conn->get() != nullptr ? PQsocket(w.conn->get()) : -1;
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }
}

bool IsFreezeTimeout(const Status& s) {
  const std::string& m = s.message();
  return m.find("lock timeout") != std::string::npos || m.find("statement timeout") != std::string::npos ||
         m.find("canceling statement due to user request") != std::string::npos;
}

std::string DescribeBlockers(const std::string& target_uri, const std::string& pg_schema, int own_pid) {
  auto conn = PgConn::Connect(target_uri);
  if (!conn.ok()) return "";
  (void)conn->Run("SET statement_timeout = '2s'");
  auto r = conn->ExecParams(
      "SELECT l.pid, coalesce(a.application_name, ''), l.mode, n.nspname || '.' || c.relname, "
      "coalesce(extract(epoch FROM now() - coalesce(a.xact_start, a.query_start))::int, 0), "
      // A query that may carry a secret is not repeated.
      "CASE WHEN a.query ~* '(password|secret)' THEN '(not shown)' "
      "ELSE coalesce(left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80), '') END, coalesce(a.state, '') "
      "FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace "
      "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.granted AND l.pid <> $1 AND n.nspname IN ($2, 'slipway') "
      "ORDER BY l.mode = 'AccessExclusiveLock' DESC, 5 DESC LIMIT 3",
      {std::to_string(own_pid), pg_schema});
  if (!r.ok() || r->Rows() == 0) return "";
  std::string out;
  for (int i = 0; i < r->Rows(); ++i) {
    if (!out.empty()) out += "; ";
    out += "pid " + r->Str(i, 0) + " (application_name '" + r->Str(i, 1) + "'), which holds " + r->Str(i, 2) +
           " on " + r->Str(i, 3) + " (transaction open for " + r->Str(i, 4) + " s";
    if (!r->Str(i, 6).empty()) out += ", " + r->Str(i, 6);
    if (!r->Str(i, 5).empty()) out += ", query: " + r->Str(i, 5);
    out += ")";
  }
  return out;
}

}  // namespace slipway::cutover
