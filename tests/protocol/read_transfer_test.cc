#include "protocol/read_transfer.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "protocol/packet.h"
#include "tests/protocol/simulated_link.h"

namespace tftp {
namespace {

using std::chrono::seconds;
using ::tftp::testing::DropIndices;
using ::tftp::testing::LinkFaults;
using ::tftp::testing::OptionsFor;
using ::tftp::testing::PatternContent;
using ::tftp::testing::ReadRun;
using ::tftp::testing::RunRead;

std::vector<uint8_t> Ack(uint16_t block) {
  std::vector<uint8_t> d(4);
  EncodeAck(absl::MakeSpan(d), block);
  return d;
}

std::vector<uint8_t> Error(ErrorCode code, const char* message) {
  std::vector<uint8_t> d(64);
  d.resize(EncodeError(absl::MakeSpan(d), code, message));
  return d;
}

// Takes every pending packet, returning (opcode, block) pairs.
std::vector<Outgoing> Drain(ReadTransfer& s) {
  std::vector<Outgoing> out;
  std::vector<uint8_t> buf(kMaxPacketSize);
  while (s.HasOutgoing()) out.push_back(s.NextOutgoing(absl::MakeSpan(buf)));
  return out;
}

void ExpectComplete(const std::string& content, const ReadRun& run) {
  EXPECT_EQ(run.result.outcome, TransferOutcome::kCompleted)
      << TransferOutcomeName(run.result.outcome) << " "
      << run.result.error_message;
  EXPECT_TRUE(run.client_complete);
  EXPECT_EQ(run.received.size(), content.size());
  EXPECT_TRUE(run.received == content);
}

class ReadSizes : public ::testing::TestWithParam<size_t> {};

TEST_P(ReadSizes, TransfersEveryByteInLockStep) {
  const std::string content = PatternContent(GetParam());
  const ReadRun run = RunRead(content, OptionsFor(512, 1, false));
  ExpectComplete(content, run);
  EXPECT_EQ(run.wire_blocks.size(), content.size() / 512 + 1);
  EXPECT_EQ(run.counters.retransmits, 0u);
  EXPECT_EQ(run.counters.bytes_transferred, content.size());
}

INSTANTIATE_TEST_SUITE_P(EdgeSizes, ReadSizes,
                         ::testing::Values(0, 1, 511, 512, 513, 1024, 100000));

TEST(ReadTransfer, WithoutOptionsTheFirstPacketIsData1) {
  ReadTransfer s({}, OptionsFor(512, 1, false), 1000);
  s.Start(TimePoint{});
  std::vector<Outgoing> out = Drain(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].opcode, Opcode::kData);
  EXPECT_EQ(out[0].block, 1);
  EXPECT_EQ(out[0].payload_offset, 0u);
  EXPECT_EQ(out[0].payload_size, 512u);
  EXPECT_EQ(out[0].header_size, kDataHeaderSize);
}

TEST(ReadTransfer, WithOptionsTheOackComesFirstAndAck0StartsTheData) {
  NegotiatedOptions options = OptionsFor(1428, 4);
  ReadTransfer s({}, options, 10000);
  s.Start(TimePoint{});
  std::vector<uint8_t> buf(2000);
  Outgoing oack = s.NextOutgoing(absl::MakeSpan(buf));
  ASSERT_EQ(oack.opcode, Opcode::kOack);
  OptionList list;
  ASSERT_TRUE(
      ParseOack(absl::MakeConstSpan(buf.data(), oack.header_size), &list).ok());
  ASSERT_EQ(list.count, 2u);
  EXPECT_EQ(list.items[0].value, "1428");
  EXPECT_FALSE(s.HasOutgoing());
  s.OnDatagram(Ack(1), TimePoint{});  // Not ACK 0: ignored.
  EXPECT_FALSE(s.HasOutgoing());
  s.OnDatagram(Ack(0), TimePoint{});
  std::vector<Outgoing> window = Drain(s);
  ASSERT_EQ(window.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(window[i].block, i + 1);
}

TEST(ReadTransfer, ExactlyAMultipleOfBlksizeEndsWithAnEmptyBlock) {
  const std::string content = PatternContent(2048);
  const ReadRun run = RunRead(content, OptionsFor(512, 1));
  ExpectComplete(content, run);
  ASSERT_EQ(run.wire_blocks.size(), 5u);
}

TEST(ReadTransfer, RollsOverAfter65535WithExactly65536Blocks) {
  // 65535 full blocks and a short 65536th, which goes out as block 0.
  const std::string content = PatternContent(65535 * 8 + 3);
  const ReadRun run = RunRead(content, OptionsFor(8, 1));
  ExpectComplete(content, run);
  ASSERT_EQ(run.wire_blocks.size(), 65536u);
  EXPECT_EQ(run.wire_blocks[65534], 65535);
  EXPECT_EQ(run.wire_blocks[65535], 0);
}

TEST(ReadTransfer, RollsOverRepeatedlyWithWindows) {
  const std::string content = PatternContent(3 * 65536 * 8 + 100);
  for (uint16_t window : {1, 4, 16}) {
    const ReadRun run = RunRead(content, OptionsFor(8, window));
    ExpectComplete(content, run);
    EXPECT_EQ(run.wire_blocks.size(), content.size() / 8 + 1);
    EXPECT_EQ(run.wire_blocks[65536], 1);
    EXPECT_EQ(run.wire_blocks[2 * 65536 - 1], 0);
  }
}

class ReadWindows : public ::testing::TestWithParam<uint16_t> {};

TEST_P(ReadWindows, ADataLostInsideAWindowIsResentAfterTheTimeout) {
  const uint16_t window = GetParam();
  const std::string content = PatternContent(100 * 512 + 17);
  LinkFaults faults;
  // The OACK is packet 0; lose the second DATA of the first window, and one
  // in a later window.
  faults.drop_to_client = DropIndices({2, 40});
  const ReadRun run = RunRead(content, OptionsFor(512, window), {}, faults);
  ExpectComplete(content, run);
  EXPECT_GE(run.counters.retransmits, 2u);
}

TEST_P(ReadWindows, AnAckInsideTheWindowContinuesFromTheNextBlock) {
  const uint16_t window = GetParam();
  const std::string content = PatternContent(64 * 1024);
  LinkFaults faults;
  // Packet 3 is DATA 3: inside the first window for windows of 4 and 16.
  faults.drop_to_client = DropIndices({3});
  faults.client_acks_on_gap = true;
  const ReadRun run = RunRead(content, OptionsFor(512, window), {}, faults);
  ExpectComplete(content, run);
  if (window > 1) {
    // The client's early ACK restarts the window before any deadline.
    EXPECT_EQ(run.end, TimePoint{}) << "no timeout should have been needed";
  }
}

TEST_P(ReadWindows, SurvivesSeededRandomLossBothWays) {
  const uint16_t window = GetParam();
  const std::string content = PatternContent(300 * 1024 + 5);
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    uint32_t state = seed * 2654435761u;
    auto lossy = [state](uint64_t i) mutable {
      state = state * 1664525u + 1013904223u + static_cast<uint32_t>(i);
      return (state >> 24) < 26;  // About 10%.
    };
    LinkFaults faults;
    faults.drop_to_client = lossy;
    faults.drop_to_server = lossy;
    TransferConfig config;
    config.max_retries = 20;
    const ReadRun run =
        RunRead(content, OptionsFor(1024, window), config, faults);
    ExpectComplete(content, run);
  }
}

INSTANTIATE_TEST_SUITE_P(Windows, ReadWindows, ::testing::Values(1, 4, 16));

// A whole window acknowledged is told apart from an ACK inside it, from a
// duplicate, and from the OACK's ACK 0.
TEST(ReadTransfer, AWholeWindowAcknowledgedIsToldApart) {
  ReadTransfer s(TransferConfig{}, OptionsFor(512, 4), 100 * 512);
  const TimePoint t0{};
  s.Start(t0);
  ASSERT_EQ(Drain(s).size(), 1u);  // The OACK.
  s.OnDatagram(Ack(0), t0);
  EXPECT_FALSE(s.AcknowledgedWindow());  // The OACK, not a window of DATA.
  ASSERT_EQ(Drain(s).size(), 4u);        // DATA 1 to 4.
  s.OnDatagram(Ack(2), t0);  // Inside the window: it restarts from 3.
  EXPECT_FALSE(s.AcknowledgedWindow());
  ASSERT_EQ(Drain(s).size(), 4u);  // DATA 3 to 6.
  s.OnDatagram(Ack(6), t0);
  EXPECT_TRUE(s.AcknowledgedWindow());
  s.OnDatagram(Ack(6), t0);  // A duplicate acknowledges nothing new.
  EXPECT_FALSE(s.AcknowledgedWindow());
}

TEST(ReadTransfer, LostAckIsRecoveredByRetransmission) {
  const std::string content = PatternContent(5000);
  LinkFaults faults;
  faults.drop_to_server = DropIndices({0, 3});
  const ReadRun run = RunRead(content, OptionsFor(512, 1, false), {}, faults);
  ExpectComplete(content, run);
  EXPECT_EQ(run.counters.retransmits, 2u);
}

TEST(ReadTransfer, LostFinalAckIsRecovered) {
  const std::string content = PatternContent(1000);
  LinkFaults faults;
  faults.drop_to_server = DropIndices({1});  // ACK 2, the last.
  const ReadRun run = RunRead(content, OptionsFor(512, 1, false), {}, faults);
  ExpectComplete(content, run);
  EXPECT_EQ(run.counters.retransmits, 1u);
}

TEST(ReadTransfer, SentEverythingOnceTheLastBlockIsOutAndSupersedeEndsQuietly) {
  // Three blocks in lock step: only after DATA 3 has gone out is there
  // nothing left but its ACK; superseding then ends the transfer with no
  // packet, no deadline, and an outcome of its own.
  ReadTransfer s({}, OptionsFor(512, 1, false), 1100);
  s.Start(TimePoint{});
  Drain(s);
  EXPECT_FALSE(s.SentEverything());
  s.Supersede();
  EXPECT_FALSE(s.finished()) << "superseded before the last block was sent";
  s.OnDatagram(Ack(1), TimePoint{});
  Drain(s);
  EXPECT_FALSE(s.SentEverything());
  s.OnDatagram(Ack(2), TimePoint{});
  std::vector<Outgoing> out = Drain(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].block, 3);
  EXPECT_TRUE(s.SentEverything());
  s.Supersede();
  EXPECT_TRUE(s.finished());
  EXPECT_FALSE(s.HasOutgoing());
  EXPECT_FALSE(s.deadline().has_value());
  EXPECT_EQ(s.result().outcome, TransferOutcome::kSuperseded);
  EXPECT_EQ(std::string(TransferOutcomeName(s.result().outcome)), "superseded");
}

