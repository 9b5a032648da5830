// The engine without sockets: a shard over the in-memory backend, clients
// as addresses, time moved by the test. Each transition of a transfer's
// life, and the defects its old shape hid.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/engine/transfer_budget.h"
#include "tests/server/engine/engine_harness.h"

namespace tftpd::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kData = 3;
constexpr int kAck = 4;
constexpr int kError = 5;
constexpr int kOack = 6;

// Reads the response to `client`'s RRQ lock-step; the content.
std::string Download(EngineHarness& h, const io::SocketAddress& client,
                     const std::string& name) {
  h.SendToService(client, RequestPacket(1, name));
  std::string content;
  for (uint16_t block = 1;; ++block) {
    std::vector<Reply> replies = To(h.Run(), client);
    EXPECT_EQ(replies.size(), 1u);
    if (replies.size() != 1 || replies[0].opcode() != kData) return content;
    EXPECT_EQ(replies[0].block(), block);
    content += replies[0].payload();
    h.SendTo(replies[0].fd, client, AckPacket(block));
    if (replies[0].payload().size() < 512) break;
  }
  EXPECT_TRUE(To(h.Run(), client).empty());
  return content;
}

TEST(Engine, DownloadsLockStepAndRecyclesTheSlot) {
  const std::string content = TestContent(1300, 1);
  auto handler = std::make_shared<BytesHandler>(content);
  EngineHarness h({}, handler);
  EXPECT_EQ(Download(h, Client(1), "a"), content);
  EXPECT_EQ(h.totals().transfers_completed, 1u);
  EXPECT_EQ(h.shard().open_transfers(), 0u);
  EXPECT_TRUE(h.open_sockets().empty());
  // The slot is reused by the next transfer, which starts clean.
  EXPECT_EQ(Download(h, Client(2), "b"), content);
  EXPECT_EQ(h.totals().transfers_completed, 2u);
}

// A shard spins before sleeping only while a few transfers run: their next
// ACK may come sooner than a sleeping core wakes. Idle, it must not burn a
// core; with many transfers it is never short of work.
TEST(Engine, SpinsOnlyWhileAFewTransfersRun) {
  auto handler = std::make_shared<BytesHandler>(TestContent(1600, 4));
  EngineHarness h({}, handler);
  const io::Clock::duration spin = std::chrono::microseconds(50);
  h.Run();
  EXPECT_EQ(h.backend().spin_limit(), io::Clock::duration::zero());
  std::vector<io::SocketAddress> clients;
  for (size_t i = 0; i <= ServerConfig::kSpinningTransfers; ++i) {
    clients.push_back(Client(i + 1));
    h.SendToService(clients.back(), RequestPacket(1, "x"));
    h.Run();
    EXPECT_EQ(h.backend().spin_limit(), i < ServerConfig::kSpinningTransfers
                                            ? spin
                                            : io::Clock::duration::zero())
        << (i + 1) << " transfers";
  }
  for (const io::SocketAddress& client : clients) {
    h.SendToService(client, ErrorPacket(0, "done"));
  }
  h.Advance(seconds(10));  // Every transfer ended.
  EXPECT_EQ(h.shard().open_transfers(), 0u);
  EXPECT_EQ(h.backend().spin_limit(), io::Clock::duration::zero());
}

// Uploads at every blksize a client may ask for: granted as asked, and the
// bytes arrive whole.
TEST(Engine, UploadsArriveWholeAtEveryBlksize) {
  auto handler = std::make_shared<BytesHandler>("");
  EngineHarness h([](ServerConfig& c) { c.allow_write = true; }, handler);
  size_t n = 0;
  for (int asked : {512, 1428, 8192, 65464}) {
    for (int window : {1, 16}) {
      const io::SocketAddress client = Client(++n);
      const std::string name = absl::StrCat("up_", asked, "_", window);
      const std::string content = TestContent(300000, static_cast<uint32_t>(n));
      h.SendToService(
          client, RequestPacket(2, name, "octet",
                                {"blksize", std::to_string(asked), "windowsize",
                                 std::to_string(window)}));
      std::vector<Reply> replies = To(h.Run(), client);
      ASSERT_EQ(replies.size(), 1u);
      ASSERT_EQ(replies[0].opcode(), kOack);
      const size_t granted = std::stoul(replies[0].option("blksize"));
      EXPECT_LE(granted, static_cast<size_t>(asked));
      EXPECT_EQ(granted, static_cast<size_t>(asked)) << name;
      const int fd = replies[0].fd;
      const size_t blocks = content.size() / granted + 1;
      for (size_t b = 0; b < blocks; ++b) {
        h.SendTo(fd, client,
                 DataPacket(static_cast<uint16_t>(b + 1),
                            content.substr(b * granted, granted)));
      }
      // The final ACK follows the commit, which a committer thread makes: the
      // bytes are stored once it is seen.
      bool final_ack = false;
      h.RunUntil([&] {
        for (const Reply& r : To(h.Run(), client)) {
          final_ack = final_ack ||
                      (r.opcode() == kAck && r.block() == (blocks & 0xffff));
        }
        return final_ack;
      });
      const std::optional<std::string> stored =
          handler->uploads.Committed(name);
      EXPECT_TRUE(stored == content)
          << name << ": " << (stored.has_value() ? stored->size() : 0)
          << " bytes stored, final ACK " << final_ack;
    }
  }
  for (int i = 0; i < 10; ++i) h.Advance(seconds(1));  // Past the dallies.
  EXPECT_EQ(h.totals().transfers_completed, n);
  EXPECT_TRUE(h.open_sockets().empty());
}

