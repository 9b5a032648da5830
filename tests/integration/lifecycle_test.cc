// The binary as an operator meets it: the bundled root with no flags, the
// first log line, --help, stopping on a signal, the map file and its reload,
// and the metrics endpoint.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

TEST(Lifecycle, ServesTheBundledRootWithoutRootFlag) {
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, "", {}, "127.0.0.1");
  const std::string first_line =
      server.log().substr(0, server.log().find('\n'));
  EXPECT_TRUE(absl::StrContains(first_line, "serving"));
  EXPECT_TRUE(absl::StrContains(first_line, "tftproot"));
  EXPECT_TRUE(absl::StrContains(first_line, std::to_string(server.port())));
  TempDir scratch;
  const std::string out = scratch.Join("hello.txt");
  const CommandResult result = RunCommand(
      {"curl", "-sS", "-o", out,
       "tftp://127.0.0.1:" + std::to_string(server.port()) + "/hello.txt"});
  ASSERT_EQ(result.exit_code, 0) << result.output << server.log();
  EXPECT_EQ(ReadFile(out), ReadFile("tftproot/hello.txt"));
}

TEST(Lifecycle, HelpExplainsEveryFlag) {
  const CommandResult result = RunCommand({"server/tftpd", "--help"});
  for (const char* flag :
       {"-root", "-address", "-port", "-threads", "-blksize_max",
        "-windowsize_max", "-timeout", "-retries", "-max_transfers", "-rcvbuf",
        "-log_level", "-flagfile", "-map_file", "-metrics_address",
        "-stats_interval", "-source_timeout"}) {
    EXPECT_TRUE(absl::StrContains(result.output, flag)) << flag;
  }
}

// The periodic line is for intervals with traffic; idle ones are written
// at debug level only (an operator's log is not a clock).
TEST(Lifecycle, TheStatsLineIsWrittenForIntervalsWithTraffic) {
  TftpdProcess server;
  TFTPD_START_OR_SKIP(
      server, "", {"--stats_interval=0.05", "--log_level=debug"}, "127.0.0.1");
  // Nothing sent yet: the intervals are idle, at debug level.
  std::string log =
      server.LogOnceItContains(" D stats interval=", std::chrono::seconds(10));
  EXPECT_FALSE(absl::StrContains(log, " I stats interval=")) << log;
  TempDir scratch;
  const CommandResult result = RunCommand(
      {"curl", "-sS", "-o", scratch.Join("hello.txt"),
       "tftp://127.0.0.1:" + std::to_string(server.port()) + "/hello.txt"});
  ASSERT_EQ(result.exit_code, 0) << result.output << server.log();
  log =
      server.LogOnceItContains(" I stats interval=", std::chrono::seconds(10));
  const size_t line = log.find(" I stats interval=");
  EXPECT_TRUE(absl::StrContains(log.substr(line, log.find('\n', line) - line),
                                "read_requests=1 "))
      << log;
}