TEST(ReadTransfer, AStreamWhoseEndIsUnknownHasNotSentEverything) {
  ReadTransfer s({}, OptionsFor(512, 1, false), std::nullopt);
  s.Start(TimePoint{});
  s.OnDataAvailable(100, false, TimePoint{});
  Drain(s);
  EXPECT_FALSE(s.SentEverything());
}

TEST(ReadTransfer, DuplicateAckDoesNotDoubleTheStream) {
  ReadTransfer s({}, OptionsFor(512, 1, false), 5000);
  s.Start(TimePoint{});
  Drain(s);
  s.OnDatagram(Ack(1), TimePoint{});
  ASSERT_EQ(Drain(s).size(), 1u);  // DATA 2.
  s.OnDatagram(Ack(1), TimePoint{});
  EXPECT_TRUE(Drain(s).empty());
  EXPECT_EQ(s.counters().duplicate_packets, 1u);
  s.OnDatagram(Ack(2), TimePoint{});
  std::vector<Outgoing> next = Drain(s);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].block, 3);
}

TEST(ReadTransfer, ResendOnDuplicateAckResendsOncePerBlock) {
  TransferConfig config;
  config.resend_on_duplicate_ack = true;
  ReadTransfer s(config, OptionsFor(512, 1, false), 5000);
  s.Start(TimePoint{});
  Drain(s);
  s.OnDatagram(Ack(1), TimePoint{});
  Drain(s);
  s.OnDatagram(Ack(1), TimePoint{});
  std::vector<Outgoing> resent = Drain(s);
  ASSERT_EQ(resent.size(), 1u);
  EXPECT_EQ(resent[0].block, 2);
  EXPECT_TRUE(resent[0].retransmission);
  s.OnDatagram(Ack(1), TimePoint{});
  EXPECT_TRUE(Drain(s).empty());
}

