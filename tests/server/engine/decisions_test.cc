// The engine's decisions on a request, as the values they are, one row per
// case: what a request from a client with a transfer open is
// (ClassifyRepeat), whether a new transfer may open (CheckAdmission), the
// handler's view of a request (MakeContext) and what the handler's answer
// becomes (ResolveResponse).
#include <unistd.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "protocol/packet.h"
#include "protocol/read_transfer.h"
#include "server/engine/admission.h"
#include "server/engine/response_resolution.h"
#include "server/engine/transfer.h"
#include "tests/testing/files.h"
#include "tests/testing/packets.h"

namespace tftpd {
namespace {

using testing::RequestPacket;
using testing::TempDir;

// A read of `size` bytes in lock-step that has sent its first packet.
std::unique_ptr<tftp::ReadTransfer> StartedRead(uint64_t size) {
  auto read = std::make_unique<tftp::ReadTransfer>(
      tftp::TransferConfig{}, tftp::NegotiatedOptions{}, size);
  read->Start(tftp::TimePoint{});
  std::array<uint8_t, 1024> buffer;
  read->NextOutgoing(absl::MakeSpan(buffer));
  return read;
}

struct RepeatCase {
  const char* name;
  TransferPhase phase;
  bool peer_answered;
  uint64_t size;      // 0: one empty block, sent whole at once.
  bool same_request;  // The repeat's fingerprint is the open one's.
  RepeatVerdict expected;
};

TEST(ClassifyRepeat, EachCase) {
  const RepeatCase cases[] = {
      {"waiting for its file", TransferPhase::kWaitingForFile, false, 0, true,
       RepeatVerdict::kDuplicate},
      {"waiting for its stream", TransferPhase::kWaitingForStream, true, 0,
       false, RepeatVerdict::kDuplicate},
      {"all sent and answered, another file", TransferPhase::kSending, true, 0,
       false, RepeatVerdict::kSupersede},
      {"all sent and answered, the same request", TransferPhase::kSending, true,
       0, true, RepeatVerdict::kPark},
      {"all sent, never answered", TransferPhase::kSending, false, 0, false,
       RepeatVerdict::kPark},
      {"more to send, another file", TransferPhase::kSending, true, 100000,
       false, RepeatVerdict::kPark},
  };
  for (const RepeatCase& c : cases) {
    SCOPED_TRACE(c.name);
    Transfer open;
    open.phase = c.phase;
    open.peer_answered = c.peer_answered;
    open.request_fingerprint = 42;
    if (!open.waiting()) open.side = ReadSide{StartedRead(c.size)};
    EXPECT_EQ(ClassifyRepeat(open, c.same_request ? 42 : 43), c.expected);
  }
}

struct AdmissionCase {
  const char* name;
  tftp::Opcode opcode;
  AdmissionLimits limits;
  bool place;  // What find_place answers.
  std::optional<RefusalReason> expected;
  bool place_asked;
};

TEST(CheckAdmission, EachCase) {
  const AdmissionLimits open{.uploads_enabled = true};
  const AdmissionCase cases[] = {
      {"a read with room", tftp::Opcode::kRrq, {}, true, std::nullopt, true},
      {"an upload with room", tftp::Opcode::kWrq, open, true, std::nullopt,
       true},
      {"uploads off",
       tftp::Opcode::kWrq,
       {},
       true,
       RefusalReason::k_uploads_disabled,
       false},
      {"uploads on the service port",
       tftp::Opcode::kWrq,
       {.uploads_enabled = true, .uploads_unproven = true},
       true,
       RefusalReason::k_uploads_disabled,
       false},
      {"an address at its limit",
       tftp::Opcode::kRrq,
       {.address_allowed = false},
       true,
       RefusalReason::k_per_address,
       false},
      {"no place", tftp::Opcode::kRrq, {}, false, RefusalReason::k_busy, true},
  };
  for (const AdmissionCase& c : cases) {
    SCOPED_TRACE(c.name);
    bool asked = false;
    const std::optional<Refusal> refusal =
        CheckAdmission(c.opcode, c.limits, [&] {
          asked = true;
          return c.place;
        });
    ASSERT_EQ(refusal.has_value(), c.expected.has_value());
    if (refusal.has_value()) {
      EXPECT_EQ(refusal->reason, *c.expected);
    }
    // Nothing else refuses before a transfer may be evicted for room.
    EXPECT_EQ(asked, c.place_asked);
  }
}

// `packet` as received by a socket bound to `destination` (AF_UNSPEC: the
// socket did not say) from `source`.
struct Received {
  std::string packet;
  io::Datagram datagram;
  tftp::Request request;