// A datagram longer than a receive buffer arrives cut: never data. The
// upload ends with an ERROR, and nothing is stored.
TEST(Engine, ATruncatedDatagramEndsAnUploadAndStoresNothing) {
  auto handler = std::make_shared<BytesHandler>("");
  EngineHarness h([](ServerConfig& c) { c.allow_write = true; }, handler);
  const io::SocketAddress client = Client(1);
  h.SendToService(client, RequestPacket(2, "cut", "octet", {"blksize", "512"}));
  std::vector<Reply> replies = To(h.Run(), client);
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_EQ(replies[0].opcode(), kOack);
  // Longer than any datagram a receive buffer holds.
  h.SendTo(replies[0].fd, client, DataPacket(1, TestContent(70000, 2)));
  replies = To(h.Run(), client);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].opcode(), kError);
  EXPECT_EQ(replies[0].error_code(), 4);
  h.RunUntil([&] { return handler->uploads.abandoned() == 1; });
  EXPECT_FALSE(handler->uploads.Committed("cut").has_value());
  EXPECT_TRUE(h.open_sockets().empty());
}

// A file no transfer has mapped waits for the loader, holding no socket;
// the client's repeats meanwhile are duplicates; then it is sent, and the
// next request for it is served from the mapping at once.
TEST(Engine, WaitsForTheLoaderThenServesTheFile) {
  EngineHarness h;
  const std::string content = TestContent(1500, 12);
  h.root().Write("kernel", content);
  const io::SocketAddress client = Client(1);
  h.SendToService(client, RequestPacket(1, "kernel"));
  h.SendToService(client, RequestPacket(1, "kernel"));
  std::vector<Reply> replies;
  h.RunUntil([&] {
    for (Reply& r : h.Run()) replies.push_back(r);
    return !To(replies, client).empty();
  });
  EXPECT_EQ(h.totals().duplicate_requests, 1u);
  ASSERT_EQ(To(replies, client).size(), 1u);
  const Reply first = To(replies, client)[0];
  EXPECT_EQ(first.opcode(), kData);
  EXPECT_EQ(first.payload(), content.substr(0, 512));
  h.SendTo(first.fd, client, AckPacket(1));
  h.Run();
  // Another client: mapped already, answered in the same turn.
  const io::SocketAddress second = Client(2);
  h.SendToService(second, RequestPacket(1, "kernel"));
  std::vector<Reply> at_once = To(h.Run(), second);
  ASSERT_EQ(at_once.size(), 1u);
  EXPECT_EQ(at_once[0].payload(), content.substr(0, 512));
}