TEST(ReadTransfer, StaleAndFutureAcksAreIgnored) {
  ReadTransfer s({}, OptionsFor(512, 4, false), 100000);
  s.Start(TimePoint{});
  ASSERT_EQ(Drain(s).size(), 4u);
  s.OnDatagram(Ack(9), TimePoint{});  // Never sent.
  EXPECT_TRUE(Drain(s).empty());
  s.OnDatagram(Ack(4), TimePoint{});
  EXPECT_EQ(Drain(s).size(), 4u);
  s.OnDatagram(Ack(2), TimePoint{});  // Older than what was acknowledged.
  EXPECT_TRUE(Drain(s).empty());
  EXPECT_FALSE(s.finished());
}

// At the largest window granted, an ACK from the previous window that
// arrives late names no block of the current one (options.h lowers larger
// windowsizes; at 65535 this ACK would acknowledge block 65546).
TEST(ReadTransfer, ALateAckAtTheLargestGrantedWindowIsIgnored) {
  constexpr uint64_t kWindow = kMaxGrantedWindowSize;
  ReadTransfer s({}, OptionsFor(8, kWindow, false), 8 * (3 * kWindow));
  s.Start(TimePoint{});
  ASSERT_EQ(Drain(s).size(), kWindow);
  s.OnDatagram(Ack(static_cast<uint16_t>(kWindow)), TimePoint{});
  ASSERT_EQ(Drain(s).size(), kWindow);
  s.OnDatagram(Ack(10), TimePoint{});
  EXPECT_TRUE(Drain(s).empty());
  EXPECT_EQ(s.counters().blocks_acknowledged, kWindow);
}

