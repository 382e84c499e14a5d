#pragma once
// The freeze's clock, enforced whatever PostgreSQL does. Each statement
// inside the freeze runs under a statement_timeout and lock_timeout of the
// time left (Bound()), so a table another session holds (ALTER TABLE,
// VACUUM FULL, REINDEX take ACCESS EXCLUSIVE) ends the wait at the deadline.
// A watchdog thread sends a cancel request (PQcancel) to every watched
// connection at the deadline, for a server that does not enforce its own
// timeout, and shuts their sockets down shortly after if the server still
// does not answer: the state machine's thread then gets an error and
// releases the freeze's lock.
// Thread-safety: all methods on the state machine's thread; the watchdog
// only uses cancel handles and sockets.

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/pg.h"
#include "common/status.h"

namespace slipway::cutover {

class FreezeBudget {
 public:
  FreezeBudget() = default;
  FreezeBudget(const FreezeBudget&) = delete;
  FreezeBudget& operator=(const FreezeBudget&) = delete;
  ~FreezeBudget() { Stop(); }

  // Starts the clock and the watchdog for `conns` (more may be watched).
  void Start(int64_t budget_ms, const std::vector<PgConn*>& conns);
  // Cancels at the deadline from now on too. REQUIRES: Start().
  void Watch(PgConn& conn);
  // No longer cancelled or reset (it is about to close).
  void Unwatch(PgConn& conn);
  // Ends the watch; the connections' timeouts are reset (after a failed
  // transaction is rolled back).
  void Stop();

  bool running() const { return running_; }
  int64_t LeftMs() const;
  bool Expired() const { return LeftMs() <= 0; }
  // Whether the watchdog had to cancel a statement.
  bool Cancelled() const;
  // statement_timeout and lock_timeout set to the time left on `conn`; a
  // budget already spent is an error (kRetryable).
  Status Bound(PgConn& conn);

 private:
  struct Watched {
    PgConn* conn;
    PGcancel* cancel;
  };
  void Watchdog();

  std::chrono::steady_clock::time_point deadline_;
  std::vector<Watched> watched_;  // guarded by mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;       // guarded by mu_
  bool cancelled_ = false;  // guarded by mu_
  bool running_ = false;
  std::thread thread_;
};

// Watches a connection opened inside the freeze for its lifetime.
class ScopedFreezeWatch {
 public:
  ScopedFreezeWatch(FreezeBudget& budget, PgConn& conn) : budget_(budget), conn_(conn) {
    if (budget_.running()) budget_.Watch(conn_);
  }
  ~ScopedFreezeWatch() { budget_.Unwatch(conn_); }
  ScopedFreezeWatch(const ScopedFreezeWatch&) = delete;
  ScopedFreezeWatch& operator=(const ScopedFreezeWatch&) = delete;

 private:
  FreezeBudget& budget_;
  PgConn& conn_;
};

// True when a statement failed because the freeze's time ran out (server
// timeouts, a cancel, a socket the watchdog shut).
bool IsFreezeTimeout(const Status& s);

// The sessions that hold a lock the freeze waits for on the migration's
// tables or slipway's state (pid, application_name, mode, table, how long,
// the query cut short), read from pg_locks and pg_stat_activity on a
// connection of its own; empty when none holds one now.
std::string DescribeBlockers(const std::string& target_uri, const std::string& pg_schema, int own_pid);

}  // namespace slipway::cutover