  Received(std::string bytes, const char* source, const char* destination)
      : packet(std::move(bytes)) {
    datagram.payload = absl::MakeConstSpan(
        reinterpret_cast<const uint8_t*>(packet.data()), packet.size());
    datagram.source = *io::SocketAddress::Parse(source, 5000);
    if (*destination != '\0') {
      datagram.destination = *io::SocketAddress::Parse(destination, 0);
    }
    EXPECT_TRUE(tftp::ParseRequest(datagram.payload, &request).ok());
  }
};

TEST(MakeContext, WhatTheHandlerSees) {
  const io::SocketAddress service = *io::SocketAddress::Parse("::", 69);
  Received rrq(RequestPacket(1, "pxelinux.0", "OCTET", {"BlkSize", "1468"}),
               "::ffff:10.0.0.7", "::ffff:10.0.0.1");
  auto made = MakeContext(rrq.datagram, rrq.request, service, 3, nullptr);
  ASSERT_TRUE(std::holds_alternative<RequestContext>(made));
  const RequestContext& context = std::get<RequestContext>(made);
  EXPECT_EQ(context.peer.ToString(), "10.0.0.7:5000");  // Unmapped.
  EXPECT_EQ(context.server_address.HostString(), "10.0.0.1");
  EXPECT_EQ(context.requested_path, "pxelinux.0");
  EXPECT_EQ(context.path, "pxelinux.0");
  EXPECT_EQ(context.mode_name, "octet");
  ASSERT_EQ(context.options.size(), 1u);
  EXPECT_EQ(context.options[0].first, "blksize");
  EXPECT_EQ(context.options[0].second, "1468");
  EXPECT_EQ(context.shard, 3);

  // A socket that did not report the destination: the service address.
  Received unreported(RequestPacket(1, "a"), "10.0.0.7", "");
  made =
      MakeContext(unreported.datagram, unreported.request, service, 0, nullptr);
  ASSERT_TRUE(std::holds_alternative<RequestContext>(made));
  EXPECT_EQ(std::get<RequestContext>(made).server_address.HostString(), "::");
}

TEST(MakeContext, TheMapFileRewritesOrRefuses) {
  RemapTable remap;
  remap.set(
      *RemapRules::Parse("r ^boot/(.*) images/\\1\n"
                         "a ^secret\n"));
  const io::SocketAddress service = *io::SocketAddress::Parse("::", 69);
  Received rewritten(RequestPacket(1, "boot/vmlinuz"), "10.0.0.7", "");
  auto made =
      MakeContext(rewritten.datagram, rewritten.request, service, 0, &remap);
  ASSERT_TRUE(std::holds_alternative<RequestContext>(made));
  EXPECT_EQ(std::get<RequestContext>(made).path, "images/vmlinuz");
  EXPECT_EQ(std::get<RequestContext>(made).requested_path, "boot/vmlinuz");

  Received refused(RequestPacket(1, "secret/key"), "10.0.0.7", "");
  made = MakeContext(refused.datagram, refused.request, service, 0, &remap);
  ASSERT_TRUE(std::holds_alternative<Refusal>(made));
  EXPECT_EQ(std::get<Refusal>(made).reason, RefusalReason::k_remap_denied);
  EXPECT_EQ(std::get<Refusal>(made).code, tftp::ErrorCode::kAccessViolation);
}

class ResolveResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("kernel", "abc\ndef");
    dir_.Write("empty", "");
    chmod(dir_.Join("kernel").c_str(), 0644);
    chmod(dir_.Join("empty").c_str(), 0644);
    root_ = std::make_unique<RootDirectory>(
        *RootDirectory::Open(dir_.path(), RootDirectory::Resolver::kPortable));
  }