TEST(Lifecycle, ReadsFlagsFromAFlagfile) {
  TempDir root;
  root.Write("from_flagfile.txt", "configured by file");
  TempDir config;
  config.Write("tftpd.flags", "--root=" + root.path() +
                                  "\n--blksize_max=1024\n--log_level=info\n");
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, "", {"--flagfile=" + config.Join("tftpd.flags")},
                      "127.0.0.1");
  EXPECT_TRUE(absl::StrContains(server.log(), "blksize_max=1024"))
      << server.log();
  TempDir scratch;
  const std::string out = scratch.Join("f");
  const CommandResult result =
      RunCommand({"curl", "-sS", "--tftp-blksize", "8192", "-o", out,
                  "tftp://127.0.0.1:" + std::to_string(server.port()) +
                      "/from_flagfile.txt"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(ReadFile(out), "configured by file");
  const std::string log = server.LogOnceItContains("blksize=1024");
  EXPECT_TRUE(absl::StrContains(log, "blksize=1024")) << log;
}

TEST(Lifecycle, FallsBackToEpollWhereIoUringIsRefused) {
  TempDir root;
  root.Write("f", "served without io_uring");
  TftpdProcess server;
  server.DenyIoUring();
  // auto, whatever backend the test target forces elsewhere.
  ASSERT_TRUE(
      server.Start(root.path(), {"--io_backend=auto"}, "127.0.0.1").ok())
      << server.log();
  const std::string log = server.log();
  EXPECT_TRUE(absl::StrContains(log, "io_uring is unavailable")) << log;
  EXPECT_TRUE(absl::StrContains(log, "shards on epoll")) << log;
  TempDir scratch;
  const CommandResult result =
      RunCommand({"curl", "-sS", "-o", scratch.Join("f"),
                  "tftp://127.0.0.1:" + std::to_string(server.port()) + "/f"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(ReadFile(scratch.Join("f")), "served without io_uring");
}

TEST(Lifecycle, ForcingARefusedBackendIsAStartupError) {
  TempDir root;
  TftpdProcess server;
  server.DenyIoUring();
  const absl::Status started =
      server.Start(root.path(), {"--io_backend=io_uring"}, "127.0.0.1");
  EXPECT_FALSE(started.ok());
  EXPECT_TRUE(absl::StrContains(server.log(), "cannot start: io_uring"))
      << server.log();
}

TEST(Lifecycle, BadFlagsAreClearErrors) {
  TempDir root;
  CommandResult result =
      RunCommand({"server/tftpd", "--root=" + root.path(), "--blksize_max=7"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(result.output, "--blksize_max"))
      << result.output;
  result = RunCommand({"server/tftpd", "--root=/nonexistent/dir", "--port=0"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(result.output, "/nonexistent/dir"))
      << result.output;
  result = RunCommand({"server/tftpd", "--root=" + root.path(),
                       "--address=not-an-ip", "--port=0"});
  EXPECT_EQ(result.exit_code, 2);
}

TEST(Lifecycle, TheOldNamesOfTheTransferLimitsStillWork) {
  TempDir root;
  root.Write("f", TestContent(2000, 1));
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--max_sessions=100", "--max_sessions_per_address=1"},
                      "127.0.0.1");
  EXPECT_TRUE(
      absl::StrContains(server.log(), "--max_sessions is now --max_transfers"))
      << server.log();
  EXPECT_TRUE(absl::StrContains(
      server.log(),
      "--max_sessions_per_address is now --max_transfers_per_address"))
      << server.log();
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  RawClient first;
  first.SendTo(service, RequestPacket(1, "f"));
  auto data = first.Receive();
  ASSERT_TRUE(data.has_value()) << server.log();
  first.SendTo(data->second, AckPacket(1));
  ASSERT_TRUE(first.Receive().has_value());  // DATA 2, left unacknowledged.
  // The first transfer is open (its client answered): a second from the
  // same address is one too many.
  RawClient second;
  second.SendTo(service, RequestPacket(1, "f"));
  auto refused = second.Receive();
  ASSERT_TRUE(refused.has_value()) << server.log();
  EXPECT_EQ(ErrorCodeOf(refused->first), 0);
  EXPECT_TRUE(absl::StrContains(refused->first, "too many transfers"))
      << refused->first.substr(4);
}

TEST(Lifecycle, SigtermEndsTransfersAfterTheGraceAndPrintsCounters) {
  TempDir root;
  root.Write("big.bin", TestContent(100000));
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--shutdown_grace=0.3"},
                      "127.0.0.1");
  // A transfer that stalls after its first block.
  RawClient client;
  client.SendTo(*io::SocketAddress::Parse("127.0.0.1", server.port()),
                RequestPacket(1, "big.bin"));
  auto first = client.Receive();
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(OpcodeOf(first->first), 3);
  client.SendTo(first->second, AckPacket(1));
  ASSERT_TRUE(client.Receive().has_value());  // DATA 2.
  EXPECT_EQ(server.Stop(), 0);
  // The client is told, rather than left to time out.
  bool told = false;
  for (int i = 0; i < 5 && !told; ++i) {
    auto reply = client.Receive(std::chrono::milliseconds(500));
    if (!reply.has_value()) break;
    told = ErrorCodeOf(reply->first) == 0;
  }
  EXPECT_TRUE(told);
  const std::string log = server.log();
  EXPECT_TRUE(absl::StrContains(log, "tftpd stopped:")) << log;
  EXPECT_TRUE(absl::StrContains(log, "transfers_started=1")) << log;
  EXPECT_TRUE(absl::StrContains(log, "transfers_aborted=1")) << log;
}

TEST(Lifecycle, MapFileRewritesNamesAndReloadsOnSighup) {
  TempDir dir;
  dir.Write("root/Boot/x64/wdsnbp.com", "boot program");
  dir.Write("root/127.0.0.1/pxelinux.cfg/default", "per-client config");
  dir.Write("root/pxelinux.cfg/default", "shared config");
  const std::string map = dir.Join("rules");
  dir.Write("rules",
            "rg \\\\ /           # backslashes to slashes\n"
            "ri ^[a-z]:            # drive letters\n"
            "r ^/+\n"
            "a ^secret             # refused\n");
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, dir.Join("root"), {"--map_file=" + map},
                      "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  auto read = [&](const std::string& name) {
    return ReadTransferByHand(service, name, std::chrono::seconds(2));
  };
  EXPECT_EQ(read("C:\\Boot\\x64\\wdsnbp.com").bytes, "boot program");
  EXPECT_EQ(read("pxelinux.cfg/default").bytes, "shared config");
  EXPECT_EQ(read("secret/key").error_code, 2);
  // Per-client directories from now on; a broken file is refused and the
  // rules in force stay.
  dir.Write("rules", "r ^pxelinux\\.cfg/ \\i/pxelinux.cfg/\n");
  server.Signal(SIGHUP);
  server.LogOnceItContains("SIGHUP: 1 rules loaded");
  EXPECT_EQ(read("pxelinux.cfg/default").bytes, "per-client config");
  dir.Write("rules", "q what\n");
  server.Signal(SIGHUP);
  const std::string log =
      server.LogOnceItContains("the previous rules stay in force");
  EXPECT_TRUE(absl::StrContains(log, "line 1")) << log;
  EXPECT_EQ(read("pxelinux.cfg/default").bytes, "per-client config");
}

TEST(Lifecycle, ABrokenMapFileIsAStartupError) {
  TempDir dir;
  dir.Write("rules", "r a b\nr (unclosed\n");
  TftpdProcess server;
  const absl::Status started =
      server.Start(dir.path(), {"--map_file=" + dir.Join("rules")});
  EXPECT_FALSE(started.ok());
  EXPECT_TRUE(absl::StrContains(started.message(), "line 2")) << started;
}

TEST(Lifecycle, DropsToAnotherUserAndConfinesItselfToTheRoot) {
  TempDir root;
  root.Write("f", "served after dropping root");
  // The unprivileged user must be able to search the root itself.
  ASSERT_EQ(chmod(root.path().c_str(), 0755), 0);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--user=nobody", "--chroot"},
                      "127.0.0.1");
  const std::string log = server.LogOnceItContains("running as nobody");
  ASSERT_TRUE(absl::StrContains(log, "running as nobody")) << log;
  EXPECT_TRUE(absl::StrContains(log, "confined to")) << log;
  const std::string status =
      ReadFile("/proc/" + std::to_string(server.pid()) + "/status");
  const passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  EXPECT_TRUE(
      absl::StrContains(status, absl::StrCat("\nUid:\t", nobody->pw_uid, "\t")))
      << status;
  char target[4096];
  const ssize_t n =
      readlink(("/proc/" + std::to_string(server.pid()) + "/root").c_str(),
               target, sizeof target - 1);
  ASSERT_GT(n, 0);
  char real[4096];
  ASSERT_NE(realpath(root.path().c_str(), real), nullptr);
  EXPECT_EQ(std::string(target, static_cast<size_t>(n)), std::string(real));
  EXPECT_EQ(
      ReadTransferByHand(*io::SocketAddress::Parse("127.0.0.1", server.port()),
                         "f", std::chrono::seconds(2))
          .bytes,
      "served after dropping root");
}

// Started as root with no --user, tftpd gives root up: it runs as the first
// of tftpd, tftp and nobody that exists, and still serves its root (opened
// before, so the private directories above it need not be searchable).
TEST(Lifecycle, StartedAsRootItDropsToAnUnprivilegedUserByDefault) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: it tests giving root up";
  TempDir root;
  root.Write("f", "served without root");
  ASSERT_EQ(chmod(root.path().c_str(), 0755), 0);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--user="}, "127.0.0.1");
  const std::string log =
      server.LogOnceItContains("started as root without --user");
  EXPECT_TRUE(absl::StrContains(log, "running as ")) << log;
  const std::string status =
      ReadFile("/proc/" + std::to_string(server.pid()) + "/status");
  EXPECT_FALSE(absl::StrContains(status, "\nUid:\t0\t")) << status;
  EXPECT_EQ(
      ReadTransferByHand(*io::SocketAddress::Parse("127.0.0.1", server.port()),
                         "f", std::chrono::seconds(2))
          .bytes,
      "served without root");
}

