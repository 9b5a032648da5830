// A thousand clients fetch a 1 MiB file at once from the real binary.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/concurrent_downloads.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

TEST(Concurrency, AThousandClientsFetchOneMebibyteEach) {
  TempDir root;
  const std::string content = TestContent(1 << 20, 42);
  root.Write("initrd.img", content);
  TftpdProcess server;
  absl::Status started = server.Start(root.path(), {"--log_level=warning"},
                                      "127.0.0.1");
  if (!started.ok() && server.io_uring_refused()) {
    GTEST_SKIP() << "the kernel refuses io_uring";
  }
  ASSERT_TRUE(started.ok()) << started;
  std::vector<DownloadJob> jobs(1000);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].request.filename = "initrd.img";
    jobs[i].request.blksize = 1428;
    jobs[i].request.ask_tsize = true;
    // Mix lock-step clients with windowed ones, as a real rack would.
    jobs[i].request.windowsize = i % 2 == 0 ? 0 : 4;
    jobs[i].expected = &content;
  }
  const DownloadReport report = RunConcurrentDownloads(
      *io::SocketAddress::Parse("127.0.0.1", server.port()), jobs);
  std::string failures;
  for (const auto& [reason, count] : report.failures) {
    failures += reason + ": " + std::to_string(count) + "\n";
  }
  EXPECT_EQ(report.completed, 1000) << failures;
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_NE(server.log().find("sessions_completed=1000"), std::string::npos)
      << server.log();
}

}  // namespace
}  // namespace tftpd::testing