TEST(ReadTransfer, ClientErrorEndsTheTransferCleanly) {
  ReadTransfer s({}, OptionsFor(512, 1, false), 5000);
  s.Start(TimePoint{});
  Drain(s);
  s.OnDatagram(Ack(1), TimePoint{});
  Drain(s);
  s.OnDatagram(Error(ErrorCode::kNotDefined, "closed"), TimePoint{});
  EXPECT_TRUE(s.finished());
  EXPECT_FALSE(s.HasOutgoing());
  EXPECT_EQ(s.result().outcome, TransferOutcome::kPeerError);
  EXPECT_EQ(s.result().error_message, "closed");
  EXPECT_FALSE(s.deadline().has_value());
}

TEST(ReadTransfer, UefiTsizeProbeEndsAfterTheOack) {
  NegotiatedOptions options;
  options.tsize = 12345;
  options.accepted[options.accepted_count++] = OptionId::kTsize;
  ReadTransfer s({}, options, 12345);
  s.Start(TimePoint{});
  std::vector<Outgoing> out = Drain(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].opcode, Opcode::kOack);
  s.OnDatagram(Error(ErrorCode::kOptionRefused, "tsize probe"), TimePoint{});
  EXPECT_TRUE(s.finished());
  EXPECT_FALSE(s.HasOutgoing());
  EXPECT_EQ(s.result().outcome, TransferOutcome::kPeerError);
  EXPECT_EQ(s.result().error_code, 8);
}