TEST(Lifecycle, UserRootKeepsRootAndSaysSo) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: it tests keeping root";
  TempDir root;
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--user=root"}, "127.0.0.1");
  const std::string log = server.LogOnceItContains("running as root");
  EXPECT_TRUE(absl::StrContains(log, "running as root (--user=root)")) << log;
  const std::string status =
      ReadFile("/proc/" + std::to_string(server.pid()) + "/status");
  EXPECT_TRUE(absl::StrContains(status, "\nUid:\t0\t")) << status;
}

// The soft limit on descriptors (often 1,024) is raised to what
// --max_transfers needs: each transfer holds a socket.
TEST(Lifecycle, TheDescriptorLimitIsRaisedForMaxTransfers) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 6000) {
    GTEST_SKIP() << "the hard limit on descriptors is below 6000";
  }
  rlimit low = saved;
  low.rlim_cur = 1024;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  TempDir root;
  TftpdProcess server;
  const absl::Status started =
      server.Start(root.path(), {"--max_transfers=5000"}, "127.0.0.1");
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(started.ok()) << started;
  const std::string limits =
      ReadFile("/proc/" + std::to_string(server.pid()) + "/limits");
  const size_t at = limits.find("Max open files");
  ASSERT_NE(at, std::string::npos) << limits;
  std::vector<std::string> fields =
      absl::StrSplit(limits.substr(at + 14, limits.find('\n', at) - at - 14),
                     ' ', absl::SkipEmpty());
  ASSERT_FALSE(fields.empty()) << limits;
  uint64_t soft = 0;
  ASSERT_TRUE(absl::SimpleAtoi(fields[0], &soft)) << limits;
  EXPECT_GE(soft, 5000u) << limits;
  EXPECT_TRUE(absl::StrContains(server.log(), "descriptor limit raised"))
      << server.log();
  // The log says what the limits allow, and what on this host bounds them.
  EXPECT_TRUE(absl::StrContains(
      server.log(), "up to 5000 transfers at once (--max_transfers)"))
      << server.log();
  EXPECT_TRUE(absl::StrContains(server.log(), "by descriptors (RLIMIT_NOFILE)"))
      << server.log();
}

