// Uploads kept in PostgreSQL (--upload_database): a real PostgreSQL server,
// started by the test on loopback in a directory of its own (as an
// unprivileged user when the test runs as root, since PostgreSQL refuses
// root), receives one row per completed upload from real clients; an upload
// while the database is down gets an ERROR and leaves no row; an interrupted
// upload leaves no row.
#include <arpa/inet.h>
#include <glob.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

// The bin directory of Debian's PostgreSQL server, or "".
std::string PostgresBin() {
  glob_t found{};
  std::string bin;
  if (glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &found) == 0 &&
      found.gl_pathc > 0) {
    bin = std::filesystem::path(found.gl_pathv[found.gl_pathc - 1])
              .parent_path()
              .string();
  }
  globfree(&found);
  return bin;
}

uint16_t FreeTcpPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

class PostgresServer {
 public:
  ~PostgresServer() {
    Stop();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // initdb, then start on 127.0.0.1 and a free port.
  std::string Init() {
    bin_ = PostgresBin();
    if (bin_.empty()) return "no PostgreSQL server (tools/setup installs it)";
    char pattern[] = "/tmp/tftpd_pg_XXXXXX";
    if (mkdtemp(pattern) == nullptr) return "mkdtemp failed";
    dir_ = pattern;
    if (getuid() == 0) {
      const passwd* nobody = getpwnam("nobody");
      if (nobody == nullptr) return "no user 'nobody' to run PostgreSQL as";
      if (chown(dir_.c_str(), nobody->pw_uid, nobody->pw_gid) != 0) {
        return "chown failed";
      }
      for (const char* runuser : {"/usr/sbin/runuser", "/sbin/runuser"}) {
        if (access(runuser, X_OK) == 0)
          as_user_ = {runuser, "-u", "nobody", "--"};
      }
      if (as_user_.empty()) return "runuser not found";
    }
    port_ = FreeTcpPort();
    const CommandResult init =
        Run({bin_ + "/initdb", "-D", dir_ + "/data", "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--no-sync"});
    if (init.exit_code != 0) return "initdb: " + init.output;
    return Start();
  }

  std::string Start() {
    const CommandResult started =
        Run({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/log", "-w",
             "-o",
             absl::StrCat("-p ", port_, " -k ", dir_,
                          " -c listen_addresses=127.0.0.1 -c fsync=off"),
             "start"});
    running_ = started.exit_code == 0;
    return running_ ? "" : "pg_ctl start: " + started.output;
  }

  void Stop() {
    if (!running_) return;
    Run({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "stop"});
    running_ = false;
  }

  uint16_t port() const { return port_; }
  std::string Connection() const {
    return absl::StrCat("host=127.0.0.1 port=", port_,
                        " user=postgres dbname=postgres");
  }

  // One value per row, columns separated by '|'.
  std::string Query(const std::string& sql) const {
    const CommandResult result =
        RunCommand({"psql", "-h", "127.0.0.1", "-p", absl::StrCat(port_), "-U",
                    "postgres", "-d", "postgres", "-At", "-c", sql});
    EXPECT_EQ(result.exit_code, 0) << sql << "\n" << result.output;
    return std::string(absl::StripTrailingAsciiWhitespace(result.output));
  }

 private:
  CommandResult Run(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), as_user_.begin(), as_user_.end());
    return RunCommand(argv, std::chrono::seconds(60));
  }

  std::string bin_;
  std::string dir_;
  std::vector<std::string> as_user_;
  uint16_t port_ = 0;
  bool running_ = false;
};

std::string Sha256Of(const std::string& path) {
  const CommandResult result = RunCommand({"sha256sum", path});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return result.output.substr(0, 64);
}

TEST(PostgresUploads, EachCompletedUploadIsOneRowAndNothingElseIs) {
  PostgresServer db;
  const std::string problem = db.Init();
  ASSERT_TRUE(problem.empty()) << problem;

  TempDir root;
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--allow_write", "--upload_database=" + db.Connection(),
                       "--timeout=0.3", "--max_timeout=0.6", "--retries=2"},
                      "127.0.0.1");
  const std::string port = std::to_string(server.port());
  TempDir sources;
  const std::string fortigate =
      "#config-version=FGT60F-7.2.5\nconfig system global\n"
      "    set alias \"FortiGate-60F\"\n    set hostname \"fw-lab-01\"\n"
      "    set timezone 28\nend\n";
  sources.Write("fw-lab-01.conf", fortigate);
  const std::string binary = TestContent(1 << 20, 9);
  sources.Write("switch.bin", binary);

  CommandResult put =
      RunCommand({"tftp", "-m", "binary", "127.0.0.1", port, "-c", "put",
                  sources.Join("fw-lab-01.conf"), "backups/fw-lab-01.conf"});
  EXPECT_EQ(put.exit_code, 0) << put.output << server.log();
  put = RunCommand({"curl", "-sS", "-T", sources.Join("switch.bin"),
                    "tftp://127.0.0.1:" + port + "/switch.bin"});
  EXPECT_EQ(put.exit_code, 0) << put.output << server.log();

  EXPECT_EQ(db.Query("SELECT client_address, file_name, size, sha256, "
                     "fields->>'hostname' FROM tftp_uploads ORDER BY id"),
            absl::StrCat("127.0.0.1|backups/fw-lab-01.conf|", fortigate.size(),
                         "|", Sha256Of(sources.Join("fw-lab-01.conf")),
                         "|fw-lab-01\n127.0.0.1|switch.bin|", binary.size(),
                         "|", Sha256Of(sources.Join("switch.bin")), "|"));
  EXPECT_EQ(db.Query("SELECT convert_from(content, 'UTF8') FROM tftp_uploads "
                     "WHERE file_name = 'backups/fw-lab-01.conf'"),
            std::string(absl::StripTrailingAsciiWhitespace(fortigate)));
  EXPECT_EQ(db.Query("SELECT count(*) FROM tftp_uploads WHERE received_at > "
                     "now() - interval '5 minutes'"),
            "2");

  // An upload that stops half-way leaves no row.
  {
    RawClient client;
    const io::SocketAddress service =
        *io::SocketAddress::Parse("127.0.0.1", server.port());
    client.SendTo(service, RequestPacket(2, "half.conf"));
    auto ack = client.Receive();
    ASSERT_TRUE(ack.has_value());
    client.SendTo(ack->second,
                  std::string({0, 3, 0, 1}) + std::string(512, 'h'));
    ASSERT_TRUE(client.Receive().has_value());
    server.LogOnceItContains("file=half.conf outcome=timed_out",
                             std::chrono::seconds(5));
  }

  // The database goes away: the client gets an ERROR, no row is written.
  db.Stop();
  put = RunCommand({"tftp", "-m", "binary", "127.0.0.1", port, "-c", "put",
                    sources.Join("fw-lab-01.conf"), "while-down.conf"});
  EXPECT_NE(put.output.find("database unavailable"), std::string::npos)
      << put.output;
  ASSERT_TRUE(db.Start().empty());
  EXPECT_EQ(db.Query("SELECT count(*) FROM tftp_uploads"), "2");
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

