// A thousand clients at once, each downloading a distinct 16 MiB response a
// Python handler generates as it is read (python/tests/storm_server.py): all
// byte-identical, and the server's peak memory bounded by the read-ahead,
// not by the 16 GiB of responses. TFTPD_STORM_CLIENTS and TFTPD_STORM_MIB
// change the size.
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/concurrent_downloads.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

size_t FromEnvironment(const char* name, size_t otherwise) {
  size_t value = 0;
  const char* text = std::getenv(name);
  return text != nullptr && absl::SimpleAtoi(text, &value) && value > 0
             ? value
             : otherwise;
}

TEST(PythonStorm, DistinctGeneratedResponsesToAThousandClients) {
  const size_t clients = FromEnvironment("TFTPD_STORM_CLIENTS", 1000);
  const size_t size = FromEnvironment("TFTPD_STORM_MIB", 16) << 20;
  TempDir dir;
  const std::string base = TestContent(size, 11);
  const std::string base_file = dir.path() + "/base";
  std::ofstream(base_file, std::ios::binary) << base;
  const std::string port_file = dir.path() + "/port";
  const std::string runfiles = absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                                            std::getenv("TEST_WORKSPACE"));
  BackgroundProcess server;
  ASSERT_TRUE(server
                  .Start({runfiles + "/python/tests/run_python.sh",
                          runfiles + "/python/tests/storm_server.py", base_file,
                          port_file})
                  .ok());
  ASSERT_TRUE(WaitUntil([&] { return access(port_file.c_str(), F_OK) == 0; },
                        std::chrono::seconds(60)))
      << server.log();
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(ReadFile(port_file), &port));

  std::vector<DownloadJob> jobs(clients);
  for (size_t i = 0; i < clients; ++i) {
    // A distinct response each: the base rotated by a distinct amount.
    jobs[i].rotation = (i * 16411) % size;
    jobs[i].request.filename = absl::StrCat(jobs[i].rotation);
    jobs[i].request.blksize = 1468;
    jobs[i].request.windowsize = 8;
    jobs[i].request.ask_tsize = true;
    jobs[i].expected = &base;
  }
  DownloadOptions options;
  options.limit = std::chrono::seconds(900);
  const auto start = std::chrono::steady_clock::now();
  DownloadReport report = RunConcurrentDownloads(
      *io::SocketAddress::Parse("127.0.0.1", port), jobs, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const ProcessResources resources = ReadProcessResources(server.pid());
  std::printf(
      "python storm: %d of %zu clients complete, %zu MiB each, in %.1f s "
      "(%.0f MB/s); whole response p50 %.1f s p99 %.1f s; server peak RSS "
      "%.1f MiB\n",
      report.completed, clients, size >> 20, seconds,
      clients * static_cast<double>(size) / seconds / 1e6,
      Quantile(report.duration, 0.5).count() / 1e6,
      Quantile(report.duration, 0.99).count() / 1e6,
      resources.peak_rss_kib / 1024.0);
  EXPECT_EQ(report.completed, static_cast<int>(clients));
  for (const auto& [reason, count] : report.failures) {
    ADD_FAILURE() << reason << ": " << count;
  }
  // Every response whole at once would be clients * size; the read-ahead
  // is 64 KiB a client (Shard::PulledReadAhead), the base one copy. A
  // sanitizer's runtime (shadow memory, ASan's quarantine) adds its own.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  constexpr uint64_t kRuntime = uint64_t{1} << 30;
#else
  constexpr uint64_t kRuntime = 0;
#endif
  EXPECT_GT(resources.peak_rss_kib, 0);
  EXPECT_LT(static_cast<uint64_t>(resources.peak_rss_kib) << 10,
            size + clients * (512u << 10) + (256u << 20) + kRuntime)
      << "peak RSS of the Python server";
}

}  // namespace
}  // namespace tftpd::testing
