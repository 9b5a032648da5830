// Blind forgers: peers that forge a source address and never read a reply,
// so everything they send is chosen without seeing what the server sent.
// On the service port (single-port mode) such a peer can ACK any transfer
// it opened; in the default mode it can reach a transfer's own port by
// spraying every port. Neither may take a real client's place, lift its
// bounds, or make the server send its victim more than the credit rules
// allow (server/engine/peer_credit.h).
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/engine/engine_harness.h"

namespace tftpd::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kData = 3;
constexpr int kAck = 4;
constexpr int kError = 5;
constexpr int kOack = 6;

// A forged client at 127.5.x.y: never one of Client()'s addresses.
io::SocketAddress Forged(size_t i, uint16_t port = 50000) {
  return *io::SocketAddress::Parse(
      "127.5." + std::to_string(i / 250) + "." + std::to_string(1 + i % 250),
      port);
}

size_t BytesTo(const std::vector<Reply>& replies, const io::SocketAddress& to) {
  size_t bytes = 0;
  for (const Reply& r : To(replies, to)) bytes += r.bytes.size();
  return bytes;
}

// A real client's lock-step download, answering every packet at once, in
// single-port mode or not (each reply names the socket it left from). The
// content, or what came before an ERROR (whose message is kept).
struct Fetched {
  std::string content;
  std::string error;
};
Fetched FetchLockStep(EngineHarness& h, const io::SocketAddress& client,
                      const std::function<void()>& between = {}) {
  Fetched fetched;
  h.SendToService(client, RequestPacket(1, "boot.img"));
  for (uint16_t block = 1;; ++block) {
    std::vector<Reply> replies = To(h.Run(), client);
    if (replies.empty()) {
      fetched.error = "no answer for block " + std::to_string(block);
      return fetched;
    }
    const Reply& r = replies.back();
    if (r.opcode() == kError) {
      fetched.error = r.bytes.substr(4, r.bytes.size() - 5);
      return fetched;
    }
    EXPECT_EQ(r.opcode(), kData);
    EXPECT_EQ(r.block(), block);
    fetched.content += r.payload();
    h.SendTo(r.fd, client, AckPacket(block));
    if (between) between();
    if (r.payload().size() < 512) break;
  }
  h.Run();
  return fetched;
}

// Finding: in single-port mode a blind ACK made a forged transfer
// "answered", and answered transfers were never evicted: 60 forged
// requests, each followed by an ACK 0 from the same forged address and
// port, kept a real client out ("server busy") for as long as their 255 s
// timeouts lasted. Now they stay evictable, and the transfer whose peer is
// silent longest goes first, however its forger keeps it alive.
TEST(Forgers, BlindAcksInSinglePortModeTakeNoRealClientsPlace) {
  const std::string content = TestContent(20000, 3);
  EngineHarness h(
      [](ServerConfig& c) {
        c.single_port = true;
        c.max_transfers = 40;
      },
      std::make_shared<BytesHandler>(content));
  std::vector<io::SocketAddress> forged;
  for (size_t i = 0; i < 60; ++i) {
    forged.push_back(Forged(i));
    h.SendToService(forged.back(),
                    RequestPacket(1, "boot.img", "octet", {"timeout", "255"}));
  }
  h.Advance(milliseconds(50));
  // Blind: block numbers on a clock, whatever was sent.
  uint16_t next_block = 0;
  auto ack_every_forged = [&] {
    for (const io::SocketAddress& f : forged) {
      h.SendToService(f, AckPacket(next_block));
    }
    ++next_block;
  };
  ack_every_forged();
  h.Run();
  for (int second = 0; second < 3; ++second) {
    h.Advance(seconds(1));
    ack_every_forged();
    h.Run();
  }
  // The forger goes on acknowledging once a second while the real client
  // downloads (its 40 blocks take no time on this clock).
  const Fetched real = FetchLockStep(h, Client(1));
  EXPECT_EQ(real.error, "");
  EXPECT_TRUE(real.content == content) << real.content.size();
  EXPECT_EQ(h.totals().refused(RefusalReason::k_busy), 0u);
  EXPECT_GT(h.totals().transfers_evicted, 0u);
}

