// The load generator against the real tftpd: what it reports must match what
// happened, for successes and for each kind of failure.
#include "tools/loadgen/load_generator.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

class LoadGenerator : public ::testing::Test {
 protected:
  void SetUp() override {
    files_.Write("kernel", TestContent(300000, 1));
    files_.Write("initrd", TestContent(70000, 2));
    files_.Write("big", TestContent(600000, 3));  // 75,000 blocks at 8.
    TFTPD_START_OR_SKIP(server_, files_.path(), {"--log_level=warning"},
                        "127.0.0.1");
  }

  loadgen::LoadConfig Config() {
    loadgen::LoadConfig config;
    config.server = *io::SocketAddress::Parse("127.0.0.1", server_.port());
    config.files = {"kernel", "initrd"};
    config.verify_dir = files_.path();
    config.concurrency = 20;
    config.transfers = 100;
    config.time_limit = std::chrono::seconds(60);
    return config;
  }

  TempDir files_;
  TftpdProcess server_;
};

TEST_F(LoadGenerator, CountsVerifiedTransfers) {
  loadgen::LoadConfig config = Config();
  config.blksize = 1428;
  config.windowsize = 4;
  absl::StatusOr<loadgen::LoadReport> report = loadgen::RunLoad(config);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->transfers_ok, 100);
  EXPECT_TRUE(report->failures.empty()) << report->ToTable();
  EXPECT_EQ(report->bytes, 50u * 300000 + 50u * 70000);
  EXPECT_GT(report->latency_max, 0);
  EXPECT_LE(report->latency_p50, report->latency_p99);
  EXPECT_TRUE(absl::StrContains(report->ToJson(), "\"transfers_ok\":100"));
  EXPECT_EQ(server_.Stop(), 0);
  EXPECT_TRUE(absl::StrContains(server_.log(), "transfers_completed=100"))
      << server_.log();
}

TEST_F(LoadGenerator, RunsOnTheEpollBackendToo) {
  loadgen::LoadConfig config = Config();
  config.io_backend = io::BackendKind::kEpoll;
  config.blksize = 1428;
  config.windowsize = 8;
  absl::StatusOr<loadgen::LoadReport> report = loadgen::RunLoad(config);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->transfers_ok, 100) << report->ToTable();
}

TEST_F(LoadGenerator, UefiShapeProbesThenDownloads) {
  loadgen::LoadConfig config = Config();
  config.blksize = 1468;
  config.windowsize = 4;
  config.uefi_probe = true;
  config.transfers = 40;
  absl::StatusOr<loadgen::LoadReport> report = loadgen::RunLoad(config);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->transfers_ok, 40) << report->ToTable();
  EXPECT_EQ(server_.Stop(), 0);
  // Every probe ended on the server as the client's ERROR 8.
  EXPECT_TRUE(absl::StrContains(server_.log(), "transfers_peer_error=40"))
      << server_.log();
  EXPECT_TRUE(absl::StrContains(server_.log(), "transfers_completed=40"));
}

TEST_F(LoadGenerator, RollsOverWithWindows) {
  loadgen::LoadConfig config = Config();
  config.files = {"big"};
  config.blksize = 8;
  config.windowsize = 16;
  config.transfers = 2;
  config.concurrency = 2;
  absl::StatusOr<loadgen::LoadReport> report = loadgen::RunLoad(config);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->transfers_ok, 2) << report->ToTable();
}

TEST_F(LoadGenerator, ClassifiesFailures) {
  loadgen::LoadConfig missing = Config();
  missing.files = {"no-such-file"};
  missing.verify_dir.clear();
  missing.transfers = 10;
  absl::StatusOr<loadgen::LoadReport> report = loadgen::RunLoad(missing);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->failures, (std::map<std::string, int64_t>{{"error_1", 10}}))
      << report->ToTable();

  TempDir other;
  other.Write("kernel", TestContent(300000, 99));  // Same size, other bytes.
  other.Write("initrd", TestContent(1000, 2));     // Other size.
  loadgen::LoadConfig mismatch = Config();
  mismatch.verify_dir = other.path();
  mismatch.transfers = 10;
  report = loadgen::RunLoad(mismatch);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->failures,
            (std::map<std::string, int64_t>{{"content_mismatch", 5},
                                            {"size_mismatch", 5}}))
      << report->ToTable();

  // Nothing listens on a port we bound ourselves and never read.
  const int quiet = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  io::SocketAddress address = *io::SocketAddress::Parse("127.0.0.1", 0);
  ASSERT_EQ(bind(quiet, address.get(), address.length()), 0);
  socklen_t length = io::SocketAddress::kCapacity;
  getsockname(quiet, address.mutable_get(), &length);
  loadgen::LoadConfig silent = Config();
  silent.server = address;
  silent.transfers = 5;
  silent.timeout = std::chrono::milliseconds(50);
  silent.retries = 1;
  report = loadgen::RunLoad(silent);
  close(quiet);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->failures,
            (std::map<std::string, int64_t>{{"rrq_unanswered", 5}}))
      << report->ToTable();
}

