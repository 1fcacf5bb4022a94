// tests/support/postgres_server.h — a private PostgreSQL server for a test.
//
// PostgresServer::Start() makes a fresh cluster with initdb in a TempDir and
// runs `postgres` on a free loopback port (TCP on 127.0.0.1 only, its Unix
// socket in the TempDir, fsync off: nothing here needs to survive a crash of
// the machine). The server dies with the test process (setpriv --pdeathsig),
// so a test killed by its timeout leaves none behind; the destructor stops it
// with a fast shutdown and removes its files. Authentication is "trust": any
// role may connect as the superuser "postgres" without a password.
//
// PostgreSQL refuses to run as root. When the test runs as root (containers,
// CI) initdb and postgres run as the `postgres` system user that Debian's
// postgresql package creates (setpriv --reuid/--regid), on a data folder
// chowned to it.
//
// In a test, StartPostgresOrSkip() is the usual entry point: without the
// PostgreSQL server programs it skips the test, except when the environment
// has CI=true, where it fails it (CI must run the PostgreSQL tests).
//
//   class StoreTest : public ::testing::Test {
//     void SetUp() override { pg_ = weir::testing::StartPostgresOrSkip(); }
//     std::unique_ptr<weir::testing::PostgresServer> pg_;
//   };
//   TEST_F(StoreTest, Works) {
//     auto url = pg_->CreateDatabase("store_test");  // a database per test
//     ...
//   }
//
// Threads: a PostgresServer is used from one thread; the server itself
// accepts any number of connections.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "support/test_support.h"
#include "weir/status.h"

namespace weir::testing {

// The folder of the PostgreSQL server programs (initdb, postgres):
// `pg_config --bindir` when it holds them, else the newest
// /usr/lib/postgresql/<version>/bin that does; "" when none is found.
std::string PostgresBinDir();

class PostgresServer {
 public:
  // Creates and starts a cluster; waits (polling with PQping) until it
  // accepts connections, up to 60 s. kNotFound when the server programs are
  // missing (or, as root, the `postgres` user is); kUnavailable with the end
  // of the server's log when it does not come up.
  static Result<std::unique_ptr<PostgresServer>> Start();
  // Fast shutdown (SIGINT to the postmaster), then the files are removed.
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  uint16_t port() const { return port_; }
  // The superuser to connect as ("postgres").
  const std::string& user() const { return user_; }
  // postgresql://postgres@127.0.0.1:PORT/postgres
  std::string url() const { return DatabaseUrl("postgres"); }
  // The URL of database |database| of this server (which may not exist).
  std::string DatabaseUrl(const std::string& database) const;
  // Creates database |name| (lower-case letters, digits and '_'; dropped
  // first when it exists) and returns its URL.
  Result<std::string> CreateDatabase(const std::string& name);
  // The server's log so far (for failure messages).
  std::string Log() const;

 private:
  PostgresServer() = default;
  Status Launch(const std::string& bin_dir, bool as_postgres_user);

  TempDir dir_;
  std::string data_dir_;
  std::string socket_dir_;
  std::string log_path_;
  std::string user_ = "postgres";
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// For a test's SetUp() or body: a started server, or null after
// GTEST_SKIP() (server programs missing, CI unset) or a test failure
// (CI=true, or the server did not start). Callers return when it is null;
// called from SetUp(), gtest then skips the test body by itself.
std::unique_ptr<PostgresServer> StartPostgresOrSkip();

}  // namespace weir::testing
