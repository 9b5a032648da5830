// Real TFTP clients from Debian (curl, tftp-hpa, atftp, busybox) fetch files
// from the real tftpd binary on loopback; every download must be
// byte-identical.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

struct Case {
  std::string client;  // curl, tftp-hpa, atftp or busybox.
  std::string file;
  int blksize = 0;     // 0: the client's default; -1: no options at all.
  int windowsize = 0;  // 0: not asked.
  bool ipv6 = false;
};

std::string Name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string name = absl::StrCat(c.client, "_", c.file);
  if (c.blksize > 0) absl::StrAppend(&name, "_blksize", c.blksize);
  if (c.blksize < 0) absl::StrAppend(&name, "_nooptions");
  if (c.windowsize > 0) absl::StrAppend(&name, "_window", c.windowsize);
  if (c.ipv6) absl::StrAppend(&name, "_ipv6");
  for (char& ch : name) {
    if (ch == '-' || ch == '.') ch = '_';
  }
  return name;
}

const std::vector<std::pair<std::string, size_t>>& Files() {
  static const auto*
      files =
          new std::vector<std::pair<std::string, size_t>>{
              {"f0", 0},          {"f1", 1},     {"f511", 511},
              {"f512", 512},      {"f513", 513}, {"f1m", 1 << 20},
              {"f40m", 40 << 20},  // 81,920 blocks at 512: the block number
                                   // rolls over.
          };
  return *files;
}

class RealClients : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() {
    root_ = new TempDir();
    for (const auto& [name, size] : Files()) {
      root_->Write(name, TestContent(size, static_cast<uint32_t>(size)));
    }
    server_ = new TftpdProcess();
    start_status_ = new absl::Status(server_->Start(root_->path()));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete root_;
    delete start_status_;
  }
  void SetUp() override {
    if (!start_status_->ok() && server_->io_uring_refused()) {
      GTEST_SKIP() << "the kernel refuses io_uring: " << server_->log();
    }
    ASSERT_TRUE(start_status_->ok()) << *start_status_;
  }

  std::vector<std::string> Command(const Case& c, const std::string& out) {
    const std::string host = c.ipv6 ? "::1" : "127.0.0.1";
    const std::string port = std::to_string(server_->port());
    if (c.client == "curl") {
      std::vector<std::string> argv = {"curl", "-sS", "--max-time",
                                       "120",  "-o",  out};
      if (c.blksize > 0) {
        argv.insert(argv.end(), {"--tftp-blksize", std::to_string(c.blksize)});
      }
      if (c.blksize < 0) argv.push_back("--tftp-no-options");
      const std::string url_host = c.ipv6 ? "[::1]" : host;
      argv.push_back(absl::StrCat("tftp://", url_host, ":", port, "/", c.file));
      return argv;
    }
    if (c.client == "tftp-hpa") {
      return {"tftp", c.ipv6 ? "-6" : "-4",
              "-m",   "binary",
              host,   port,
              "-c",   "get",
              c.file, out};
    }
    if (c.client == "atftp") {
      std::vector<std::string> argv = {"atftp", "--get", "-r",
                                       c.file,  "-l",    out};
      if (c.blksize > 0) {
        argv.insert(argv.end(),
                    {"--option", absl::StrCat("blksize ", c.blksize)});
      }
      if (c.windowsize > 0) {
        argv.insert(argv.end(),
                    {"--option", absl::StrCat("windowsize ", c.windowsize)});
      }
      argv.insert(argv.end(), {"--option", "tsize 0", host, port});
      return argv;
    }
    std::vector<std::string> argv = {"busybox", "tftp", "-g", "-r",
                                     c.file,    "-l",   out};
    if (c.blksize > 0) {
      argv.insert(argv.end(), {"-b", std::to_string(c.blksize)});
    }
    argv.insert(argv.end(), {host, port});
    return argv;
  }

  static TempDir* root_;
  static TftpdProcess* server_;
  static absl::Status* start_status_;
};

TempDir* RealClients::root_ = nullptr;
TftpdProcess* RealClients::server_ = nullptr;
absl::Status* RealClients::start_status_ = nullptr;

TEST_P(RealClients, DownloadIsByteIdentical) {
  const Case& c = GetParam();
  TempDir scratch;
  const std::string out = scratch.Join("download");
  const CommandResult result = RunCommand(Command(c, out));
  ASSERT_EQ(result.exit_code, 0) << result.output << "\n" << server_->log();
  const std::string expected = ReadFile(root_->Join(c.file));
  const std::string got = ReadFile(out);
  ASSERT_EQ(got.size(), expected.size()) << result.output;
  EXPECT_TRUE(got == expected) << "content differs";
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  for (const auto& [file, size] : Files()) {
    cases.push_back({"curl", file});
    cases.push_back({"tftp-hpa", file});
    cases.push_back({"busybox", file});
    if (size < (1 << 20)) cases.push_back({"atftp", file, 512, 4});
  }
  for (int blksize : {512, 1428, 8192, 65464}) {
    cases.push_back({"curl", "f1m", blksize});
    cases.push_back({"busybox", "f1m", blksize});
    for (int window : {1, 4, 16}) {
      cases.push_back({"atftp", "f1m", blksize, window});
    }
  }
  cases.push_back({"curl", "f1m", -1});
  cases.push_back({"atftp", "f40m", 512, 16});  // Rollover with windows.
  cases.push_back({"curl", "f1m", 1428, 0, true});
  cases.push_back({"tftp-hpa", "f513", 0, 0, true});
  cases.push_back({"atftp", "f1m", 1428, 4, true});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Matrix, RealClients, ::testing::ValuesIn(Cases()),
                         Name);

TEST(RealClientsNetascii, TextComesBackWithItsLineEnds) {
  TempDir root;
  const std::string text = "line one\nline two\r\nbare\rcr\n\nend";
  root.Write("notes.txt", text);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path());
  TempDir scratch;
  const std::string out = scratch.Join("notes.txt");
  const CommandResult result = RunCommand(
      {"tftp", "-4", "-m", "ascii", "127.0.0.1", std::to_string(server.port()),
       "-c", "get", "notes.txt", out});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(ReadFile(out), text);
  const std::string log =
      server.LogOnceItContains("file=notes.txt outcome=completed");
  EXPECT_NE(log.find("file=notes.txt outcome=completed"), std::string::npos)
      << log;
}

}  // namespace
}  // namespace tftpd::testing
