// Requests that try to leave the served root, or name things that are not
// regular files, get the right ERROR and never a byte from outside.
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

constexpr int kFileNotFound = 1;
constexpr int kAccessViolation = 2;
constexpr int kIllegalOperation = 4;
constexpr int kUnknownTid = 5;

class Confinement : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    // <dir>/secret lies outside <dir>/root.
    ASSERT_TRUE(MakeRootWithEscapes(dir_, "outside the root", &root_));
    dir_.Write("root/ok.txt", "served");
    dir_.Write("root/sub/deep.txt", "deep");
    ASSERT_EQ(symlink("sub/deep.txt", (root_ + "/inside_link").c_str()), 0);
    std::vector<std::string> flags;
    if (portable()) flags.push_back("--portable_resolver");
    TFTPD_START_OR_SKIP(server_, root_, flags, "127.0.0.1");
    service_ = *io::SocketAddress::Parse("127.0.0.1", server_.port());
  }

  bool portable() const { return GetParam(); }

  // The first reply to an RRQ for `name`.
  std::string Ask(const std::string& name, uint16_t opcode = 1) {
    RawClient client;
    client.SendTo(service_, RequestPacket(opcode, name));
    auto reply = client.Receive();
    return reply.has_value() ? reply->first : std::string();
  }

  TempDir dir_;
  std::string root_;
  TftpdProcess server_;
  io::SocketAddress service_;
};

TEST_P(Confinement, ServesFilesInsideTheRoot) {
  const std::string reply = Ask("ok.txt");
  ASSERT_EQ(OpcodeOf(reply), 3);
  EXPECT_EQ(reply.substr(4), "served");
  EXPECT_EQ(Ask("/ok.txt").substr(4), "served");
  EXPECT_EQ(Ask("sub/deep.txt").substr(4), "deep");
  // The portable walk refuses every "..", even one that stays inside.
  if (portable()) {
    EXPECT_EQ(ErrorCodeOf(Ask("sub/../ok.txt")), kAccessViolation);
  } else {
    EXPECT_EQ(Ask("sub/../ok.txt").substr(4), "served");
  }
}

TEST_P(Confinement, EscapesAreRefused) {
  for (const char* name :
       {"../secret", "../../../../../../etc/passwd", "sub/../../secret",
        "/../secret", "escape", "relative_escape", "escape_dir/inner",
        "./../secret", "sub/./../../secret"}) {
    const std::string reply = Ask(name);
    EXPECT_EQ(ErrorCodeOf(reply), kAccessViolation) << name;
    EXPECT_EQ(reply.find("outside"), std::string::npos) << name;
  }
}

TEST_P(Confinement, AbsolutePathsAndBackslashesStayInsideTheRoot) {
  // "/etc/passwd" means <root>/etc/passwd, which does not exist.
  for (const char* name :
       {"/etc/passwd", "//etc/passwd", "..\\secret", "..\\..\\etc\\passwd",
        "sub\\..\\..\\secret", "C:\\secret"}) {
    const std::string reply = Ask(name);
    EXPECT_EQ(ErrorCodeOf(reply), kFileNotFound) << name;
  }
}

TEST_P(Confinement, OnlyRegularFilesAreServed) {
  EXPECT_EQ(ErrorCodeOf(Ask("sub")), kAccessViolation);
  EXPECT_EQ(ErrorCodeOf(Ask("/")), kAccessViolation);
  EXPECT_EQ(ErrorCodeOf(Ask("fifo")), kAccessViolation);
  EXPECT_EQ(ErrorCodeOf(Ask("missing.bin")), kFileNotFound);
  EXPECT_EQ(ErrorCodeOf(Ask("sub/missing/deeper")), kFileNotFound);
}

TEST_P(Confinement, SymlinksInsideTheRoot) {
  const std::string reply = Ask("inside_link");
  if (portable()) {
    // The portable walk follows no symlink at all.
    EXPECT_EQ(ErrorCodeOf(reply), kAccessViolation);
  } else {
    EXPECT_EQ(reply.substr(4), "deep");
  }
}

TEST_P(Confinement, WriteRequestsAreRefusedUntilUploadsExist) {
  EXPECT_EQ(ErrorCodeOf(Ask("new.cfg", 2)), kIllegalOperation);
}

