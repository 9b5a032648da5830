// A bounded soak: minutes of mixed load on one server over a lossy network
// (its fault injector): downloads of every shape, clients that vanish,
// requests for missing files, garbage. Every download must complete, and
// afterwards the server must hold what it held before: the same descriptors
// and no more than a little more memory. Both are printed.
//
// TFTPD_SOAK_SECONDS sets the load's duration (default 120; 30 in sanitizer
// builds, whose allocators keep freed memory in quarantine by design, so
// that only descriptors are compared there).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/concurrent_downloads.h"
#include "tests/integration/tftpd_process.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TFTPD_SANITIZED_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TFTPD_SANITIZED_ALLOCATOR 1
#endif
#endif

namespace tftpd::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

#ifdef TFTPD_SANITIZED_ALLOCATOR
constexpr bool kSanitizedAllocator = true;
constexpr int kDefaultSeconds = 30;
#else
constexpr bool kSanitizedAllocator = false;
constexpr int kDefaultSeconds = 120;
#endif

int SoakSeconds() {
  const char* value = std::getenv("TFTPD_SOAK_SECONDS");
  return value != nullptr && std::atoi(value) > 0 ? std::atoi(value)
                                                  : kDefaultSeconds;
}

// Waits until the server holds `fds` descriptors again (its transfers
// have all ended) or `limit` passes; returns what it holds then.
ProcessResources SettleTo(pid_t pid, int fds, std::chrono::seconds limit) {
  const auto give_up = Clock::now() + limit;
  ProcessResources now = ReadProcessResources(pid);
  while (now.fds != fds && Clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(100));
    now = ReadProcessResources(pid);
  }
  // A transfer's memory is freed with its socket, in the same step.
  return now;
}

class Soak : public ::testing::Test {
 protected:
  void SetUp() override {
    // The last, a kernel-sized file, is fetched only as fast clients do
    // (large blocks, windows): lock-step 512-byte blocks through 10% loss
    // would make each round last a minute.
    const std::vector<size_t> sizes = {0,    1,     512,   513,    1428,
                                       8192, 65535, 65536, 100000, 1 << 20};
    for (size_t i = 0; i < sizes.size(); ++i) {
      contents_.push_back(TestContent(sizes[i], static_cast<uint32_t>(i + 3)));
      root_.Write("file" + std::to_string(i), contents_.back());
    }
  }

  // One round of mixed load; returns the downloads that failed.
  DownloadReport Round(const io::SocketAddress& service, std::mt19937* random) {
    // Clients that ask and vanish, requests for missing files, garbage:
    // from addresses of their own, as strangers on the network would be.
    std::vector<std::unique_ptr<RawClient>> strangers;
    for (int i = 0; i < 30; ++i) {
      strangers.push_back(std::make_unique<RawClient>(
          ClientAddress(20000 + (*random)() % 2000).HostString()));
      RawClient& s = *strangers.back();
      switch (i % 3) {
        case 0:
          s.SendTo(service,
                   RequestPacket(1, "file8", "octet", {"blksize", "1428"}));
          break;
        case 1:
          s.SendTo(service, RequestPacket(1, "missing/" + std::to_string(i)));
          break;
        case 2: {
          std::string garbage((*random)() % 600, '\0');
          for (char& c : garbage) c = static_cast<char>((*random)());
          s.SendTo(service, garbage);
          break;
        }
      }
    }
    std::vector<DownloadJob> jobs(150);
    for (DownloadJob& job : jobs) {
      const size_t file = (*random)() % contents_.size();
      job.request.filename = "file" + std::to_string(file);
      const uint16_t blksizes[] = {0, 512, 1428, 8192};
      const uint16_t windows[] = {0, 1, 4, 16};
      job.request.blksize = blksizes[(*random)() % 4];
      job.request.windowsize = windows[(*random)() % 4];
      if (file == contents_.size() - 1) {
        job.request.blksize = 8192;
        job.request.windowsize = 16;
      }
      job.request.ask_tsize = (*random)() % 2 == 0;
      job.expected = &contents_[file];
    }
    DownloadOptions options;
    // Each round from addresses the previous rounds did not use (the
    // strangers' range starts at 20,000): a new client on an address and
    // port that an earlier client used moments ago would meet that
    // client's transfer still open on the server (retrying its last block
    // when the final ACK was lost), a different test.
    options.first_address = (round_++ * 150) % 19950;
    options.limit = std::chrono::seconds(120);
    options.client.timeout = milliseconds(200);
    options.client.max_timeout = milliseconds(1000);
    options.client.max_retries = 15;
    return RunConcurrentDownloads(service, jobs, options);
  }

  TempDir root_;
  std::vector<std::string> contents_;
  size_t round_ = 0;
};

TEST_F(Soak, MixedLoadWithLossLeavesDescriptorsAndMemoryAsTheyWere) {
  TftpdProcess server;
  TFTPD_START_OR_SKIP(
      server, root_.path(),
      {"--inject_faults=loss=0.05,duplicate=0.02,reorder=0.02,seed=99",
       "--timeout=0.2", "--max_timeout=1", "--retries=15"},
      "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  const int idle_fds = ReadProcessResources(server.pid()).fds;
  std::mt19937 random(20261121);

  // A first round warms what is kept on purpose (mapped files, buffers,
  // the allocator's arenas); "before" is measured once it has settled.
  DownloadReport warm = Round(service, &random);
  EXPECT_TRUE(warm.failures.empty());
  const ProcessResources before =
      SettleTo(server.pid(), idle_fds, std::chrono::seconds(30));
  ASSERT_EQ(before.fds, idle_fds) << "transfers did not end:\n" << server.log();

  const auto end = Clock::now() + std::chrono::seconds(SoakSeconds());
  int rounds = 0;
  int completed = 0;
  std::map<std::string, int> failures;
  std::vector<std::string> failed_jobs;
  while (Clock::now() < end) {
    const DownloadReport report = Round(service, &random);
    ++rounds;
    completed += report.completed;
    for (const auto& [reason, count] : report.failures) {
      failures[reason] += count;
    }
    failed_jobs.insert(failed_jobs.end(), report.failed_jobs.begin(),
                       report.failed_jobs.end());
  }
  const ProcessResources after =
      SettleTo(server.pid(), idle_fds, std::chrono::seconds(30));
  std::printf(
      "soak: %d rounds in %d s, %d downloads completed\n"
      "before: %s\nafter:  %s\n",
      rounds, SoakSeconds(), completed, Describe(before).c_str(),
      Describe(after).c_str());
  std::string failed;
  for (const auto& [reason, count] : failures) {
    failed += reason + ": " + std::to_string(count) + "\n";
  }
  for (const std::string& job : failed_jobs) failed += job + "\n";
  EXPECT_TRUE(failures.empty()) << failed;
  if (!failures.empty()) {
    // What the server saw of the failed clients.
    for (const std::string& job : failed_jobs) {
      const std::string client = job.substr(7, job.find(' ') - 7);
      for (absl::string_view line : absl::StrSplit(server.log(), '\n')) {
        if (absl::StrContains(line, "peer=" + client)) {
          std::printf("%s\n", std::string(line).c_str());
        }
      }
    }
  }
  EXPECT_EQ(after.fds, before.fds);
  if (!kSanitizedAllocator) {
    // The same memory, give or take what the allocator keeps between
    // rounds: growth that scaled with the load would be many times this.
    EXPECT_LE(after.rss_anon_kib - before.rss_anon_kib, 4 * 1024);
  }
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

}  // namespace
}  // namespace tftpd::testing