TEST(ReadTransfer, MalformedPacketFromThePeerIsAnsweredWithError4) {
  ReadTransfer s({}, OptionsFor(512, 1, false), 5000);
  s.Start(TimePoint{});
  Drain(s);
  const std::vector<uint8_t> junk = {0, 4, 0};
  s.OnDatagram(junk, TimePoint{});
  std::vector<uint8_t> buf(600);
  ASSERT_TRUE(s.HasOutgoing());
  Outgoing out = s.NextOutgoing(absl::MakeSpan(buf));
  EXPECT_EQ(out.opcode, Opcode::kError);
  ErrorPacket error;
  ASSERT_TRUE(
      ParseError(absl::MakeConstSpan(buf.data(), out.header_size), &error)
          .ok());
  EXPECT_EQ(error.code, 4);
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.result().outcome, TransferOutcome::kProtocolError);
}

TEST(ReadTransfer, UnexpectedOpcodeIsAnsweredWithError4) {
  ReadTransfer s({}, OptionsFor(512, 1, false), 5000);
  s.Start(TimePoint{});
  Drain(s);
  const std::vector<uint8_t> data = {0, 3, 0, 1, 'x'};
  s.OnDatagram(data, TimePoint{});
  std::vector<Outgoing> out = Drain(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].opcode, Opcode::kError);
  EXPECT_EQ(s.result().error_code, 4);
}

TEST(ReadTransfer, RetriesAreExhaustedWithExponentialBackoff) {
  TransferConfig config;
  config.timeout = seconds(1);
  config.max_timeout = seconds(4);
  config.max_retries = 4;
  ReadTransfer s(config, OptionsFor(512, 1, false), 5000);
  TimePoint now{};
  s.Start(now);
  EXPECT_EQ(Drain(s).size(), 1u);
  std::vector<Duration> waits;
  int sends = 1;
  while (!s.finished()) {
    ASSERT_TRUE(s.deadline().has_value());
    const TimePoint before = now;
    // An early call must not fire the timer.
    s.OnDeadline(*s.deadline() - std::chrono::milliseconds(1));
    ASSERT_FALSE(s.HasOutgoing());
    now = *s.deadline();
    waits.push_back(now - before);
    s.OnDeadline(now);
    for (const Outgoing& o : Drain(s)) {
      EXPECT_TRUE(o.retransmission);
      EXPECT_EQ(o.block, 1);
      ++sends;
    }
  }
  EXPECT_EQ(sends, 5);  // The first send and four retries.
  EXPECT_EQ(waits, (std::vector<Duration>{seconds(1), seconds(2), seconds(4),
                                          seconds(4), seconds(4)}));
  EXPECT_EQ(s.result().outcome, TransferOutcome::kTimedOut);
  EXPECT_FALSE(s.HasOutgoing());
}

TEST(ReadTransfer, NegotiatedTimeoutSetsTheRetransmissionInterval) {
  NegotiatedOptions options = OptionsFor(512, 1);
  options.timeout_seconds = 5;
  options.accepted[options.accepted_count++] = OptionId::kTimeout;
  ReadTransfer s({}, options, 5000);
  s.Start(TimePoint{});
  ASSERT_TRUE(s.deadline().has_value());
  EXPECT_EQ(*s.deadline() - TimePoint{}, seconds(5));
}

