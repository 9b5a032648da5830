// A hostile network against the running server: hundreds of traversal
// attempts in every spelling and malformed datagrams, while good clients
// download. Every attempt gets an ERROR or a file from inside the root;
// nothing outside the root is ever sent, garbage is never answered, and the
// good clients are all served.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/integration/concurrent_downloads.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

constexpr char kOutside[] = "OUTSIDE-THE-ROOT";

std::vector<std::string> TraversalNames() {
  const std::vector<std::string> targets = {
      "secret", "outside/inner", "etc/passwd", "proc/self/environ", "dev/zero"};
  const std::vector<std::string> climbs = {
      "../",       "../../",       "../../../../../../../../",
      "..\\",      "..\\..\\",     "....//",
      "..//",      "../.././",     "sub/../../",
      "./../",     "sub/./../../", "%2e%2e/",
      "%2e%2e%2f", "..%2f",        ".%2e/",
      "..;/",      "\\..\\",       "..\\/",
      "/../",      "//../",        "sub/deeper/../../../",
  };
  const std::vector<std::string> prefixes = {"",   "/",    "//",     "./",
                                             "\\", "C:\\", "file://"};
  std::vector<std::string> names;
  for (const std::string& prefix : prefixes) {
    for (const std::string& climb : climbs) {
      for (const std::string& target : targets) {
        names.push_back(prefix + climb + target);
      }
    }
  }
  // Absolute names, links out of the root, special files, odd characters.
  for (const char* name : {"/etc/passwd",
                           "//etc/passwd",
                           "/proc/self/environ",
                           "/dev/zero",
                           "escape",
                           "relative_escape",
                           "escape_dir/inner",
                           "escape_dir",
                           "zero_link",
                           "sub",
                           ".",
                           "..",
                           "/",
                           "fifo",
                           "sub/",
                           "ok.txt/",
                           "ok.txt/..",
                           "ok.txt\n../secret",
                           "ok.txt\r",
                           "\x01ok.txt",
                           "ok\x7f.txt",
                           "\x1b[2J",
                           "ok.txt ",
                           " ok.txt"}) {
    names.push_back(name);
  }
  names.push_back(std::string(400, 'a'));
  names.push_back(std::string(200, '.') + "/secret");
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "../";
  names.push_back(deep + "etc/passwd");
  return names;
}

class HostileClients : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeRootWithEscapes(dir_, kOutside, &root_));
    dir_.Write("root/ok.txt", "served");
    dir_.Write("root/sub/deeper/file", "deep");
    dir_.Write("root/kernel", TestContent(200000, 3));
    ASSERT_EQ(symlink("/dev/zero", (root_ + "/zero_link").c_str()), 0);
  }

  TempDir dir_;
  std::string root_;
};

TEST_F(HostileClients, TraversalAndGarbageWhileGoodClientsDownload) {
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root_, {}, "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());

  // Good clients, all at once, on a thread of their own.
  const std::string kernel = TestContent(200000, 3);
  std::vector<DownloadJob> jobs(60);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].request.filename = "kernel";
    jobs[i].request.blksize = i % 2 ? 1428 : 0;
    jobs[i].request.windowsize = i % 3 == 0 ? 4 : 0;
    jobs[i].expected = &kernel;
  }
  DownloadReport good;
  std::thread downloads([&] { good = RunConcurrentDownloads(service, jobs); });

  // Every traversal attempt, from addresses of its own.
  const std::vector<std::string> names = TraversalNames();
  ASSERT_GT(names.size(), 500u);
  int errors = 0;
  int served = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    RawClient client(ClientAddress(1000 + i).HostString());
    client.SendTo(service, RequestPacket(1, names[i]));
    auto reply = client.Receive(std::chrono::milliseconds(3000));
    ASSERT_TRUE(reply.has_value()) << "no answer to \"" << names[i] << "\"";
    const std::string& d = reply->first;
    EXPECT_FALSE(absl::StrContains(d, kOutside)) << names[i];
    EXPECT_FALSE(absl::StrContains(d, "root:x:0:0")) << names[i];
    if (OpcodeOf(d) == 5) {
      ++errors;
      const int code = ErrorCodeOf(d);
      EXPECT_TRUE(code == 1 || code == 2 || code == 4)
          << names[i] << " " << code;
    } else {
      // Only names that stay inside the root may be served.
      ASSERT_EQ(OpcodeOf(d), 3) << names[i];
      const std::string payload = d.substr(4);
      EXPECT_TRUE(payload == "served" || payload == "deep") << names[i];
      ++served;
    }
  }
  EXPECT_GT(errors, 500);

  // Garbage: random datagrams, a quarter with a known opcode. Only
  // requests are ever answered (each at most once, with an ERROR: none of
  // these names a file); everything else is ignored.
  std::mt19937 random(7);
  RawClient garbage(ClientAddress(5000).HostString());
  int requests = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string datagram(random() % 600, '\0');
    for (char& c : datagram) c = static_cast<char>(random());
    if (i % 4 == 0 && datagram.size() >= 2) {
      datagram[0] = 0;
      datagram[1] = static_cast<char>(1 + random() % 6);  // Known opcodes.
    }
    if (datagram.size() >= 2 && datagram[0] == 0 &&
        (datagram[1] == 1 || datagram[1] == 2)) {
      ++requests;
    }
    garbage.SendTo(service, datagram);
  }
  int replies = 0;
  while (auto reply = garbage.Receive(std::chrono::milliseconds(1000))) {
    ++replies;
    EXPECT_EQ(OpcodeOf(reply->first), 5);
  }
  EXPECT_GT(requests, 0);
  EXPECT_LE(replies, requests);

  downloads.join();
  EXPECT_EQ(good.completed, 60);
  for (const auto& [reason, count] : good.failures) {
    ADD_FAILURE() << count << " good downloads failed: " << reason;
  }
  // And it still serves.
  EXPECT_EQ(
      ReadTransferByHand(service, "ok.txt", std::chrono::seconds(2)).bytes,
      "served");
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

// A file name is the client's to choose: in the log it is one field, quoted
// and escaped, and cannot end the line or add fields of its own.
TEST(HostileNames, FileNamesCannotForgeLogFields) {
  TempDir root;
  const std::string name = "a b outcome=completed \"x\"";
  root.Write(name, "content");
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {}, "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  const HandRead read =
      ReadTransferByHand(service, name, std::chrono::seconds(2));
  EXPECT_EQ(read.bytes, "content");
  const HandRead refused = ReadTransferByHand(service, "nothing reason=forged",
                                              std::chrono::seconds(2));
  EXPECT_EQ(refused.error_code, 1);
  ASSERT_EQ(server.Stop(), 0);
  const std::string log = server.log();
  EXPECT_TRUE(absl::StrContains(
      log, "file=\"a b outcome=completed \\\"x\\\"\" outcome=completed"))
      << log;
  EXPECT_TRUE(
      absl::StrContains(log, "file=\"nothing reason=forged\" reason=not_found"))
      << log;
}

}  // namespace
}  // namespace tftpd::testing