// An upload waits for its row on disk, not in memory: a 128 MiB upload
// raises tftpd's peak memory by less than half of that, and arrives whole.
TEST(PostgresUploads, ALargeUploadIsSpooledNotHeldInMemory) {
  PostgresServer db;
  const std::string problem = db.Init();
  ASSERT_TRUE(problem.empty()) << problem;
  TempDir root;
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--allow_write", "--upload_database=" + db.Connection()},
                      "127.0.0.1");
  TempDir sources;
  sources.Write("image.bin", TestContent(128 << 20, 4));
  const int64_t before = ReadProcessResources(server.pid()).peak_rss_kib;
  const CommandResult put = RunCommand(
      {"curl", "-sS", "--tftp-blksize", "65464", "-T",
       sources.Join("image.bin"),
       absl::StrCat("tftp://127.0.0.1:", server.port(), "/image.bin")},
      std::chrono::seconds(120));
  ASSERT_EQ(put.exit_code, 0) << put.output << server.log();
  const int64_t after = ReadProcessResources(server.pid()).peak_rss_kib;
  EXPECT_EQ(db.Query("SELECT size, sha256 FROM tftp_uploads"),
            absl::StrCat(128 << 20, "|", Sha256Of(sources.Join("image.bin"))));
  std::printf("tftpd peak RSS before the upload: %lld KiB, after: %lld KiB\n",
              static_cast<long long>(before), static_cast<long long>(after));
  // Holding the upload would take 128 MiB at least (before: 261 MiB); what
  // remains is buffers, and the sanitizers' shadow of them (6.6 MiB here,
  // 33 MiB under TSan).
  EXPECT_LT(after - before, 64 * 1024);
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

// A database that hangs (here a session holding the table's lock) fails
// the upload within the statement timeout, half of --source_timeout,
// instead of holding a committer thread; the client is told so, and no row
// appears once the database answers again. Before, the client was told
// "could not be stored in time" while the insert waited on, and the row
// appeared when the lock went.
TEST(PostgresUploads, AHungDatabaseFailsTheUploadAndLeavesNoRow) {
  PostgresServer db;
  const std::string problem = db.Init();
  ASSERT_TRUE(problem.empty()) << problem;
  TempDir root;
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--allow_write", "--upload_database=" + db.Connection(),
                       "--source_timeout=4"},
                      "127.0.0.1");
  const std::string port = std::to_string(server.port());
  TempDir sources;
  sources.Write("a.conf", "hostname a\n");
  CommandResult put =
      RunCommand({"tftp", "-m", "binary", "127.0.0.1", port, "-c", "put",
                  sources.Join("a.conf"), "first.conf"});
  ASSERT_EQ(put.exit_code, 0) << put.output << server.log();

  BackgroundProcess locker;
  ASSERT_TRUE(
      locker
          .Start({"psql", "-h", "127.0.0.1", "-p", std::to_string(db.port()),
                  "-U", "postgres", "-d", "postgres", "-c",
                  "BEGIN; LOCK TABLE tftp_uploads IN ACCESS EXCLUSIVE "
                  "MODE; SELECT pg_sleep(600);"})
          .ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        return db.Query(
                   "SELECT count(*) FROM pg_locks WHERE relation = "
                   "'tftp_uploads'::regclass AND mode = "
                   "'AccessExclusiveLock' AND granted") == "1";
      },
      std::chrono::seconds(20)));
  put = RunCommand({"tftp", "-m", "binary", "127.0.0.1", port, "-c", "put",
                    sources.Join("a.conf"), "while-hung.conf"});
  EXPECT_NE(put.output.find("statement timeout"), std::string::npos)
      << put.output << server.log();
  db.Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
      "query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()");
  // Stopping waits for every commit that began.
  EXPECT_EQ(server.Stop(), 0) << server.log();
  EXPECT_EQ(db.Query("SELECT file_name FROM tftp_uploads"), "first.conf");
}

}  // namespace
}  // namespace tftpd::testing