// More clients than the generator may hold descriptors: one socket, each
// client on a loopback address of its own, each told apart by where the
// server's replies go. The server's log names every transfer's peer: 600
// transfers must come from 600 addresses.
TEST_F(LoadGenerator, SharedSocketSimulatesClientsBeyondTheDescriptorLimit) {
  TftpdProcess single_port;
  TFTPD_START_OR_SKIP(single_port, files_.path(), {"--single_port"},
                      "127.0.0.1");
  loadgen::LoadConfig config = Config();
  config.server = *io::SocketAddress::Parse("127.0.0.1", single_port.port());
  config.shared_socket = true;
  config.threads = 2;
  config.blksize = 1428;
  config.concurrency = 300;
  config.transfers = 600;
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 100;  // Far fewer than the 300 clients at once.
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  absl::StatusOr<loadgen::LoadReport> report = loadgen::RunLoad(config);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->transfers_ok, 600) << report->ToTable();
  EXPECT_TRUE(report->failures.empty()) << report->ToTable();
  EXPECT_EQ(single_port.Stop(), 0);
  std::set<std::string> peers;
  for (absl::string_view line : absl::StrSplit(single_port.log(), '\n')) {
    const size_t at = line.find("transfer peer=");
    if (at == absl::string_view::npos) continue;
    absl::string_view peer = line.substr(at + 14);
    peers.insert(std::string(peer.substr(0, peer.find(':'))));
  }
  EXPECT_EQ(peers.size(), 600u);
  EXPECT_TRUE(absl::StrContains(single_port.log(), "transfers_completed=600"));
}

// The generator's own bad network: every server meets the same one. The
// downloads still complete, by retransmission.
TEST_F(LoadGenerator, InjectedLossIsRecoveredByRetransmission) {
  loadgen::LoadConfig config = Config();
  config.files = {"initrd"};  // 50 blocks at 1428.
  config.blksize = 1428;
  config.transfers = 20;
  config.concurrency = 20;
  io::FaultPlan plan;
  plan.seed = 5;
  plan.loss = 0.05;
  config.faults = plan;
  absl::StatusOr<loadgen::LoadReport> report = loadgen::RunLoad(config);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->transfers_ok, 20) << report->ToTable();
  EXPECT_GT(report->retransmits, 0u) << report->ToTable();
}

TEST_F(LoadGenerator, SharedSocketNeedsALoopbackServer) {
  loadgen::LoadConfig config = Config();
  config.shared_socket = true;
  config.server = *io::SocketAddress::Parse("192.0.2.1", 69);
  absl::StatusOr<loadgen::LoadReport> report = loadgen::RunLoad(config);
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(absl::StrContains(report.status().message(), "127.0.0.0/8"))
      << report.status();
}

TEST_F(LoadGenerator, BinaryPrintsJsonAndExitStatus) {
  const std::string port = std::to_string(server_.port());
  CommandResult ok = RunCommand(
      {"tools/loadgen/tftp_loadgen", "--port=" + port, "--files=kernel",
       "--verify_dir=" + files_.path(), "--transfers=10", "--concurrency=5",
       "--json", "--progress=false"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_TRUE(absl::StrContains(ok.output, "\"transfers_ok\":10")) << ok.output;
  CommandResult failed = RunCommand(
      {"tools/loadgen/tftp_loadgen", "--port=" + port, "--files=missing",
       "--transfers=3", "--progress=false", "--log_failures"});
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_TRUE(absl::StrContains(failed.output, "error_1 3")) << failed.output;
  // --log_failures: a line for each failed transfer, naming its client.
  size_t lines = 0;
  for (absl::string_view line : absl::StrSplit(failed.output, '\n')) {
    if (absl::StartsWith(line, "failed client=127.") &&
        absl::StrContains(line, "file=missing")) {
      ++lines;
    }
  }
  EXPECT_EQ(lines, 3u) << failed.output;
  CommandResult usage = RunCommand({"tools/loadgen/tftp_loadgen"});
  EXPECT_EQ(usage.exit_code, 2);
}

}  // namespace
}  // namespace tftpd::testing
