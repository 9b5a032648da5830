// Uploads (WRQ) into the real tftpd: the real clients Debian ships push
// files of edge sizes, and what they leave must be byte-identical; uploads
// that do not complete, that are too large, that would replace a file, or
// that race for one name leave nothing half-written and get clear ERRORs.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

using std::chrono::milliseconds;

constexpr int kAck = 4;
constexpr int kError = 5;
constexpr int kOack = 6;

// The names in `dir` (temporary upload files included), sorted.
std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str()); d != nullptr) {
    while (const dirent* entry = readdir(d)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string DataPacket(uint16_t block, const std::string& payload) {
  std::string d = {0, 3, static_cast<char>(block >> 8),
                   static_cast<char>(block & 0xff)};
  return d + payload;
}

uint16_t BlockOf(const std::string& datagram) {
  return static_cast<uint16_t>((static_cast<uint8_t>(datagram[2]) << 8) |
                               static_cast<uint8_t>(datagram[3]));
}

// An upload by hand, lock-step with 512-byte blocks: sends `content` (or
// only its first `stop_after` blocks, then goes silent). Returns the ERROR
// code that ended it, 0 when the final ACK came, or -1 on silence.
int UploadByHand(RawClient& client, const io::SocketAddress& service,
                 const std::string& name, const std::string& content,
                 const std::vector<std::string>& options = {},
                 std::optional<size_t> stop_after = std::nullopt) {
  client.SendTo(service, RequestPacket(2, name, "octet", options));
  auto reply = client.Receive();
  if (!reply.has_value()) return -1;
  if (OpcodeOf(reply->first) == kError) return ErrorCodeOf(reply->first);
  if (OpcodeOf(reply->first) != kAck && OpcodeOf(reply->first) != kOack) {
    return -1;
  }
  const io::SocketAddress tid = reply->second;
  const size_t blocks = content.size() / 512 + 1;
  for (size_t i = 0; i < blocks; ++i) {
    if (stop_after.has_value() && i >= *stop_after) return -1;
    const uint16_t block = static_cast<uint16_t>(i + 1);
    client.SendTo(tid, DataPacket(block, content.substr(i * 512, 512)));
    auto ack = client.Receive();
    if (!ack.has_value()) return -1;
    if (OpcodeOf(ack->first) == kError) return ErrorCodeOf(ack->first);
    if (OpcodeOf(ack->first) != kAck || BlockOf(ack->first) != block) {
      return -1;
    }
  }
  return 0;
}

class Uploads : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> flags) { Start(server_, flags); }
  // A server of its own (a restart) on the same roots; service_ is its.
  void Start(TftpdProcess& server, std::vector<std::string> flags) {
    flags.push_back("--allow_write");
    flags.push_back("--write_root=" + incoming_.path());
    flags.push_back("--timeout=0.3");
    flags.push_back("--max_timeout=0.6");
    flags.push_back("--retries=2");
    TFTPD_START_OR_SKIP(server, root_.path(), flags, "127.0.0.1");
    service_ = *io::SocketAddress::Parse("127.0.0.1", server.port());
  }
  std::string Port() const { return std::to_string(server_.port()); }

  TempDir root_;
  TempDir incoming_;
  TempDir sources_;
  TftpdProcess server_;
  io::SocketAddress service_;
};

TEST_F(Uploads, RealClientsUploadEdgeSizesByteForByte) {
  Start({"--create"});
  struct Case {
    std::string client;
    size_t size;
  };
  std::vector<Case> cases;
  for (const std::string client : {"curl", "tftp-hpa", "atftp", "busybox"}) {
    for (size_t size : {0, 511, 512, 513, 1 << 20}) {
      cases.push_back({client, size});
    }
  }
  // 81,920 blocks at 512 bytes: the block number rolls over.
  cases.push_back({"curl", 40u << 20});
  cases.push_back({"atftp", 40u << 20});
  for (const Case& c : cases) {
    const std::string name = absl::StrCat(c.client, "_", c.size, ".bin");
    const std::string content =
        TestContent(c.size, static_cast<uint32_t>(c.size + 11));
    sources_.Write(name, content);
    const std::string local = sources_.Join(name);
    std::vector<std::string> argv;
    if (c.client == "curl") {
      argv = {"curl",
              "-sS",
              "--max-time",
              "120",
              "-T",
              local,
              absl::StrCat("tftp://127.0.0.1:", Port(), "/", name)};
    } else if (c.client == "tftp-hpa") {
      argv = {"tftp", "-m",  "binary", "127.0.0.1", Port(),
              "-c",   "put", local,    name};
    } else if (c.client == "atftp") {
      argv = {"atftp",        "--option", "blksize 1428", "--option",
              "windowsize 8", "-p",       "-l",           local,
              "-r",           name,       "127.0.0.1",    Port()};
    } else {
      argv = {"busybox", "tftp", "-p",        "-l",  local,
              "-r",      name,   "127.0.0.1", Port()};
    }
    const CommandResult result = RunCommand(argv, std::chrono::seconds(180));
    EXPECT_EQ(result.exit_code, 0) << c.client << " " << name << "\n"
                                   << result.output;
    EXPECT_TRUE(ReadFile(incoming_.Join(name)) == content)
        << c.client << " " << name << " differs";
  }
  // Nothing but the uploaded files: no temporary file left behind.
  EXPECT_EQ(Listing(incoming_.path()).size(), cases.size());
}

