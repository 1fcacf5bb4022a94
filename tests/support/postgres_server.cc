#include "support/postgres_server.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kSystemUser = "postgres";

bool HasServerPrograms(const std::string& dir) {
  return !dir.empty() && access((dir + "/initdb").c_str(), X_OK) == 0 &&
         access((dir + "/postgres").c_str(), X_OK) == 0;
}

// |s| quoted for /bin/sh.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string ShellJoin(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    out += ShellQuote(a);
  }
  return out;
}

// The prefix that runs a program as the postgres system user.
std::vector<std::string> AsPostgresUser() {
  return {"/usr/bin/setpriv", std::string("--reuid=") + kSystemUser,
          std::string("--regid=") + kSystemUser, "--init-groups"};
}

// True while |pid| exists and is not a zombie.
bool ProcessRunning(pid_t pid) {
  const std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  return stat[paren + 2] != 'Z' && stat[paren + 2] != 'X';
}

// The last |lines| lines of |text|.
std::string Tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

}  // namespace

std::string PostgresBinDir() {
  const CommandResult r = RunCommand({"pg_config", "--bindir"}, {}, seconds(10));
  if (r.exit_code == 0) {
    std::string dir = r.out;
    while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
    if (HasServerPrograms(dir)) return dir;
  }
  // Debian's layout: the newest version that has the server installed.
  std::vector<std::string> candidates;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string dir = entry.path().string() + "/bin";
    if (HasServerPrograms(dir)) candidates.push_back(dir);
  }
  if (candidates.empty()) return "";
  std::sort(candidates.begin(), candidates.end(), [](const std::string& a, const std::string& b) {
    // "/usr/lib/postgresql/15/bin" after ".../9/bin": compare the versions.
    auto version = [](const std::string& p) {
      const std::string v = fs::path(p).parent_path().filename().string();
      return std::atof(v.c_str());
    };
    return version(a) < version(b);
  });
  return candidates.back();
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  const std::string bin_dir = PostgresBinDir();
  if (bin_dir.empty()) {
    return Status::NotFound(
        "the PostgreSQL server programs (initdb, postgres) are not installed: neither "
        "`pg_config --bindir` nor /usr/lib/postgresql/*/bin has them (Debian: apt-get install "
        "postgresql)");
  }
  const bool as_postgres_user = geteuid() == 0;
  if (as_postgres_user) {
    if (getpwnam(kSystemUser) == nullptr) {
      return Status::NotFound(
          "running as root, and PostgreSQL refuses root: the `postgres` system user that would "
          "run the server does not exist (Debian's postgresql package creates it)");
    }
    if (access("/usr/bin/setpriv", X_OK) != 0) {
      return Status::NotFound(
          "running as root needs /usr/bin/setpriv to run PostgreSQL as the "
          "`postgres` user, and it is missing");
    }
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  WEIR_RETURN_IF_ERROR(server->Launch(bin_dir, as_postgres_user));
  return server;
}

