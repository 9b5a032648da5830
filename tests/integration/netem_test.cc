// Transfers through the kernel's own bad network: the test moves itself into
// a network namespace of its own, gives its loopback a netem qdisc (loss,
// duplication, delay with reordering), and downloads through it from the
// real tftpd started inside. Skipped, saying why, where the kernel cannot
// make a namespace or has no netem (sch_netem).
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/concurrent_downloads.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

class Netem : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string ip = FindProgram("ip");
    const std::string tc = FindProgram("tc");
    if (ip.empty() || tc.empty()) {
      GTEST_FAIL() << "ip and tc (iproute2, installed by tools/setup) are "
                      "missing";
    }
    if (unshare(CLONE_NEWNET) != 0) {
      GTEST_SKIP() << "cannot make a network namespace here: "
                   << std::strerror(errno);
    }
    const CommandResult up = RunCommand({ip, "link", "set", "lo", "up"});
    ASSERT_EQ(up.exit_code, 0) << up.output;
    // Delay with jitter reorders; 25% of packets skip the delay altogether.
    const CommandResult netem = RunCommand(
        {tc, "qdisc", "add", "dev", "lo", "root", "netem", "loss", "10%",
         "duplicate", "5%", "delay", "4ms", "2ms", "reorder", "25%", "50%"});
    if (netem.exit_code != 0) {
      GTEST_SKIP() << "this kernel has no netem qdisc (sch_netem); tc said: "
                   << netem.output;
    }
  }
};

TEST_F(Netem, TransfersMatchThroughLossDuplicationAndReordering) {
  const std::vector<size_t> sizes = {0, 511, 512, 513, 4000, 30000, 100000};
  TempDir root;
  std::vector<std::string> contents;
  for (size_t i = 0; i < sizes.size(); ++i) {
    contents.push_back(TestContent(sizes[i], static_cast<uint32_t>(i + 7)));
    root.Write("file" + std::to_string(i), contents.back());
  }
  TftpdProcess server;
  TFTPD_START_OR_SKIP(
      server, root.path(),
      {"--log_level=warning", "--timeout=0.2", "--max_timeout=1",
       "--retries=20", "--unverified_bytes_max=0"},
      "127.0.0.1");
  DownloadOptions options;
  options.limit = std::chrono::seconds(240);
  options.client.timeout = std::chrono::milliseconds(200);
  options.client.max_timeout = std::chrono::milliseconds(2000);
  options.client.max_retries = 20;
  options.dally = true;
  std::vector<DownloadJob> jobs(300);
  for (size_t i = 0; i < jobs.size(); ++i) {
    const size_t file = i % sizes.size();
    jobs[i].request.filename = "file" + std::to_string(file);
    jobs[i].request.blksize = i % 2 == 0 ? 0 : 1428;
    jobs[i].request.windowsize = std::vector<uint16_t>{1, 4, 16}[i % 3];
    jobs[i].request.ask_tsize = true;
    jobs[i].expected = &contents[file];
  }
  const DownloadReport report = RunConcurrentDownloads(
      *io::SocketAddress::Parse("127.0.0.1", server.port()), jobs, options);
  std::string failures;
  for (const auto& [reason, count] : report.failures) {
    failures += reason + ": " + std::to_string(count) + "\n";
  }
  EXPECT_EQ(report.completed, static_cast<int>(jobs.size())) << failures;

  // A real client too, lock-step, through the same network.
  TempDir out;
  const CommandResult tftp = RunCommand({"tftp", "-m", "binary", "127.0.0.1",
                                         std::to_string(server.port()), "-c",
                                         "get", "file6", out.Join("file6")});
  EXPECT_EQ(tftp.exit_code, 0) << tftp.output;
  EXPECT_EQ(ReadFile(out.Join("file6")), contents[6]);
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

}  // namespace
}  // namespace tftpd::testing