// A lock-step read of 20 blocks waiting 1 s before its first retransmission
// and up to 8 s after, started at time zero with its DATA 1 taken.
struct StartedRead {
  static TransferConfig Config() {
    TransferConfig config;
    config.timeout = seconds(1);
    config.max_timeout = seconds(8);
    return config;
  }
  StartedRead() : s(Config(), OptionsFor(512, 1, false), 512 * 20) {
    s.Start(now);
    Drain(s);
  }
  ReadTransfer s;
  TimePoint now{};
};

// Thousands of clients queued behind one another answer each block late
// but surely: the wait grows with the round trips measured, so that a late
// answer is not taken for a lost one.
TEST(ReadTransfer, TheWaitAdaptsToSlowRoundTrips) {
  StartedRead read;
  ReadTransfer& s = read.s;
  TimePoint& now = read.now;
  const auto slow = std::chrono::milliseconds(900);
  for (uint16_t block = 1; block <= 5; ++block) {
    now += slow;
    s.OnDatagram(Ack(block), now);
    for (const Outgoing& o : Drain(s)) EXPECT_FALSE(o.retransmission);
  }
  ASSERT_TRUE(s.deadline().has_value());
  const Duration wait = *s.deadline() - now;
  EXPECT_GT(wait, seconds(1));
  EXPECT_LE(wait, seconds(8));
  // Answers at 1.3 s now come before the deadline: nothing is sent twice.
  for (uint16_t block = 6; block <= 10; ++block) {
    now += std::chrono::milliseconds(1300);
    ASSERT_LT(now, *s.deadline());
    s.OnDeadline(now);
    s.OnDatagram(Ack(block), now);
    for (const Outgoing& o : Drain(s)) EXPECT_FALSE(o.retransmission);
  }
  EXPECT_EQ(s.counters().retransmits, 0u);
}

// Karn's rule: an answer to a block that was sent twice is no sample (it
// may answer either copy), so one very late answer does not stretch the wait.
TEST(ReadTransfer, AnAnswerAfterARetransmissionIsNoRoundTripSample) {
  StartedRead read;
  ReadTransfer& s = read.s;
  TimePoint& now = read.now;
  now += seconds(1);
  s.OnDeadline(now);  // DATA 1 again.
  ASSERT_EQ(Drain(s).size(), 1u);
  now += std::chrono::milliseconds(1900);
  s.OnDatagram(Ack(1), now);
  Drain(s);
  ASSERT_TRUE(s.deadline().has_value());
  EXPECT_EQ(*s.deadline() - now, seconds(1));
}

// The client asked again before answering: the opening packet goes out
// again and its retries start over; once answered, a repeat changes nothing.
TEST(ReadTransfer, AnswerAgainRepeatsTheOpeningPacketUntilAnswered) {
  TransferConfig config;
  config.max_retries = 1;
  ReadTransfer s(config, OptionsFor(512, 1), 5000);
  TimePoint now{};
  s.Start(now);
  ASSERT_EQ(Drain(s).size(), 1u);
  now += seconds(1);
  s.OnDeadline(now);  // Its one retry.
  ASSERT_EQ(Drain(s).size(), 1u);
  now += seconds(1);
  s.AnswerAgain(now);
  std::vector<Outgoing> again = Drain(s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].opcode, Opcode::kOack);
  EXPECT_TRUE(again[0].retransmission);
  now += seconds(1);
  s.OnDeadline(now);  // A retry again, not the end.
  EXPECT_FALSE(s.finished());
  EXPECT_EQ(Drain(s).size(), 1u);
  s.OnDatagram(Ack(0), now);
  ASSERT_EQ(Drain(s).size(), 1u);  // DATA 1.
  s.AnswerAgain(now);
  EXPECT_FALSE(s.HasOutgoing());
}