// The same with the victim's own address: forged transfers under it,
// blindly acknowledged, made its requests fail "too many transfers from
// this address". In single-port mode no transfer is its address's for
// sure, so the limit per address does not count them.
TEST(Forgers, BlindAcksInSinglePortModeTakeNoAddressAllowance) {
  const std::string content = TestContent(3000, 4);
  EngineHarness h(
      [](ServerConfig& c) {
        c.single_port = true;
        c.address_limits.max_transfers = 8;
      },
      std::make_shared<BytesHandler>(content));
  const io::SocketAddress victim = Client(7);
  for (uint16_t port = 0; port < 20; ++port) {
    const io::SocketAddress f = Client(7, static_cast<uint16_t>(50000 + port));
    h.SendToService(f,
                    RequestPacket(1, "boot.img", "octet", {"timeout", "255"}));
    h.Run();
    h.SendToService(f, AckPacket(0));
  }
  h.Run();
  const Fetched real = FetchLockStep(h, victim);
  EXPECT_EQ(real.error, "");
  EXPECT_TRUE(real.content == content);
  EXPECT_EQ(h.totals().refused(RefusalReason::k_per_address), 0u);
}

// Finding: in the default mode a forger that sprays an ACK 0 over every
// port reaches the transfer of its forged request; the transfer then sent
// its whole window (64 x 65464 bytes) and every retransmission of it, and
// the address was trusted for 300 s. Now a window is granted within
// kMaxWindowBytes, what a peer that reached the port draws is two windows,
// and its address stays held to the budget of strangers.
TEST(Forgers, APortSprayDrawsTwoWindowsAndTrustsNoAddress) {
  EngineHarness h(
      [](ServerConfig& c) {
        c.transfer.max_retries = 5;
        c.address_limits.unverified_bytes = 8192;
      },
      std::make_shared<BytesHandler>(TestContent(8 << 20, 5)));
  const io::SocketAddress victim = Client(9, 40000);
  const std::string request = RequestPacket(
      1, "boot.img", "octet", {"blksize", "65464", "windowsize", "64"});
  h.SendToService(victim, request);
  std::vector<Reply> sent = h.Run();
  // The spray: ACK 0 from the victim's port to every transfer socket there
  // is, the forged one's among them (it does not know which).
  for (int fd : std::set<int>(h.open_sockets()))
    h.SendTo(fd, victim, AckPacket(0));
  size_t bytes = BytesTo(sent, victim) + BytesTo(h.Run(), victim);
  for (int i = 0; i < 120; ++i) bytes += BytesTo(h.Advance(seconds(1)), victim);
  // Two OACKs at most before the spray hit, then a window of 4 blocks
  // (within 256 KiB) and one repeat.
  const size_t window = 4 * (4 + 65464);
  EXPECT_LE(bytes, 2 * 100 + 2 * window);
  EXPECT_GE(bytes, window);  // The spray did reach it.
  // Forged option-less requests from the same address afterwards: their
  // first answers, and repeats only within the 8 KiB budget.
  for (uint16_t port = 1; port <= 20; ++port) {
    h.SendToService(Client(9, static_cast<uint16_t>(41000 + port)),
                    RequestPacket(1, "boot.img"));
  }
  std::vector<Reply> later = h.Run();
  for (int i = 0; i < 30; ++i) {
    for (const Reply& r : h.Advance(seconds(1))) later.push_back(r);
  }
  size_t later_bytes = 0;
  for (const Reply& r : later) {
    if (r.to.HostString() == victim.HostString()) later_bytes += r.bytes.size();
  }
  EXPECT_LE(later_bytes, 20 * 516 + 8192u);
}

// A real client with windows gets whole windows from the first one (RFC
// 7440 clients acknowledge only a whole window: a shorter one would stall
// it for its timeout), granted within 256 KiB.
TEST(Forgers, ARealClientGetsWholeWindowsFromTheFirst) {
  EngineHarness h({}, std::make_shared<BytesHandler>(TestContent(4 << 20, 8)));
  const io::SocketAddress client = Client(3);
  h.SendToService(client,
                  RequestPacket(1, "boot.img", "octet",
                                {"blksize", "8192", "windowsize", "64"}));
  std::vector<Reply> oack = To(h.Run(), client);
  ASSERT_EQ(oack.size(), 1u);
  EXPECT_EQ(oack[0].option("windowsize"), "31");  // 31 x 8196 <= 256 KiB.
  uint16_t acked = 0;
  for (int window = 0; window < 4; ++window) {
    h.SendTo(oack[0].fd, client, AckPacket(acked));
    std::vector<Reply> data = To(h.Run(), client);
    ASSERT_EQ(data.size(), 31u) << "window " << window;
    acked = data.back().block();
  }
}