// A read that waited for the loader and was refused leaves its slot to an
// upload, which must not inherit the wait (and end as "could not be read in
// time" after the source timeout).
TEST(Engine, AReusedSlotInheritsNoWait) {
  auto handler = std::make_shared<BytesHandler>("");
  EngineHarness h(
      [](ServerConfig& c) {
        c.allow_write = true;
        c.upload_policy.create = true;
        c.max_netascii_size = 100;
      },
      nullptr);
  h.root().Write("big.txt", TestContent(1000, 3));
  const io::SocketAddress reader = Client(1);
  h.SendToService(reader, RequestPacket(1, "big.txt", "netascii"));
  std::vector<Reply> replies;
  h.RunUntil([&] {
    for (Reply& r : h.Run()) replies.push_back(r);
    return !To(replies, reader).empty();
  });
  ASSERT_EQ(To(replies, reader).size(), 1u);
  EXPECT_EQ(To(replies, reader)[0].opcode(), kError);
  // An upload into the same slot, slower than the source timeout.
  const io::SocketAddress uploader = Client(2);
  h.SendToService(uploader, RequestPacket(2, "slow.cfg"));
  replies = To(h.Run(), uploader);
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_EQ(replies[0].opcode(), kAck);
  const int fd = replies[0].fd;
  std::string uploaded;
  for (uint16_t block = 1; block <= 8; ++block) {
    h.Advance(milliseconds(900));  // 7.2 s in all, over the 5 s limit.
    uploaded += TestContent(512, block);
    h.SendTo(fd, uploader, DataPacket(block, TestContent(512, block)));
    replies = To(h.Run(), uploader);
    ASSERT_EQ(replies.size(), 1u) << "block " << block;
    ASSERT_EQ(replies[0].opcode(), kAck) << replies[0].bytes;
  }
  h.SendTo(fd, uploader, DataPacket(9, "end"));
  uploaded += "end";
  // The final ACK follows the commit, which a committer thread makes.
  bool final_ack = false;
  h.RunUntil([&] {
    for (const Reply& r : To(h.Run(), uploader)) {
      final_ack = final_ack || (r.opcode() == kAck && r.block() == 9);
    }
    return final_ack;
  });
  EXPECT_EQ(ReadFile(h.root().Join("slow.cfg")), uploaded);
  h.Advance(seconds(10));  // Past the dally.
  EXPECT_EQ(h.totals().transfers_completed, 1u);
  EXPECT_TRUE(h.open_sockets().empty());
}

// A request parked behind an open transfer is not started once the server
// is stopping.
TEST(Engine, AParkedRequestIsNotStartedDuringShutdown) {
  const std::string content = TestContent(1000, 4);
  auto handler = std::make_shared<BytesHandler>(content);
  EngineHarness h({}, handler);
  const io::SocketAddress client = Client(1);
  h.SendToService(client, RequestPacket(1, "first"));
  std::vector<Reply> replies = To(h.Run(), client);
  ASSERT_EQ(replies.size(), 1u);
  const int fd = replies[0].fd;
  // Another request from the same port before the client answered: parked.
  h.SendToService(client, RequestPacket(1, "second"));
  EXPECT_TRUE(To(h.Run(), client).empty());
  h.shard().RequestStop(/*immediate=*/false);
  h.Run();
  h.SendTo(fd, client, AckPacket(1));
  replies = To(h.Run(), client);
  ASSERT_EQ(replies.size(), 1u);
  h.SendTo(fd, client, AckPacket(2));
  replies = To(h.Run(), client);
  EXPECT_TRUE(replies.empty()) << "sent " << replies[0].bytes.size()
                               << " bytes for a request parked before the stop";
  EXPECT_EQ(h.totals().transfers_started, 1u);
  EXPECT_EQ(h.totals().transfers_completed, 1u);
}

// A copy of a request that arrives after its transfer ended cleanly (a
// delayed duplicate) opens its transfer on probation: unanswered, it ends as
// a duplicate request, not as a transfer that timed out. A client that
// really wants the file again from the same port is served at once.
TEST(Engine, ALateDuplicateRequestIsNoSecondTransfer) {
  const std::string content = TestContent(700, 5);
  auto handler = std::make_shared<BytesHandler>(content);
  EngineHarness h({}, handler);
  const io::SocketAddress client = Client(1);
  EXPECT_EQ(Download(h, client, "boot"), content);
  h.SendToService(client, RequestPacket(1, "boot"));
  EXPECT_EQ(To(h.Run(), client).size(), 1u);           // DATA 1, on probation.
  for (int i = 0; i < 10; ++i) h.Advance(seconds(1));  // Past its retries.
  EXPECT_EQ(h.totals().transfers_started, 1u);
  EXPECT_EQ(h.totals().transfers_finished, 1u);
  EXPECT_EQ(h.totals().transfers_timed_out, 0u);
  EXPECT_EQ(h.totals().duplicate_requests, 1u);
  EXPECT_TRUE(h.open_sockets().empty());
  // The same file again, wanted this time: served, and counted once.
  EXPECT_EQ(Download(h, client, "other"), content);
  EXPECT_EQ(Download(h, client, "other"), content);
  EXPECT_EQ(h.totals().transfers_started, 3u);
  EXPECT_EQ(h.totals().transfers_completed, 3u);
  EXPECT_EQ(h.totals().duplicate_requests, 1u);
}