// When no limit the process may set is enough, tftpd says what to set.
TEST(Lifecycle, MaxTransfersBeyondAnyDescriptorLimitIsAStartupError) {
  TempDir root;
  TftpdProcess server;
  const absl::Status started =
      server.Start(root.path(), {"--max_transfers=50000000"}, "127.0.0.1");
  EXPECT_FALSE(started.ok());
  EXPECT_TRUE(absl::StrContains(started.message(), "LimitNOFILE")) << started;
  EXPECT_TRUE(absl::StrContains(started.message(), "--max_transfers"))
      << started;
}

TEST(Lifecycle, AnUnknownUserIsAStartupError) {
  TempDir root;
  TftpdProcess server;
  const absl::Status started =
      server.Start(root.path(), {"--user=no-such-user-here"});
  EXPECT_FALSE(started.ok());
  EXPECT_TRUE(absl::StrContains(started.message(), "no such user")) << started;
}

TEST(Lifecycle, MetricsAreScrapedOverHttp) {
  TempDir root;
  root.Write("f", "file");
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--metrics_address=127.0.0.1:0"},
                      "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  ASSERT_EQ(ReadTransferByHand(service, "f", std::chrono::seconds(2)).bytes,
            "file");
  ASSERT_EQ(ReadTransferByHand(service, "missing", std::chrono::seconds(2))
                .error_code,
            1);
  const std::string log = server.LogOnceItContains("metrics at http://");
  const size_t at = log.find("http://");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string url = log.substr(at, log.find('\n', at) - at);
  // The transfer's line comes when the server reads the last ACK.
  server.LogOnceItContains("outcome=completed");
  const CommandResult scrape = RunCommand({"curl", "-sS", url});
  ASSERT_EQ(scrape.exit_code, 0) << scrape.output;
  const std::string& text = scrape.output;
  EXPECT_TRUE(
      absl::StrContains(text, "# TYPE tftpd_transfers_completed_total counter"))
      << text;
  uint64_t completed = 0;
  uint64_t not_found = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    uint64_t value = 0;
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos ||
        !absl::SimpleAtoi(line.substr(space + 1), &value)) {
      continue;
    }
    if (absl::StartsWith(line, "tftpd_transfers_completed_total{")) {
      completed += value;
    }
    if (absl::StartsWith(line, "tftpd_requests_refused_by_reason_total{") &&
        absl::StrContains(line, "reason=\"not_found\"")) {
      not_found += value;
    }
  }
  EXPECT_EQ(completed, 1u) << text;
  EXPECT_EQ(not_found, 1u) << text;
  const CommandResult wrong =
      RunCommand({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                  url.substr(0, url.rfind('/')) + "/other"});
  EXPECT_EQ(wrong.output, "404");
}

