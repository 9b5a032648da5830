#include "protocol/download_transfer.h"

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "protocol/options.h"
#include "protocol/packet.h"
#include "protocol/read_transfer.h"
#include "tests/protocol/simulated_link.h"

namespace tftp {
namespace {

using ::tftp::testing::MemorySink;
using ::tftp::testing::PatternContent;

struct DownloadRun {
  MemorySink sink;
  TransferResult client;
  TransferResult server;
  std::optional<uint64_t> announced;
  uint16_t blksize = 0;
  uint16_t windowsize = 0;
};

// Runs a DownloadTransfer against a ReadTransfer serving `content`, with the
// server negotiating as tftpd does; `drop` loses packets by index (both
// directions share one counter).
DownloadRun Download(const std::string& content, const DownloadRequest& request,
                     OptionLimits limits = {}, uint32_t loss_seed = 0) {
  DownloadRun run;
  TransferConfig config;
  config.max_retries = 30;
  DownloadTransfer client(config, request, &run.sink);
  std::optional<ReadTransfer> server;
  std::vector<uint8_t> buf(kMaxPacketSize);
  uint32_t state = loss_seed;
  auto lost = [&]() {
    if (loss_seed == 0) return false;
    state = state * 1664525u + 1013904223u;
    return (state >> 24) < 26;  // About 10%.
  };
  TimePoint now{};
  client.Start(now);
  for (int step = 0; step < 2'000'000; ++step) {
    bool traffic = false;
    while (client.HasOutgoing()) {
      Outgoing out = client.NextOutgoing(absl::MakeSpan(buf));
      traffic = true;
      const absl::Span<const uint8_t> packet(buf.data(), out.header_size);
      if (lost()) continue;
      if (out.opcode == Opcode::kRrq) {
        if (server.has_value()) continue;  // A repeated request: same TID.
        Request parsed;
        EXPECT_TRUE(ParseRequest(packet, &parsed).ok());
        NegotiatedOptions negotiated;
        EXPECT_TRUE(
            NegotiateOptions(parsed, limits, content.size(), &negotiated).ok());
        server.emplace(config, negotiated, content.size());
        server->Start(now);
      } else if (server.has_value()) {
        server->OnDatagram(packet, now);
      }
    }
    while (server.has_value() && server->HasOutgoing()) {
      Outgoing out = server->NextOutgoing(absl::MakeSpan(buf));
      traffic = true;
      std::memcpy(buf.data() + out.header_size,
                  content.data() + out.payload_offset, out.payload_size);
      if (lost()) continue;
      client.OnDatagram(
          absl::MakeConstSpan(buf.data(), out.header_size + out.payload_size),
          now);
    }
    if (traffic) continue;
    const bool server_done = !server.has_value() || server->finished();
    if (client.finished() && server_done) break;
    std::optional<TimePoint> next = client.deadline();
    if (server.has_value() && server->deadline().has_value() &&
        (!next.has_value() || *server->deadline() < *next)) {
      next = server->deadline();
    }
    if (!next.has_value()) break;
    now = *next;
    client.OnDeadline(now);
    if (server.has_value()) server->OnDeadline(now);
  }
  run.client = client.result();
  if (server.has_value()) run.server = server->result();
  run.announced = client.announced_size();
  run.blksize = client.blksize();
  run.windowsize = client.windowsize();
  return run;
}

DownloadRequest Ask(uint16_t blksize, uint16_t windowsize, bool tsize) {
  DownloadRequest r;
  r.filename = "kernel";
  r.blksize = blksize;
  r.windowsize = windowsize;
  r.ask_tsize = tsize;
  return r;
}

TEST(DownloadTransfer, FetchesWithoutOptions) {
  for (size_t size : {0, 1, 511, 512, 513, 70000}) {
    const std::string content = PatternContent(size);
    DownloadRun run = Download(content, Ask(0, 0, false));
    EXPECT_EQ(run.client.outcome, TransferOutcome::kCompleted) << size;
    EXPECT_EQ(run.server.outcome, TransferOutcome::kCompleted) << size;
    EXPECT_TRUE(run.sink.bytes == content) << size;
    EXPECT_FALSE(run.announced.has_value());
  }
}

TEST(DownloadTransfer, NegotiatesAndLearnsTheSize) {
  const std::string content = PatternContent(1 << 20);
  OptionLimits limits;
  limits.max_blksize = 1428;
  DownloadRun run = Download(content, Ask(1468, 4, true), limits);
  EXPECT_EQ(run.client.outcome, TransferOutcome::kCompleted);
  EXPECT_TRUE(run.sink.bytes == content);
  EXPECT_EQ(run.announced, content.size());
  EXPECT_EQ(run.blksize, 1428);  // Lowered by the server, accepted.
  EXPECT_EQ(run.windowsize, 4);
}

TEST(DownloadTransfer, CompletesUnderLossWithWindowsAndRollover) {
  const std::string content = PatternContent(70000 * 8 + 3);
  for (uint16_t window : {1, 4, 16}) {
    for (uint32_t seed : {7u, 99u}) {
      DownloadRun run = Download(content, Ask(8, window, true), {}, seed);
      EXPECT_EQ(run.client.outcome, TransferOutcome::kCompleted)
          << window << " " << seed << " " << run.client.error_message;
      EXPECT_TRUE(run.sink.bytes == content) << window << " " << seed;
    }
  }
}

TEST(DownloadTransfer, SizeProbeEndsWithError8AfterTheOack) {
  const std::string content = PatternContent(12345);
  DownloadRequest probe = Ask(1468, 4, true);
  probe.probe_only = true;
  DownloadRun run = Download(content, probe);
  EXPECT_EQ(run.client.outcome, TransferOutcome::kCompleted);
  EXPECT_EQ(run.announced, 12345u);
  EXPECT_TRUE(run.sink.bytes.empty());
  EXPECT_EQ(run.server.outcome, TransferOutcome::kPeerError);
  EXPECT_EQ(run.server.error_code, 8);
}

TEST(DownloadTransfer, RefusesAnOackThatRaisesBlksizeOrAddsOptions) {
  MemorySink sink;
  DownloadTransfer client({}, Ask(512, 0, false), &sink);
  client.Start(TimePoint{});
  std::vector<uint8_t> buf(kMaxRequestPacket);
  client.NextOutgoing(absl::MakeSpan(buf));
  const RawOption raised[] = {{"blksize", "1024"}};
  std::vector<uint8_t> oack(64);
  oack.resize(EncodeOack(absl::MakeSpan(oack), raised));
  client.OnDatagram(oack, TimePoint{});
  ASSERT_TRUE(client.HasOutgoing());
  Outgoing out = client.NextOutgoing(absl::MakeSpan(buf));
  EXPECT_EQ(out.opcode, Opcode::kError);
  EXPECT_EQ(client.result().error_code, 8);

  DownloadTransfer other({}, Ask(512, 0, false), &sink);
  other.Start(TimePoint{});
  other.NextOutgoing(absl::MakeSpan(buf));
  const RawOption unasked[] = {{"tsize", "5"}};
  oack.resize(64);
  oack.resize(EncodeOack(absl::MakeSpan(oack), unasked));
  other.OnDatagram(oack, TimePoint{});
  EXPECT_EQ(other.result().outcome, TransferOutcome::kProtocolError);
}

TEST(DownloadTransfer, ARepeatedOackIsAnsweredWithAck0UntilDataComes) {
  MemorySink sink;
  DownloadTransfer client({}, Ask(1024, 4, false), &sink);
  client.Start(TimePoint{});
  std::vector<uint8_t> buf(kMaxPacketSize);
  client.NextOutgoing(absl::MakeSpan(buf));
  const RawOption accepted[] = {{"blksize", "1024"}, {"windowsize", "4"}};
  std::vector<uint8_t> oack(64);
  oack.resize(EncodeOack(absl::MakeSpan(oack), accepted));
  client.OnDatagram(oack, TimePoint{});
  ASSERT_TRUE(client.HasOutgoing());
  Outgoing out = client.NextOutgoing(absl::MakeSpan(buf));
  EXPECT_EQ(out.opcode, Opcode::kAck);
  EXPECT_EQ(out.block, 0);
  // Our ACK 0 was lost and the server sent its OACK again.
  client.OnDatagram(oack, TimePoint{});
  ASSERT_TRUE(client.HasOutgoing());
  out = client.NextOutgoing(absl::MakeSpan(buf));
  EXPECT_EQ(out.opcode, Opcode::kAck);
  EXPECT_EQ(out.block, 0);
  EXPECT_TRUE(out.retransmission);
  // Once DATA has come, a late copy of the OACK changes nothing.
  std::vector<uint8_t> data(kDataHeaderSize + 1024, 'x');
  data[0] = 0;
  data[1] = 3;
  data[2] = 0;
  data[3] = 1;
  client.OnDatagram(data, TimePoint{});
  client.OnDatagram(oack, TimePoint{});
  EXPECT_FALSE(client.finished());
  EXPECT_FALSE(client.HasOutgoing());
  EXPECT_EQ(client.result().outcome, TransferOutcome::kInProgress);
}

TEST(DownloadTransfer, ServerErrorEndsTheDownload) {
  MemorySink sink;
  DownloadTransfer client({}, Ask(0, 0, false), &sink);
  client.Start(TimePoint{});
  std::vector<uint8_t> buf(kMaxRequestPacket);
  client.NextOutgoing(absl::MakeSpan(buf));
  std::vector<uint8_t> error(64);
  error.resize(EncodeError(absl::MakeSpan(error), ErrorCode::kFileNotFound,
                           "file not found"));
  client.OnDatagram(error, TimePoint{});
  EXPECT_TRUE(client.finished());
  EXPECT_EQ(client.result().outcome, TransferOutcome::kPeerError);
  EXPECT_EQ(client.result().error_code, 1);
  EXPECT_FALSE(client.HasOutgoing());
}

TEST(DownloadTransfer, UnansweredRequestIsRetriedThenTimesOut) {
  TransferConfig config;
  config.max_retries = 2;
  MemorySink sink;
  DownloadTransfer client(config, Ask(0, 0, false), &sink);
  client.Start(TimePoint{});
  std::vector<uint8_t> buf(kMaxRequestPacket);
  int requests = 0;
  while (!client.finished()) {
    while (client.HasOutgoing()) {
      EXPECT_EQ(client.NextOutgoing(absl::MakeSpan(buf)).opcode, Opcode::kRrq);
      ++requests;
    }
    ASSERT_TRUE(client.deadline().has_value());
    client.OnDeadline(*client.deadline());
  }
  EXPECT_EQ(requests, 3);
  EXPECT_EQ(client.result().outcome, TransferOutcome::kTimedOut);
}

}  // namespace
}  // namespace tftp