// A repeat of the request while the first answer is outstanding is not a
// second transfer: the parked copy is recognised once the client answers.
TEST(Engine, ARepeatWhileOpenIsRecognised) {
  const std::string content = TestContent(1000, 6);
  auto handler = std::make_shared<BytesHandler>(content);
  EngineHarness h({}, handler);
  const io::SocketAddress client = Client(1);
  h.SendToService(client, RequestPacket(1, "x"));
  std::vector<Reply> replies = To(h.Run(), client);
  ASSERT_EQ(replies.size(), 1u);
  h.SendToService(client, RequestPacket(1, "x"));
  EXPECT_TRUE(To(h.Run(), client).empty());
  h.SendTo(replies[0].fd, client, AckPacket(1));
  EXPECT_EQ(To(h.Run(), client).size(), 1u);  // DATA 2, nothing else.
  EXPECT_EQ(h.totals().duplicate_requests, 1u);
  h.SendTo(replies[0].fd, client, AckPacket(2));
  EXPECT_TRUE(To(h.Run(), client).empty());
  EXPECT_EQ(h.totals().transfers_started, 1u);
  EXPECT_EQ(h.totals().transfers_completed, 1u);
}

// The same request parked and then answered only by the transfer's last
// packet may be the client's next request overtaking its final ACK (a
// client fetching the file again from the same port): it starts at once, on
// probation, and is counted as a transfer when the client answers.
TEST(Engine, TheSameRequestRightBehindTheFinalAckIsServed) {
  const std::string content = TestContent(100, 6);
  auto handler = std::make_shared<BytesHandler>(content);
  EngineHarness h({}, handler);
  const io::SocketAddress client = Client(1);
  h.SendToService(client, RequestPacket(1, "x"));
  std::vector<Reply> replies = To(h.Run(), client);
  ASSERT_EQ(replies.size(), 1u);
  h.SendToService(client, RequestPacket(1, "x"));
  h.SendTo(replies[0].fd, client, AckPacket(1));
  std::vector<Reply> next = To(h.Run(), client);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].opcode(), kData);
  EXPECT_NE(next[0].fd, replies[0].fd);
  h.SendTo(next[0].fd, client, AckPacket(1));
  EXPECT_TRUE(To(h.Run(), client).empty());
  EXPECT_EQ(h.totals().transfers_started, 2u);
  EXPECT_EQ(h.totals().transfers_completed, 2u);
  EXPECT_EQ(h.totals().duplicate_requests, 0u);
}

// A client that has had every block and asks for something else ends the
// old transfer at once (superseded) and gets its new file.
TEST(Engine, ANewRequestSupersedesAFullySentTransfer) {
  const std::string content = TestContent(100, 7);
  auto handler = std::make_shared<BytesHandler>(content);
  EngineHarness h({}, handler);
  const io::SocketAddress client = Client(1);
  h.SendToService(client,
                  RequestPacket(1, "tsize-probe", "octet", {"tsize", "0"}));
  std::vector<Reply> replies = To(h.Run(), client);
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_EQ(replies[0].opcode(), kOack);
  h.SendTo(replies[0].fd, client, AckPacket(0));
  replies = To(h.Run(), client);
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_EQ(replies[0].opcode(), kData);
  // Its last ACK is lost; it asks for the next file.
  h.SendToService(client, RequestPacket(1, "next"));
  replies = To(h.Run(), client);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].opcode(), kData);
  EXPECT_EQ(h.totals().transfers_superseded, 1u);
}

// A client's ERROR ends its transfer; the same request again (UEFI's size
// probe, then the download) is served at once.
TEST(Engine, AfterAClientErrorTheSameRequestIsServed) {
  const std::string content = TestContent(3000, 8);
  auto handler = std::make_shared<BytesHandler>(content);
  EngineHarness h({}, handler);
  const io::SocketAddress client = Client(1);
  const std::string probe = RequestPacket(1, "nbp", "octet", {"tsize", "0"});
  h.SendToService(client, probe);
  std::vector<Reply> replies = To(h.Run(), client);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].option("tsize"), "3000");
  h.SendTo(replies[0].fd, client, ErrorPacket(8, "size probe"));
  EXPECT_TRUE(To(h.Run(), client).empty());
  h.SendToService(client, probe);
  replies = To(h.Run(), client);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].opcode(), kOack);
  EXPECT_EQ(h.totals().transfers_peer_error, 1u);
}