// Any blksize a client asks for: the OACK grants what the server's receive
// buffers hold, and the file arrives whole (a 2 KiB buffer once cut larger
// blocks, and the cut block was taken as the last).
TEST_F(Uploads, EveryBlksizeArrivesByteForByte) {
  Start({"--create"});
  const std::string content = TestContent(300000, 21);
  sources_.Write("big.bin", content);
  const std::string local = sources_.Join("big.bin");
  std::vector<std::pair<std::string, std::vector<std::string>>> runs;
  for (const std::string blksize : {"512", "1428", "8192", "65464"}) {
    for (const std::string window : {"1", "16"}) {
      const std::string name = absl::StrCat("atftp_", blksize, "_", window);
      runs.push_back({name,
                      {"atftp", "--option", "blksize " + blksize, "--option",
                       "windowsize " + window, "-p", "-l", local, "-r", name,
                       "127.0.0.1", Port()}});
    }
    const std::string name = absl::StrCat("curl_", blksize);
    runs.push_back(
        {name,
         {"curl", "-sS", "--max-time", "60", "--tftp-blksize", blksize, "-T",
          local, absl::StrCat("tftp://127.0.0.1:", Port(), "/", name)}});
  }
  for (const auto& [name, argv] : runs) {
    const CommandResult result = RunCommand(argv, std::chrono::seconds(90));
    EXPECT_EQ(result.exit_code, 0) << name << "\n" << result.output;
    EXPECT_TRUE(ReadFile(incoming_.Join(name)) == content)
        << name << ": " << ReadFile(incoming_.Join(name)).size() << " of "
        << content.size() << " bytes stored";
  }
}

TEST_F(Uploads, AnInterruptedUploadLeavesNothing) {
  Start({"--create"});
  RawClient client;
  EXPECT_EQ(UploadByHand(client, service_, "half.cfg", TestContent(10 * 512, 3),
                         {}, /*stop_after=*/4),
            -1);
  // The server retries twice (0.3 s, then 0.6 s), then gives up.
  server_.LogOnceItContains("file=half.cfg outcome=timed_out",
                            std::chrono::seconds(5));
  // The temporary file goes on a committer thread once the transfer ends.
  EXPECT_TRUE(WaitUntil([&] { return Listing(incoming_.path()).empty(); }))
      << server_.log();
}

TEST_F(Uploads, UploadsOverTheLimitAreRefusedWithError3) {
  Start({"--create", "--max_upload_bytes=10000"});
  // Announced with tsize: refused before a byte is sent.
  RawClient announced;
  EXPECT_EQ(UploadByHand(announced, service_, "big1.bin", TestContent(20000, 1),
                         {"tsize", "20000"}),
            3);
  // Not announced: refused once it grows past the limit.
  RawClient silent;
  EXPECT_EQ(UploadByHand(silent, service_, "big2.bin", TestContent(20000, 2)),
            3);
  // At the limit: accepted.
  RawClient fits;
  EXPECT_EQ(UploadByHand(fits, service_, "fits.bin", TestContent(10000, 3),
                         {"tsize", "10000"}),
            0);
  server_.LogOnceItContains("file=big2.bin");
  const std::vector<std::string> only_fits = {"fits.bin"};
  EXPECT_TRUE(WaitUntil([&] { return Listing(incoming_.path()) == only_fits; }))
      << server_.log();
  EXPECT_EQ(ReadFile(incoming_.Join("fits.bin")), TestContent(10000, 3));
}

TEST_F(Uploads, ExistingFilesAreKeptWithoutOverwrite) {
  incoming_.Write("switch.cfg", "old");
  Start({"--create"});
  RawClient client;
  EXPECT_EQ(UploadByHand(client, service_, "switch.cfg", "new"), 6);
  EXPECT_EQ(ReadFile(incoming_.Join("switch.cfg")), "old");
}

