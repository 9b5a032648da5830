// The binary as an operator meets it: the bundled root with no flags, the
// first log line, --help, and stopping on a signal.
#include <string>

#include "absl/strings/match.h"
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
        "-windowsize_max", "-timeout", "-retries", "-max_sessions", "-rcvbuf",
        "-log_level", "-flagfile"}) {
    EXPECT_TRUE(absl::StrContains(result.output, flag)) << flag;
  }
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
  EXPECT_TRUE(absl::StrContains(log, "sessions_started=1")) << log;
  EXPECT_TRUE(absl::StrContains(log, "sessions_aborted=1")) << log;
}

}  // namespace
}  // namespace tftpd::testing