// A client that answers and then falls silent: retransmissions on the
// clock, then the transfer times out, its socket is closed and its slot
// serves the next.
TEST(Engine, AClientThatFallsSilentTimesOutAndFreesItsSlot) {
  auto handler = std::make_shared<BytesHandler>(TestContent(1600, 9));
  EngineHarness h({}, handler);
  const io::SocketAddress silent = Client(1);
  h.SendToService(silent, RequestPacket(1, "x"));
  std::vector<Reply> first = To(h.Run(), silent);
  ASSERT_EQ(first.size(), 1u);
  h.SendTo(first[0].fd, silent, AckPacket(1));
  ASSERT_EQ(To(h.Run(), silent).size(), 1u);  // DATA 2, never acknowledged.
  size_t resent = 0;
  for (int i = 0; i < 10; ++i)
    resent += To(h.Advance(seconds(1)), silent).size();
  EXPECT_EQ(resent, 2u);  // --retries=2
  EXPECT_EQ(h.totals().transfers_timed_out, 1u);
  EXPECT_TRUE(h.open_sockets().empty());
  EXPECT_EQ(Download(h, Client(2), "y").size(), 1600u);
}

// A client that never answers (a forged request, most likely) gets its
// first answer and one repeat, whatever timeout it asked for; at the
// unanswered timeout its slot is freed, and it never counts as a transfer.
TEST(Engine, AClientThatNeverAnswersGetsTwoPacketsAndABriefLife) {
  auto handler = std::make_shared<BytesHandler>(TestContent(1600, 9));
  EngineHarness h([](ServerConfig& c) { c.unanswered_timeout = seconds(5); },
                  handler);
  const io::SocketAddress silent = Client(1);
  h.SendToService(silent, RequestPacket(1, "x", "octet", {"timeout", "255"}));
  ASSERT_EQ(To(h.Run(), silent).size(), 1u);
  size_t resent = 0;
  for (int i = 0; i < 10; ++i)
    resent += To(h.Advance(seconds(1)), silent).size();
  EXPECT_EQ(resent, 0u);  // Its timeout is 255 s: it ended first.
  EXPECT_EQ(h.shard().open_transfers(), 0u);
  EXPECT_TRUE(h.open_sockets().empty());
  h.SendToService(Client(3), RequestPacket(1, "x"));
  ASSERT_EQ(To(h.Run(), Client(3)).size(), 1u);
  for (int i = 0; i < 10; ++i)
    resent += To(h.Advance(seconds(1)), Client(3)).size();
  EXPECT_EQ(resent, 1u);  // Its first answer once more, no further.
  const ServerTotals totals = h.totals();
  EXPECT_EQ(totals.transfers_unanswered, 2u);
  EXPECT_EQ(totals.transfers_started, 0u);
  EXPECT_EQ(totals.transfers_timed_out, 0u);
  EXPECT_EQ(Download(h, Client(2), "y").size(), 1600u);
}

// A client whose answers were all lost asks again: once the transfer has
// spent the two sends its request earned and gone quiet, the repeated
// request earns one more, and the client is served. (Parking the repeat
// until the unanswered timeout left such clients waiting past their
// retries when 100,000 booted at 1% loss.) What an address that never
// answers draws stays one send per datagram it sends.
TEST(Engine, ARepeatedRequestAfterEveryAnswerWasLostIsAnsweredAgain) {
  const std::string content = TestContent(3000, 11);
  auto handler = std::make_shared<BytesHandler>(content);
  EngineHarness h([](ServerConfig& c) { c.unanswered_timeout = seconds(5); },
                  handler);
  const io::SocketAddress client = Client(1);
  const std::string request =
      RequestPacket(1, "x", "octet", {"blksize", "1024"});
  h.SendToService(client, request);
  std::vector<Reply> first = To(h.Run(), client);
  ASSERT_EQ(first.size(), 1u);  // The OACK: lost.
  EXPECT_EQ(first[0].opcode(), kOack);
  size_t sent = 0;
  for (int i = 0; i < 3; ++i) sent += To(h.Advance(seconds(1)), client).size();
  ASSERT_EQ(sent, 1u);  // Its one repeat: lost too. Then quiet.
  h.SendToService(client, request);
  std::vector<Reply> again = To(h.Run(), client);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].opcode(), kOack);
  EXPECT_EQ(again[0].fd, first[0].fd);  // The same transfer.
  // It lives another unanswered timeout from the repeat: the client's ACK
  // four seconds later is still heard.
  for (int i = 0; i < 4; ++i) h.Advance(seconds(1));
  h.SendTo(again[0].fd, client, AckPacket(0));
  std::string received;
  for (uint16_t block = 1; block <= 3; ++block) {
    std::vector<Reply> data = To(h.Run(), client);
    ASSERT_EQ(data.size(), 1u) << "block " << block;
    received += data[0].payload();
    h.SendTo(again[0].fd, client, AckPacket(block));
  }
  h.Run();
  EXPECT_EQ(received, content);
  EXPECT_EQ(h.totals().transfers_completed, 1u);
  EXPECT_EQ(h.totals().transfers_started, 1u);
}