TEST_P(Confinement, MalformedRequestsGetError4AndOthersAreIgnored) {
  RawClient client;
  client.SendTo(service_, RequestPacket(1, "ok.txt", "binary"));
  auto reply = client.Receive();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(ErrorCodeOf(reply->first), kIllegalOperation);
  // A stray ACK to the service port is not answered (no reflection).
  client.SendTo(service_, AckPacket(1));
  EXPECT_FALSE(client.Receive(std::chrono::milliseconds(300)).has_value());
}

TEST_P(Confinement, StrangersGetError5AndTheTransferCarriesOn) {
  dir_.Write("root/two_blocks", std::string(700, 'x'));
  RawClient client;
  client.SendTo(service_, RequestPacket(1, "two_blocks"));
  auto first = client.Receive();
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(OpcodeOf(first->first), 3);
  const io::SocketAddress tid = first->second;
  EXPECT_NE(tid.port(), service_.port());  // A new TID for the transfer.
  RawClient stranger;
  stranger.SendTo(tid, AckPacket(1));
  auto rebuff = stranger.Receive();
  ASSERT_TRUE(rebuff.has_value());
  EXPECT_EQ(ErrorCodeOf(rebuff->first), kUnknownTid);
  client.SendTo(tid, AckPacket(1));
  auto second = client.Receive();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(OpcodeOf(second->first), 3);
  EXPECT_EQ(second->first.size(), 4u + 188u);
}

TEST_P(Confinement, ARepeatedRequestDoesNotStartASecondTransfer) {
  RawClient client;
  client.SendTo(service_, RequestPacket(1, "ok.txt"));
  client.SendTo(service_, RequestPacket(1, "ok.txt"));
  auto first = client.Receive();
  ASSERT_TRUE(first.has_value());
  // A second transfer would send its own DATA 1 from another port at once;
  // the only transfer resends only after its 1 s timeout.
  auto more = client.Receive(std::chrono::milliseconds(500));
  EXPECT_FALSE(more.has_value())
      << "second reply from port " << more->second.port();
}

TEST_P(Confinement, ANewRequestRightAfterTheLastPacketIsAnsweredAtOnce) {
  // UEFI asks for the size, ends that with ERROR 8 and asks again from the
  // same port at once; a client may also reuse its port for the next file
  // right after the final ACK. Whichever packet the server reads first, the
  // new request must be answered now, not after the client's timeout.
  RawClient client;
  const std::vector<std::string> probe_options = {"tsize", "0", "blksize",
                                                  "1468"};
  client.SendTo(service_, RequestPacket(1, "ok.txt", "octet", probe_options));
  auto oack = client.Receive();
  ASSERT_TRUE(oack.has_value());
  ASSERT_EQ(OpcodeOf(oack->first), 6);
  std::string error8 = {0, 5, 0, 8};
  error8 += "size probe";
  error8.push_back('\0');
  client.SendTo(oack->second, error8);
  client.SendTo(service_, RequestPacket(1, "ok.txt"));
  auto data = client.Receive(std::chrono::milliseconds(300));
  ASSERT_TRUE(data.has_value()) << "the second request was not answered";
  ASSERT_EQ(OpcodeOf(data->first), 3);
  EXPECT_EQ(data->first.substr(4), "served");
  // The last ACK, then at once the next request from the same port.
  client.SendTo(data->second, AckPacket(1));
  client.SendTo(service_, RequestPacket(1, "sub/deep.txt"));
  auto next = client.Receive(std::chrono::milliseconds(300));
  ASSERT_TRUE(next.has_value()) << "the third request was not answered";
  EXPECT_EQ(next->first.substr(4), "deep");
}

TEST_P(Confinement, FilesNotWorldReadableAreRefused) {
  dir_.Write("root/private.key", "secret");
  ASSERT_EQ(chmod((root_ + "/private.key").c_str(), 0640), 0);
  const std::string reply = Ask("private.key");
  EXPECT_EQ(ErrorCodeOf(reply), kAccessViolation);
  EXPECT_NE(reply.find("not world-readable"), std::string::npos);
}

TEST(Permissions, PermissiveServesFilesNotWorldReadable) {
  TempDir root;
  root.Write("private.key", "secret");
  ASSERT_EQ(chmod(root.Join("private.key").c_str(), 0600), 0);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--permissive"}, "127.0.0.1");
  const HandRead r =
      ReadTransferByHand(*io::SocketAddress::Parse("127.0.0.1", server.port()),
                         "private.key", std::chrono::seconds(2));
  EXPECT_EQ(r.bytes, "secret");
}

INSTANTIATE_TEST_SUITE_P(Resolvers, Confinement, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "portable" : "openat2";
                         });

}  // namespace
}  // namespace tftpd::testing