// A client that sends its request a byte at a time, slower than any
// per-read timeout, does not hold the metrics endpoint: scrapes go on
// meanwhile, and an idle connection is closed after --metrics_timeout.
TEST(Lifecycle, ASlowHttpClientDoesNotHoldTheMetricsEndpoint) {
  TempDir root;
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--metrics_address=127.0.0.1:0", "--metrics_timeout=2"},
                      "127.0.0.1");
  const std::string log = server.LogOnceItContains("metrics at http://");
  const size_t at = log.find("http://");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string url = log.substr(at, log.find('\n', at) - at);
  const size_t port_at = url.rfind(':');
  const uint16_t port = static_cast<uint16_t>(
      std::stoi(url.substr(port_at + 1, url.rfind('/') - port_at - 1)));
  auto connect_to_metrics = [port] {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    return fd;
  };
  // The slow client: a byte of its request every 1.5 s, for 12 s.
  const int slow = connect_to_metrics();
  std::atomic<bool> done{false};
  std::thread dribble([&] {
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    for (size_t i = 0; i < 8 && !done; ++i) {
      send(slow, request.data() + i, 1, MSG_NOSIGNAL);
      for (int tick = 0; tick < 15 && !done; ++tick) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
  // Scrapes meanwhile: each answered (before, the one thread waited on the
  // slow client for as long as it kept sending).
  for (int i = 0; i < 3; ++i) {
    const CommandResult scrape =
        RunCommand({"curl", "-sS", "--max-time", "5", url});
    EXPECT_EQ(scrape.exit_code, 0) << scrape.output;
    EXPECT_TRUE(absl::StrContains(scrape.output, "tftpd_transfers_active"));
  }
  done = true;
  dribble.join();
  close(slow);
  // A connection that sends nothing is closed by the server.
  const int idle = connect_to_metrics();
  timeval limit{20, 0};
  setsockopt(idle, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  char byte;
  EXPECT_EQ(recv(idle, &byte, 1, 0), 0) << "the idle connection stayed open";
  close(idle);
}

TEST(Lifecycle, ServesOnASocketPassedAsSystemdDoes) {
  // systemd-socket-activate binds the socket, waits for the first datagram,
  // then starts tftpd with it as descriptor 3, LISTEN_FDS=1 and LISTEN_PID,
  // as a socket unit does.
  const std::string activate = "/usr/bin/systemd-socket-activate";
  ASSERT_EQ(access(activate.c_str(), X_OK), 0)
      << "systemd-socket-activate is missing (tools/setup installs systemd)";
  char* binary = realpath("server/tftpd", nullptr);
  ASSERT_NE(binary, nullptr);
  const std::string tftpd = binary;
  free(binary);
  TempDir root;
  const std::string content = TestContent(70000, 21);
  root.Write("boot.img", content);
  // Started as root without --user, tftpd serves as an unprivileged user.
  ASSERT_EQ(chmod(root.path().c_str(), 0755), 0);
  // A free port for the activator to bind.
  uint16_t port = 0;
  {
    RawClient probe;
    port = probe.address().port();
  }
  BackgroundProcess activator;
  ASSERT_TRUE(activator
                  .Start({activate, "--datagram",
                          absl::StrCat("--listen=127.0.0.1:", port), tftpd,
                          "--root=" + root.path(), "--threads=2"})
                  .ok());
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", port);
  // The activator says when it has bound the socket.
  ASSERT_TRUE(WaitUntil([&] {
    return absl::StrContains(activator.log(), "Listening on");
  })) << activator.log();
  // The first request starts tftpd, which answers it from the socket.
  HandRead first =
      ReadTransferByHand(service, "boot.img", std::chrono::seconds(10));
  EXPECT_EQ(first.bytes, content) << activator.log();
  HandRead second =
      ReadTransferByHand(service, "boot.img", std::chrono::seconds(5));
  EXPECT_EQ(second.bytes, content) << activator.log();
  EXPECT_TRUE(absl::StrContains(activator.log(),
                                "serving on the socket systemd passed"))
      << activator.log();
}

TEST(Lifecycle, TheSystemdUnitsVerifyAndAreConfined) {
  // The units as shipped, but starting the binary under test.
  char* binary = realpath("server/tftpd", nullptr);
  ASSERT_NE(binary, nullptr);
  const std::string tftpd = binary;
  free(binary);
  TempDir units;
  std::string service = ReadFile("tools/deploy/systemd/tftpd.service");
  const std::string installed = "/usr/local/sbin/tftpd";
  ASSERT_NE(service.find(installed), std::string::npos);
  service.replace(service.find(installed), installed.size(), tftpd);
  units.Write("tftpd.service", service);
  units.Write("tftpd.socket", ReadFile("tools/deploy/systemd/tftpd.socket"));
  const CommandResult verify =
      RunCommand({"systemd-analyze", "verify", "--man=no",
                  units.Join("tftpd.socket"), units.Join("tftpd.service")});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  // Any complaint (an unknown key, a bad value) is a defect in the units.
  EXPECT_EQ(verify.output, "") << verify.output;
  const CommandResult security =
      RunCommand({"systemd-analyze", "security", "--offline=yes",
                  units.Join("tftpd.service")});
  const size_t at = security.output.find("Overall exposure level");
  ASSERT_NE(at, std::string::npos) << security.output;
  // "... for tftpd.service: 1.8 OK": systemd's scale runs from 0 (confined)
  // to 10 (exposed); below 2.5 is the best band but one.
  const std::string rest = security.output.substr(at);
  const size_t colon = rest.find(": ");
  double exposure = 10;
  ASSERT_TRUE(absl::SimpleAtod(
      rest.substr(colon + 2, rest.find(' ', colon + 2) - colon - 2), &exposure))
      << rest;
  EXPECT_LT(exposure, 2.5) << security.output;
  std::printf("systemd-analyze security: exposure %.1f\n", exposure);
}

}  // namespace
}  // namespace tftpd::testing