// A client that had the OACK and its repeat, and whose answer to each was
// lost, answers again on its own timer: after the longest backoff step a
// client takes (8 s, --max_timeout's default too) and a round trip. The
// transfer is still there for it (with the unanswered life counted from the
// launch, 2 of 100,000 clients booting at 1% loss were not).
TEST(Engine, AnAnswerOnTheClientsLongestTimerIsStillHeard) {
  const std::string content = TestContent(3000, 12);
  auto handler = std::make_shared<BytesHandler>(content);
  EngineHarness h(
      [](ServerConfig& c) {
        // tftpd's retransmission defaults; the unanswered timeout's too.
        c.transfer.max_timeout = seconds(8);
        c.transfer.max_retries = 5;
      },
      handler);
  const io::SocketAddress client = Client(1);
  h.SendToService(client, RequestPacket(1, "x", "octet", {"blksize", "1024"}));
  std::vector<Reply> oack = To(h.Run(), client);
  ASSERT_EQ(oack.size(), 1u);  // Had; its ACK 0 was lost.
  EXPECT_EQ(oack[0].opcode(), kOack);
  ASSERT_EQ(To(h.Advance(seconds(1)), client).size(), 1u);  // Had; lost again.
  // The client's 8 s wait, and its ACK's way back under load.
  for (int i = 0; i < 9; ++i) h.Advance(seconds(1));
  h.SendTo(oack[0].fd, client, AckPacket(0));
  std::string received;
  for (uint16_t block = 1; block <= 3; ++block) {
    std::vector<Reply> data = To(h.Run(), client);
    ASSERT_EQ(data.size(), 1u) << "block " << block;
    received += data[0].payload();
    h.SendTo(oack[0].fd, client, AckPacket(block));
  }
  h.Run();
  EXPECT_EQ(received, content);
  EXPECT_EQ(h.totals().transfers_completed, 1u);
  EXPECT_EQ(h.totals().transfers_unanswered, 0u);
}

// A full table evicts the transfer that has waited longest for its client;
// transfers whose clients answered are never evicted.
TEST(Engine, AFullTableEvictsTheOldestUnansweredTransfer) {
  auto handler = std::make_shared<BytesHandler>(TestContent(1600, 9));
  EngineHarness h([](ServerConfig& c) { c.max_transfers = 3; }, handler);
  h.SendToService(Client(1), RequestPacket(1, "x"));
  std::vector<Reply> answered = To(h.Run(), Client(1));
  ASSERT_EQ(answered.size(), 1u);
  h.SendTo(answered[0].fd, Client(1), AckPacket(1));
  h.SendToService(Client(2), RequestPacket(1, "x"));
  h.SendToService(Client(3), RequestPacket(1, "x"));
  h.Run();
  EXPECT_EQ(h.shard().open_transfers(), 3u);
  h.SendToService(Client(4), RequestPacket(1, "x"));
  h.SendToService(Client(5), RequestPacket(1, "x"));
  EXPECT_EQ(To(h.Run(), Client(5)).size(), 1u);
  EXPECT_EQ(h.totals().transfers_evicted, 2u);
  // Client 1's transfer is still there: ACK 2 draws DATA 3.
  h.SendTo(answered[0].fd, Client(1), AckPacket(2));
  std::vector<Reply> next = To(h.Run(), Client(1));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].block(), 3);
  // Every transfer is unanswered but client 1's: a sixth evicts client 4.
  h.SendToService(Client(6), RequestPacket(1, "x"));
  EXPECT_EQ(To(h.Run(), Client(6)).size(), 1u);
  EXPECT_EQ(h.totals().transfers_evicted, 3u);
}