TEST_F(Uploads, OverwriteReplacesWholeFiles) {
  incoming_.Write("switch.cfg", "old");
  ASSERT_EQ(chmod(incoming_.Join("switch.cfg").c_str(), 0666), 0);
  Start({"--overwrite"});
  RawClient client;
  const std::string content = TestContent(3000, 5);
  EXPECT_EQ(UploadByHand(client, service_, "switch.cfg", content), 0);
  EXPECT_EQ(ReadFile(incoming_.Join("switch.cfg")), content);
  // Without --create a new name is refused.
  RawClient other;
  EXPECT_EQ(UploadByHand(other, service_, "new.cfg", "x"), 1);
}

// As tftpd-hpa: --overwrite replaces only files the world may write (not
// pxelinux.0 or a kernel), and a replaced file keeps its mode;
// --permissive replaces any.
TEST_F(Uploads, OverwriteReplacesOnlyWorldWritableFilesAndKeepsTheirMode) {
  incoming_.Write("pxelinux.0", "boot loader");
  ASSERT_EQ(chmod(incoming_.Join("pxelinux.0").c_str(), 0644), 0);
  incoming_.Write("switch.cfg", "old");
  ASSERT_EQ(chmod(incoming_.Join("switch.cfg").c_str(), 0666), 0);
  Start({"--overwrite"});
  RawClient client;
  EXPECT_EQ(UploadByHand(client, service_, "pxelinux.0", "evil"), 2);
  EXPECT_EQ(ReadFile(incoming_.Join("pxelinux.0")), "boot loader");
  RawClient other;
  EXPECT_EQ(UploadByHand(other, service_, "switch.cfg", "new"), 0);
  EXPECT_EQ(ReadFile(incoming_.Join("switch.cfg")), "new");
  struct stat info;
  ASSERT_EQ(stat(incoming_.Join("switch.cfg").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0666u);
}

TEST_F(Uploads, PermissiveOverwritesAnyFile) {
  incoming_.Write("pxelinux.0", "boot loader");
  ASSERT_EQ(chmod(incoming_.Join("pxelinux.0").c_str(), 0640), 0);
  Start({"--overwrite", "--permissive"});
  RawClient client;
  EXPECT_EQ(UploadByHand(client, service_, "pxelinux.0", "replaced"), 0);
  EXPECT_EQ(ReadFile(incoming_.Join("pxelinux.0")), "replaced");
  struct stat info;
  ASSERT_EQ(stat(incoming_.Join("pxelinux.0").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0640u);
}

// New files take 0666 without the --umask bits (077 by default: private).
TEST_F(Uploads, NewFilesTakeTheirModeFromTheUmask) {
  Start({"--create", "--umask=022"});
  RawClient client;
  EXPECT_EQ(UploadByHand(client, service_, "new.cfg", "x"), 0);
  struct stat info;
  ASSERT_EQ(stat(incoming_.Join("new.cfg").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0644u);
}

TEST_F(Uploads, TwoUploadsOfOneNameEndWithOneFileAndOneError) {
  Start({"--create"});
  RawClient first;
  RawClient second;
  const std::string a = TestContent(2000, 7);
  const std::string b = TestContent(2500, 8);
  // Both open before either finishes.
  first.SendTo(service_, RequestPacket(2, "race.cfg"));
  second.SendTo(service_, RequestPacket(2, "race.cfg"));
  auto first_ack = first.Receive();
  auto second_ack = second.Receive();
  ASSERT_TRUE(first_ack.has_value() && second_ack.has_value());
  ASSERT_EQ(OpcodeOf(first_ack->first), kAck);
  ASSERT_EQ(OpcodeOf(second_ack->first), kAck);
  auto send_all = [](RawClient& c, const io::SocketAddress& tid,
                     const std::string& content) {
    int last = -1;
    for (size_t i = 0; i <= content.size() / 512; ++i) {
      c.SendTo(tid, DataPacket(static_cast<uint16_t>(i + 1),
                               content.substr(i * 512, 512)));
      auto reply = c.Receive();
      if (!reply.has_value()) return -1;
      last = OpcodeOf(reply->first) == kError ? ErrorCodeOf(reply->first) : 0;
      if (last != 0) return last;
    }
    return last;
  };
  const int first_result = send_all(first, first_ack->second, a);
  const int second_result = send_all(second, second_ack->second, b);
  EXPECT_EQ(first_result, 0);
  EXPECT_EQ(second_result, 6);
  EXPECT_EQ(ReadFile(incoming_.Join("race.cfg")), a);
  EXPECT_EQ(Listing(incoming_.path()), std::vector<std::string>{"race.cfg"});
}

TEST_F(Uploads, NamesStayInsideTheWriteRoot) {
  Start({"--create", "--overwrite"});
  for (const std::string name :
       {"../escape.cfg", "sub/../../escape.cfg", "missing/dir/x.cfg", "."}) {
    RawClient client;
    const int code = UploadByHand(client, service_, name, "x");
    EXPECT_TRUE(code == 1 || code == 2) << name << ": " << code;
  }
  EXPECT_TRUE(Listing(incoming_.path()).empty());
  // Netascii uploads are refused with a reason.
  RawClient text;
  text.SendTo(service_, RequestPacket(2, "a.txt", "netascii"));
  auto reply = text.Receive();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(OpcodeOf(reply->first), kError);
}

// Content from the network never runs with another user's rights: a
// replaced set-user-ID (or set-group-ID, or sticky) file loses those bits,
// whoever tftpd runs as. Before, curl's upload over a root-owned 4777 file
// left -rwsrwxrwx root holding it.
TEST_F(Uploads, AReplacedSetIdFileLosesItsBits) {
  for (const char* name : {"suid.sh", "sgid.sh", "sticky.sh"}) {
    incoming_.Write(name, "old");
  }
  ASSERT_EQ(chmod(incoming_.Join("suid.sh").c_str(), 04777), 0);
  ASSERT_EQ(chmod(incoming_.Join("sgid.sh").c_str(), 06777), 0);
  ASSERT_EQ(chmod(incoming_.Join("sticky.sh").c_str(), 01777), 0);
  std::vector<std::string> flags = {"--overwrite"};
  if (geteuid() == 0) flags.push_back("--user=root");  // As the finding ran.
  Start(flags);
  sources_.Write("payload.sh", "#!/bin/sh\nid\n");
  for (const char* name : {"suid.sh", "sgid.sh", "sticky.sh"}) {
    const CommandResult result = RunCommand(
        {"curl", "-sS", "--max-time", "30", "-T", sources_.Join("payload.sh"),
         "tftp://127.0.0.1:" + Port() + "/" + name});
    ASSERT_EQ(result.exit_code, 0) << name << ": " << result.output;
    EXPECT_EQ(ReadFile(incoming_.Join(name)), "#!/bin/sh\nid\n");
    struct stat info;
    ASSERT_EQ(stat(incoming_.Join(name).c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0777u) << name;
  }
}

// A WRQ alone (a forged one never sends a block) leaves nothing on disk;
// what a crash leaves of an upload in progress is gone once tftpd has
// started again. Before, every WRQ made an empty temporary file, and one
// killed mid-upload stayed across restarts.
TEST_F(Uploads, NeitherAForgedRequestNorACrashLeavesAFile) {
  Start({"--create"});
  RawClient forger;
  forger.SendTo(service_, RequestPacket(2, "forged.cfg"));
  ASSERT_TRUE(forger.Receive().has_value());  // ACK 0: the WRQ was taken.
  EXPECT_TRUE(Listing(incoming_.path()).empty());
  RawClient client;
  EXPECT_EQ(UploadByHand(client, service_, "half.cfg", TestContent(10 * 512, 3),
                         {}, /*stop_after=*/3),
            -1);
  ASSERT_EQ(Listing(incoming_.path()).size(), 1u);
  server_.Signal(SIGKILL);
  server_.Stop();
  ASSERT_EQ(Listing(incoming_.path()).size(), 1u);  // Left by the crash.
  incoming_.Write("kept.cfg", "not an upload in progress");
  TftpdProcess restarted;
  Start(restarted, {"--create"});
  EXPECT_EQ(Listing(incoming_.path()), std::vector<std::string>{"kept.cfg"});
  EXPECT_TRUE(
      absl::StrContains(restarted.log(), "removed 1 unfinished uploads"))
      << restarted.log();
}

// In single-port mode nothing proves where a WRQ and its blocks came from:
// uploads there are refused unless the operator turns them on.
TEST_F(Uploads, SinglePortUploadsNeedTheirOwnFlag) {
  Start({"--create", "--single_port", "--single_port_uploads=false"});
  RawClient refused;
  EXPECT_EQ(UploadByHand(refused, service_, "a.cfg", "x"), 4);
  EXPECT_TRUE(Listing(incoming_.path()).empty());
  TftpdProcess allowing;
  Start(allowing, {"--create", "--single_port", "--single_port_uploads"});
  RawClient accepted;
  EXPECT_EQ(UploadByHand(accepted, service_, "a.cfg", "x"), 0);
  EXPECT_TRUE(WaitUntil([&] { return Listing(incoming_.path()).size() == 1; }));
}

TEST(UploadsOff, WriteRequestsAreRefusedByDefault) {
  TempDir root;
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {}, "127.0.0.1");
  RawClient client;
  EXPECT_EQ(UploadByHand(client,
                         *io::SocketAddress::Parse("127.0.0.1", server.port()),
                         "x.cfg", "x"),
            4);
  EXPECT_TRUE(Listing(root.path()).empty());
}

}  // namespace
}  // namespace tftpd::testing