  Resolution Resolve(Response response,
                     tftp::TransferMode mode = tftp::TransferMode::kOctet) {
    return ResolveResponse(std::move(response), mode,
                           {*root_, files_, /*max_netascii_size=*/1 << 20});
  }

  TempDir dir_;
  std::unique_ptr<RootDirectory> root_;
  FileCache files_;
};

TEST_F(ResolveResponseTest, ARefusalOrADropIsARefusal) {
  Resolution r =
      Resolve(Response::Refuse(tftp::ErrorCode::kAccessViolation, "no"));
  ASSERT_TRUE(std::holds_alternative<Refusal>(r));
  EXPECT_EQ(std::get<Refusal>(r).code, tftp::ErrorCode::kAccessViolation);
  EXPECT_EQ(std::get<Refusal>(r).reason, RefusalReason::k_handler);
  EXPECT_FALSE(std::get<Refusal>(r).dropped);

  r = Resolve(Response::Drop());
  ASSERT_TRUE(std::holds_alternative<Refusal>(r));
  EXPECT_TRUE(std::get<Refusal>(r).dropped);
}

TEST_F(ResolveResponseTest, BytesAreSentAsTheyAreOrInNetascii) {
  Resolution r = Resolve(Response::Bytes("a\nb"));
  ASSERT_TRUE(std::holds_alternative<ResolvedResponse>(r));
  EXPECT_EQ(std::get<ResolvedResponse>(r).response.size(), 3u);
  EXPECT_EQ(std::get<ResolvedResponse>(r).announced_size, 3u);

  r = Resolve(Response::Bytes("a\nb"), tftp::TransferMode::kNetascii);
  ASSERT_TRUE(std::holds_alternative<ResolvedResponse>(r));
  EXPECT_EQ(std::get<ResolvedResponse>(r).response.size(), 4u);  // a CR LF b

  // No tsize for nothing (curl fails on "tsize 0").
  r = Resolve(Response::Bytes(""));
  ASSERT_TRUE(std::holds_alternative<ResolvedResponse>(r));
  EXPECT_FALSE(std::get<ResolvedResponse>(r).announced_size.has_value());
}

TEST_F(ResolveResponseTest, AFileIsLoadedFirstThenSharedOnceMapped) {
  Resolution r = Resolve(Response::File("kernel"));
  ASSERT_TRUE(std::holds_alternative<LoadFile>(r));
  LoadFile& load = std::get<LoadFile>(r);
  EXPECT_EQ(load.info.st_size, 7);
  close(load.fd);

  // An empty file needs no mapping.
  r = Resolve(Response::File("empty"));
  ASSERT_TRUE(std::holds_alternative<ResolvedResponse>(r));
  EXPECT_NE(std::get<ResolvedResponse>(r).file, nullptr);
  files_.Release(std::get<ResolvedResponse>(r).file);

  r = Resolve(Response::File("missing"));
  ASSERT_TRUE(std::holds_alternative<Refusal>(r));
  EXPECT_EQ(std::get<Refusal>(r).reason, RefusalReason::k_not_found);
  EXPECT_EQ(std::get<Refusal>(r).code, tftp::ErrorCode::kFileNotFound);
}

TEST_F(ResolveResponseTest, TheResponsesRetrySettingsAndSessionComeAlong) {
  auto session = std::make_shared<int>(7);
  Response response = Response::Bytes("x");
  RetryPolicy retry;
  retry.retries = 2;
  response.WithRetryPolicy(retry).WithSession(session);
  Resolution r = Resolve(std::move(response));
  ASSERT_TRUE(std::holds_alternative<ResolvedResponse>(r));
  EXPECT_EQ(std::get<ResolvedResponse>(r).retry.retries, 2);
  EXPECT_EQ(std::get<ResolvedResponse>(r).session, session);

  // A refusal brings the session back for the record too.
  response = Response::Refuse(tftp::ErrorCode::kFileNotFound, "no");
  response.WithSession(session);
  r = Resolve(std::move(response));
  ASSERT_TRUE(std::holds_alternative<Refusal>(r));
  EXPECT_EQ(std::get<Refusal>(r).session, session);
}

}  // namespace
}  // namespace tftpd