// The places are the server's, not each shard's: where the kernel's hash
// sends clients cannot refuse one while another shard has room (10 of 200
// clients at exactly --max_transfers were refused "server busy" when each
// of two shards had half the places). A shard whose transfers have all
// been answered has another shard evict an unanswered one for a new client.
TEST(Engine, ShardsShareThePlacesAndEvictForEachOther) {
  auto handler = std::make_shared<BytesHandler>(TestContent(1600, 9));
  TransferBudget budget(/*max_transfers=*/4, /*shards=*/2);
  auto configure = [](ServerConfig& c) {
    c.max_transfers = 4;
    c.threads = 2;
  };
  EngineHarness a(configure, handler, /*id=*/0, &budget);
  EngineHarness b(configure, handler, /*id=*/1, &budget);
  a.shard().SetPeers({&a.shard(), &b.shard()});
  b.shard().SetPeers({&a.shard(), &b.shard()});
  // Three answered transfers on shard a: more than half the places.
  for (size_t i = 1; i <= 3; ++i) {
    a.SendToService(Client(i), RequestPacket(1, "x"));
    std::vector<Reply> first = To(a.Run(), Client(i));
    ASSERT_EQ(first.size(), 1u) << "client " << i;
    EXPECT_EQ(first[0].opcode(), 3) << "client " << i;  // DATA 1.
    a.SendTo(first[0].fd, Client(i), AckPacket(1));
    a.Run();
  }
  // On shard b, a request whose client never answers: every place taken.
  b.SendToService(Client(4), RequestPacket(1, "x"));
  b.Run();
  EXPECT_EQ(budget.open(), 4u);
  // A new client on a, which has nothing to evict: it is served, one place
  // beyond the limit, and b evicts client 4's transfer.
  a.SendToService(Client(5), RequestPacket(1, "x"));
  std::vector<Reply> fifth = To(a.Run(), Client(5));
  ASSERT_EQ(fifth.size(), 1u);
  EXPECT_EQ(fifth[0].opcode(), 3);
  b.RunUntil([&] { return b.totals().transfers_evicted == 1; });
  EXPECT_EQ(budget.open(), 4u);
  EXPECT_EQ(b.shard().open_transfers(), 0u);
  // Every transfer answered: a sixth client is refused, nothing evicted.
  a.SendTo(fifth[0].fd, Client(5), AckPacket(1));
  a.Run();
  a.SendToService(Client(6), RequestPacket(1, "x"));
  std::vector<Reply> sixth = To(a.Run(), Client(6));
  ASSERT_EQ(sixth.size(), 1u);
  EXPECT_EQ(sixth[0].opcode(), 5);  // ERROR: server busy.
  EXPECT_EQ(budget.open(), 4u);
}

// Out of descriptors, a request takes the socket of the transfer that has
// waited longest for a client that never answered (a few hundred forged
// requests under a soft limit of 1,024 descriptors took every socket).
TEST(Engine, OutOfSocketsARequestTakesAnUnansweredTransfersSocket) {
  auto handler = std::make_shared<BytesHandler>(TestContent(1600, 9));
  EngineHarness h({}, handler);
  h.memory().set_socket_limit(2);
  h.SendToService(Client(1), RequestPacket(1, "x"));
  h.SendToService(Client(2), RequestPacket(1, "x"));
  h.Run();
  EXPECT_EQ(h.open_sockets().size(), 2u);
  // The first try frees a socket and goes unanswered (no ERROR, which
  // would end the client's boot); its repeat is served.
  h.SendToService(Client(3), RequestPacket(1, "y"));
  EXPECT_TRUE(To(h.Run(), Client(3)).empty());
  EXPECT_EQ(h.totals().transfers_evicted, 1u);
  EXPECT_EQ(h.totals().requests_deferred, 1u);
  EXPECT_EQ(Download(h, Client(3), "y").size(), 1600u);
  EXPECT_EQ(h.totals().transfers_completed, 1u);
}

// Single-port mode: the service port is no secret, so an ACK there earns a
// bounded answer (kDatagramCredit), retransmissions included, and the
// window granted fits half of it.
TEST(Engine, InSinglePortModeADatagramEarnsABoundedAnswer) {
  auto handler = std::make_shared<BytesHandler>(TestContent(4 << 20, 9));
  EngineHarness h(
      [](ServerConfig& c) {
        c.single_port = true;
        c.transfer.max_retries = 5;
      },
      handler);
  const io::SocketAddress blind = Client(1);
  h.SendToService(
      blind,
      RequestPacket(1, "x", "octet", {"blksize", "65464", "windowsize", "64"}));
  std::vector<Reply> oack = To(h.Run(), blind);
  ASSERT_EQ(oack.size(), 1u);
  EXPECT_EQ(oack[0].option("blksize"),
            std::to_string(kUnprovenWindowBytes - 4));
  EXPECT_EQ(oack[0].option("windowsize"), "1");
  h.SendToService(blind, AckPacket(0));
  size_t bytes = 0;
  for (const Reply& r : To(h.Run(), blind)) bytes += r.bytes.size();
  for (int i = 0; i < 60; ++i) {
    for (const Reply& r : To(h.Advance(seconds(1)), blind))
      bytes += r.bytes.size();
  }
  EXPECT_LE(bytes, kDatagramCredit);
  EXPECT_GT(h.totals().amplification_drops, 0u);
}