// Finding: the counters said "sent" for datagrams the credit held back.
TEST(Forgers, CountersCountOnlyWhatWasSent) {
  EngineHarness h(
      [](ServerConfig& c) {
        c.single_port = true;
        c.transfer.max_retries = 5;
      },
      std::make_shared<BytesHandler>(TestContent(4 << 20, 6)));
  const io::SocketAddress blind = Forged(1);
  // A window of one 16 KiB block: what one ACK earns sends it twice.
  h.SendToService(blind,
                  RequestPacket(1, "boot.img", "octet",
                                {"blksize", "65464", "windowsize", "8"}));
  h.Run();
  h.SendToService(blind, AckPacket(0));
  std::vector<Reply> sent = h.Run();
  for (int i = 0; i < 60; ++i) {
    for (const Reply& r : h.Advance(seconds(1))) sent.push_back(r);
  }
  size_t datagrams = 0;
  size_t payload = 0;
  for (const Reply& r : sent) {
    if (r.opcode() == kData) payload += r.bytes.size() - 4;
    if (r.opcode() == kData || r.opcode() == kOack) ++datagrams;
  }
  ASSERT_GT(h.totals().amplification_drops, 0u);
  EXPECT_EQ(h.totals().packets_sent, datagrams + 1);  // The first OACK too.
  EXPECT_EQ(h.totals().bytes_sent, payload);
}

// Finding: a request could evict a transfer before it was refused for
// another reason; a stream of refused requests evicted real clients'
// transfers still waiting for their first answer.
TEST(Forgers, ARefusedRequestEvictsNothing) {
  EngineHarness h(
      [](ServerConfig& c) {
        c.max_transfers = 3;
        c.address_limits.max_transfers = 1;
      },
      std::make_shared<BytesHandler>(TestContent(3000, 7)));
  // One address with its one transfer answered, and two clients waiting.
  h.SendToService(Client(1), RequestPacket(1, "boot.img"));
  std::vector<Reply> first = To(h.Run(), Client(1));
  ASSERT_EQ(first.size(), 1u);
  h.SendTo(first[0].fd, Client(1), AckPacket(1));
  h.SendToService(Client(2), RequestPacket(1, "boot.img"));
  h.SendToService(Client(3), RequestPacket(1, "boot.img"));
  h.Run();
  // Uploads are off, and client 1's address is at its limit.
  for (uint16_t port = 1; port <= 10; ++port) {
    h.SendToService(Client(4, port), RequestPacket(2, "up.cfg"));
    h.SendToService(Client(1, port), RequestPacket(1, "boot.img"));
  }
  h.Run();
  EXPECT_EQ(h.totals().refused(RefusalReason::k_uploads_disabled), 10u);
  EXPECT_EQ(h.totals().refused(RefusalReason::k_per_address), 10u);
  EXPECT_EQ(h.totals().transfers_evicted, 0u);
  EXPECT_EQ(h.shard().open_transfers(), 3u);
}

// Finding: single-port uploads were accepted blind under a forged address.
// They are refused unless the operator turns them on.
TEST(Forgers, SinglePortUploadsNeedTheirOwnSetting) {
  for (const bool accepted : {false, true}) {
    auto handler = std::make_shared<BytesHandler>("");
    EngineHarness h(
        [accepted](ServerConfig& c) {
          c.single_port = true;
          c.allow_write = true;
          c.single_port_uploads = accepted;
        },
        handler);
    const io::SocketAddress forged = Forged(3);
    h.SendToService(forged, RequestPacket(2, "switch.cfg"));
    h.SendToService(forged, DataPacket(1, "hostname evil\n"));
    std::vector<Reply> replies = To(h.RunUntil([&] {
      return !accepted || handler->uploads.Committed("switch.cfg").has_value();
    }),
                                    forged);
    ASSERT_FALSE(replies.empty());
    if (accepted) {
      EXPECT_EQ(replies[0].opcode(), kAck);
      EXPECT_TRUE(handler->uploads.Committed("switch.cfg").has_value());
    } else {
      EXPECT_EQ(replies[0].opcode(), kError);
      EXPECT_EQ(replies[0].error_code(), 4);
      EXPECT_FALSE(handler->uploads.Committed("switch.cfg").has_value());
    }
  }
}

// Finding: 5,000 forged requests for a missing file wrote 5,000 log lines.
// Refusals' lines are bounded (20 a second a shard); the rest are counted,
// and written as one summary line before the next line.
TEST(Forgers, ForgedRefusalsWriteABoundedLog) {
  EngineHarness h;  // Files from its empty root: every request is refused.
  for (size_t i = 0; i < 5000; ++i) {
    h.SendToService(Forged(i), RequestPacket(1, "missing.img"));
  }
  h.Run();
  EXPECT_EQ(h.totals().refused(RefusalReason::k_not_found), 5000u);
  EXPECT_EQ(h.totals().refusals_not_logged, 5000u - 20);
  h.Advance(seconds(1));
  h.SendToService(Forged(1, 1), RequestPacket(1, "missing.img"));
  h.Run();
  EXPECT_EQ(h.totals().refusals_not_logged, 5000u - 20);
}

}  // namespace
}  // namespace tftpd::testing