// A negotiated timeout binds (RFC 2349): it does not adapt.
TEST(ReadTransfer, ANegotiatedTimeoutDoesNotAdapt) {
  NegotiatedOptions options = OptionsFor(512, 1, false);
  options.timeout_seconds = 2;
  ReadTransfer s({}, options, 512 * 20);
  TimePoint now{};
  s.Start(now);
  Drain(s);
  for (uint16_t block = 1; block <= 5; ++block) {
    now += std::chrono::milliseconds(1900);
    s.OnDatagram(Ack(block), now);
    Drain(s);
  }
  ASSERT_TRUE(s.deadline().has_value());
  EXPECT_EQ(*s.deadline() - now, seconds(2));
}

TEST(ReadTransfer, StrangerPacketsGetError5AndDoNotDisturbTheTransfer) {
  // The driver routes by address and port; a stranger's datagram never
  // reaches the transfer and is answered from EncodeUnknownTransferIdError.
  ReadTransfer s({}, OptionsFor(512, 1, false), 700);
  s.Start(TimePoint{});
  Drain(s);
  std::vector<uint8_t> reply(64);
  reply.resize(EncodeUnknownTransferIdError(absl::MakeSpan(reply)));
  ErrorPacket error;
  ASSERT_TRUE(ParseError(reply, &error).ok());
  EXPECT_EQ(error.code, 5);
  EXPECT_FALSE(s.HasOutgoing());
  s.OnDatagram(Ack(1), TimePoint{});
  std::vector<Outgoing> out = Drain(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].block, 2);
  EXPECT_EQ(out[0].payload_size, 188u);
  s.OnDatagram(Ack(2), TimePoint{});
  EXPECT_EQ(s.result().outcome, TransferOutcome::kCompleted);
}

TEST(ReadTransfer, AbortSendsTheErrorAndEnds) {
  ReadTransfer s({}, OptionsFor(512, 1, false), 5000);
  s.Start(TimePoint{});
  Drain(s);
  s.Abort(ErrorCode::kNotDefined, "source failed");
  std::vector<uint8_t> buf(600);
  Outgoing out = s.NextOutgoing(absl::MakeSpan(buf));
  EXPECT_EQ(out.opcode, Opcode::kError);
  EXPECT_FALSE(s.HasOutgoing());
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.result().outcome, TransferOutcome::kAborted);
  EXPECT_FALSE(s.deadline().has_value());
}

TEST(ReadTransfer, StreamsBytesAsTheyBecomeAvailable) {
  // Unknown size: only whole blocks go out until the end is known.
  ReadTransfer s({}, OptionsFor(512, 4, false), std::nullopt);
  TimePoint now{};
  s.Start(now);
  EXPECT_FALSE(s.HasOutgoing());
  EXPECT_FALSE(s.deadline().has_value());
  s.OnDataAvailable(1000, false, now);
  std::vector<Outgoing> out = Drain(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload_size, 512u);
  ASSERT_TRUE(s.deadline().has_value());
  s.OnDataAvailable(3000, false, now);
  out = Drain(s);
  ASSERT_EQ(out.size(), 3u);  // Blocks 2-4 fill the window of 4.
  s.OnDatagram(Ack(4), now);
  out = Drain(s);
  ASSERT_EQ(out.size(), 1u);  // Block 5 (bytes 2048-2559); 3000 is not 6*512.
  s.OnDataAvailable(3000, true, now);
  out = Drain(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].block, 6);
  EXPECT_EQ(out[0].payload_size, 3000u - 5 * 512);
  s.OnDatagram(Ack(6), now);
  EXPECT_EQ(s.result().outcome, TransferOutcome::kCompleted);
}

TEST(ReadTransfer, InputBeforeStartIsIgnored) {
  ReadTransfer s({}, OptionsFor(512, 1, false), 5000);
  s.OnDatagram(Ack(0), TimePoint{});
  s.OnDeadline(TimePoint{} + seconds(100));
  EXPECT_FALSE(s.HasOutgoing());
  EXPECT_FALSE(s.finished());
}

}  // namespace
}  // namespace tftp