// A stranger's packet on a transfer's port gets ERROR 5; the transfer goes
// on undisturbed.
TEST(Engine, AStrangerGetsUnknownTransferId) {
  const std::string content = TestContent(100, 10);
  auto handler = std::make_shared<BytesHandler>(content);
  EngineHarness h({}, handler);
  const io::SocketAddress client = Client(1);
  h.SendToService(client, RequestPacket(1, "x"));
  std::vector<Reply> replies = To(h.Run(), client);
  ASSERT_EQ(replies.size(), 1u);
  const io::SocketAddress stranger = Client(1, 40001);
  h.SendTo(replies[0].fd, stranger, AckPacket(1));
  h.SendTo(replies[0].fd, client, AckPacket(1));
  std::vector<Reply> to_stranger = To(h.Run(), stranger);
  ASSERT_EQ(to_stranger.size(), 1u);
  EXPECT_EQ(to_stranger[0].error_code(), 5);
  EXPECT_EQ(h.totals().transfers_completed, 1u);
}

// A stream that has not begun: the client's repeats are duplicates; it
// begins and the bytes flow; one that never begins is refused in time.
TEST(Engine, WaitsForAStreamAndGivesUpInTime) {
  class StreamHandler : public RequestHandler {
   public:
    Response Handle(const RequestContext& request) override {
      auto [stream, writer] = ResponseStream::Create(1 << 20);
      writers.push_back(std::move(writer));
      return Response::Stream(std::move(stream));
    }
    std::vector<StreamWriter> writers;
  };
  auto handler = std::make_shared<StreamHandler>();
  EngineHarness h({}, handler);
  const io::SocketAddress client = Client(1);
  h.SendToService(client, RequestPacket(1, "gen"));
  EXPECT_TRUE(To(h.Run(), client).empty());
  h.SendToService(client, RequestPacket(1, "gen"));
  EXPECT_TRUE(To(h.Run(), client).empty());
  EXPECT_EQ(h.totals().duplicate_requests, 1u);
  ASSERT_EQ(handler->writers.size(), 1u);
  handler->writers[0].Begin(5);
  handler->writers[0].Append("hello");
  handler->writers[0].Finish();
  std::vector<Reply> replies;
  h.RunUntil([&] {
    for (Reply& r : h.Run()) replies.push_back(r);
    return !To(replies, client).empty();
  });
  ASSERT_EQ(To(replies, client).size(), 1u);
  EXPECT_EQ(To(replies, client)[0].payload(), "hello");
  // Another client's stream never begins.
  const io::SocketAddress waiting = Client(2);
  h.SendToService(waiting, RequestPacket(1, "never"));
  EXPECT_TRUE(To(h.Run(), waiting).empty());
  replies = To(h.Advance(seconds(6)), waiting);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].opcode(), kError);
  EXPECT_EQ(h.totals().refused(RefusalReason::k_source_failed), 1u);
}

// Shutdown with a transfer waiting for its stream and one sending: both
// end, the waiting one without a packet, and the loop finishes.
TEST(Engine, ShutdownEndsWaitingAndSendingTransfers) {
  class Mixed : public RequestHandler {
   public:
    Response Handle(const RequestContext& request) override {
      if (request.path == "bytes") return Response::Bytes(TestContent(5000, 1));
      auto [stream, writer] = ResponseStream::Create(100);
      writers.push_back(std::move(writer));
      return Response::Stream(std::move(stream));
    }
    std::vector<StreamWriter> writers;
  };
  auto handler = std::make_shared<Mixed>();
  EngineHarness h([](ServerConfig& c) { c.shutdown_grace = seconds(1); },
                  handler);
  h.SendToService(Client(1), RequestPacket(1, "bytes"));
  h.SendToService(Client(2), RequestPacket(1, "stream"));
  std::vector<Reply> first = To(h.Run(), Client(1));
  ASSERT_EQ(first.size(), 1u);
  h.SendTo(first[0].fd, Client(1), AckPacket(1));  // A transfer now.
  h.Run();
  EXPECT_EQ(h.shard().open_transfers(), 2u);
  h.shard().RequestStop(/*immediate=*/false);
  h.Run();
  // Requests during the stop are not taken.
  h.SendToService(Client(3), RequestPacket(1, "bytes"));
  EXPECT_TRUE(To(h.Run(), Client(3)).empty());
  h.Advance(milliseconds(1100));
  h.Advance(milliseconds(300));  // The aborted transfers' ERRORs drain.
  EXPECT_TRUE(h.finished());
  EXPECT_EQ(h.shard().open_transfers(), 0u);
  EXPECT_EQ(h.totals().transfers_aborted, 1u);
  EXPECT_TRUE(h.open_sockets().empty());
}

}  // namespace
}  // namespace tftpd::testing