Status PostgresServer::Launch(const std::string& bin_dir, bool as_postgres_user) {
  data_dir_ = dir_.path() + "/data";
  socket_dir_ = dir_.path() + "/socket";
  log_path_ = dir_.path() + "/postgres.log";
  std::error_code ec;
  fs::create_directories(data_dir_, ec);
  fs::create_directories(socket_dir_, ec);
  if (ec) return Status::Io(fmt::format("{}: cannot create: {}", dir_.path(), ec.message()));
  std::vector<std::string> prefix;
  if (as_postgres_user) {
    const passwd* pw = getpwnam(kSystemUser);
    // The postgres user must reach its folders inside the (0700) TempDir.
    if (chmod(dir_.path().c_str(), 0711) != 0 ||
        chown(data_dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0 ||
        chown(socket_dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Status::Io(fmt::format("{}: cannot hand the data folder to the postgres user: {}",
                                    dir_.path(), std::strerror(errno)));
    }
    prefix = AsPostgresUser();
  }
  // initdb, from a folder the server's user may enter.
  std::vector<std::string> initdb = prefix;
  initdb.insert(initdb.end(), {bin_dir + "/initdb", "-D", data_dir_, "-U", user_, "-A", "trust",
                               "-E", "UTF8", "--locale=C", "--no-sync"});
  const CommandResult init = RunCommand(
      {"/bin/sh", "-c", "cd " + ShellQuote(dir_.path()) + " && exec " + ShellJoin(initdb)}, {},
      seconds(120));
  if (init.exit_code != 0) {
    return Status::Unavailable(fmt::format("initdb -D {} failed (exit {}): {}{}", data_dir_,
                                           init.exit_code, init.err,
                                           init.timed_out ? " (timed out)" : ""));
  }

  // The server, on a port that was free a moment ago; another process may
  // take it first, so a failed start is retried on another port.
  Status last;
  for (int tries = 0; tries < 3; ++tries) {
    port_ = FreeLoopbackPort();
    if (port_ == 0) return Status::Unavailable("no free loopback port for PostgreSQL");
    std::vector<std::string> postgres = prefix;
    if (as_postgres_user) {
      // setpriv drops the parent-death signal with the credentials; set it again.
      postgres.insert(postgres.end(), {"--pdeathsig", "KILL"});
    }
    postgres.insert(
        postgres.end(),
        {bin_dir + "/postgres", "-D", data_dir_, "-p", std::to_string(port_), "-k", socket_dir_,
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
         "-c", "full_page_writes=off", "-c", "max_connections=100"});
    process_ = StartServer("cd " + ShellQuote(dir_.path()) + " && exec " + ShellJoin(postgres) +
                           " >>" + ShellQuote(log_path_) + " 2>&1");
    if (!process_) return Status::Unavailable("cannot start postgres");
    const std::string conninfo = fmt::format(
        "host=127.0.0.1 port={} user={} dbname=postgres connect_timeout=2", port_, user_);
    const auto deadline = std::chrono::steady_clock::now() + seconds(60);
    bool running = true;
    while (std::chrono::steady_clock::now() < deadline) {
      if (PQping(conninfo.c_str()) == PQPING_OK) return Status::Ok();
      if (!ProcessRunning(process_->pid())) {
        running = false;
        break;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    last = Status::Unavailable(
        fmt::format("postgres on 127.0.0.1:{} {}; the end of its log {}:\n{}", port_,
                    running ? "did not accept connections within 60 s" : "exited at start",
                    log_path_, Tail(Log(), 20)));
    process_.reset();  // kills it when still running
    if (running) break;
  }
  return last;
}

PostgresServer::~PostgresServer() {
  if (!process_) return;
  // Fast shutdown: roll back open transactions, disconnect clients, stop.
  process_->Signal(SIGINT);
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (ProcessRunning(process_->pid()) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  if (ProcessRunning(process_->pid())) process_->Signal(SIGKILL);
  process_->Wait();
  process_.reset();
}

std::string PostgresServer::DatabaseUrl(const std::string& database) const {
  return fmt::format("postgresql://{}@127.0.0.1:{}/{}", user_, port_, database);
}

Result<std::string> PostgresServer::CreateDatabase(const std::string& name) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      })) {
    return Status::InvalidArgument(
        fmt::format("database name \"{}\": use lower-case letters, digits and '_' only", name));
  }
  PGconn* conn = PQconnectdb(url().c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    Status s = Status::Unavailable(fmt::format("{}: {}", url(), PQerrorMessage(conn)));
    PQfinish(conn);
    return s;
  }
  Status status;
  for (const std::string& sql :
       {"DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", "CREATE DATABASE " + name}) {
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
      status = Status::Internal(fmt::format("{}: {}: {}", url(), sql, PQerrorMessage(conn)));
    }
    PQclear(res);
    if (!status.ok()) break;
  }
  PQfinish(conn);
  if (!status.ok()) return status;
  return DatabaseUrl(name);
}

std::string PostgresServer::Log() const { return ReadFile(log_path_); }

std::unique_ptr<PostgresServer> StartPostgresOrSkip() {
  const char* ci = std::getenv("CI");
  const bool in_ci = ci != nullptr && std::string(ci) == "true";
  auto server = PostgresServer::Start();
  if (server.ok()) return std::move(*server);
  const Status& why = server.status();
  // GTEST_SKIP and FAIL return from a void function: each gets a lambda.
  // Both are recorded in the current test, so from SetUp() gtest skips the
  // test body after either.
  if (why.code() == StatusCode::kNotFound && !in_ci) {
    [&] { GTEST_SKIP() << "PostgreSQL: " << why.message(); }();
    return nullptr;
  }
  [&] {
    FAIL() << "PostgreSQL: " << why.ToString()
           << (in_ci ? " (CI=true: the PostgreSQL tests must run)" : "");
  }();
  return nullptr;
}

}  // namespace weir::testing
