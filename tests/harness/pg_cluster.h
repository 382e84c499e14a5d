#pragma once
// A throwaway PostgreSQL cluster for one test binary run: initdb into a temp
// folder (as the postgres user when run as root), unix socket in that folder,
// its own port, fsync on. Stopped and removed in the destructor, and by a
// reaper process if this process dies without running destructors.
// Thread-safety: create and destroy from one thread; the URIs are plain data.

#include <string>

#include "common/status.h"

namespace slipway::testing {

class PgCluster {
 public:
  // Starts a cluster. Returns an error when PostgreSQL cannot be started.
  static Result<PgCluster*> Start();
  ~PgCluster();

  const std::string& dir() const { return dir_; }
  int port() const { return port_; }
  // URI of the maintenance database as superuser.
  std::string AdminUri() const { return UriFor("postgres"); }
  std::string UriFor(const std::string& dbname, const std::string& user = "postgres") const;
  // Creates an empty database with a unique name and returns its URI.
  Result<std::string> CreateDatabase(const std::string& prefix = "t");
  // Stops the server (immediate), e.g. to test an unreachable target.
  Status StopServer();
  Status StartServer();

 private:
  PgCluster() = default;
  std::string dir_;
  int port_ = 0;
  int reaper_fd_ = -1;
  int next_db_ = 0;
};

}  // namespace slipway::testing
