#include "protocol/write_transfer.h"

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
using ::tftp::testing::MemorySink;
using ::tftp::testing::OptionsFor;
using ::tftp::testing::PatternContent;
using ::tftp::testing::RunWrite;
using ::tftp::testing::WriteRun;

std::vector<uint8_t> Data(uint16_t block, size_t size) {
  std::vector<uint8_t> d(kDataHeaderSize + size, 0x5a);
  EncodeDataHeader(absl::MakeSpan(d), block);
  return d;
}

// Every pending packet, decoded as (opcode, block or error code).
std::vector<std::pair<Opcode, uint16_t>> Drain(WriteTransfer& s) {
  std::vector<std::pair<Opcode, uint16_t>> out;
  std::vector<uint8_t> buf(600);
  while (s.HasOutgoing()) {
    Outgoing o = s.NextOutgoing(absl::MakeSpan(buf));
    uint16_t value = o.block;
    if (o.opcode == Opcode::kError) {
      ErrorPacket e;
      EXPECT_TRUE(
          ParseError(absl::MakeConstSpan(buf.data(), o.header_size), &e).ok());
      value = e.code;
    }
    out.emplace_back(o.opcode, value);
  }
  return out;
}

using Packets = std::vector<std::pair<Opcode, uint16_t>>;

void ExpectStored(const std::string& content, const WriteRun& run) {
  EXPECT_EQ(run.result.outcome, TransferOutcome::kCompleted)
      << TransferOutcomeName(run.result.outcome) << " "
      << run.result.error_message;
  EXPECT_TRUE(run.client_complete);
  EXPECT_TRUE(run.sink.finished);
  EXPECT_EQ(run.sink.finished_total, content.size());
  EXPECT_TRUE(run.sink.bytes == content);
}

class WriteSizes : public ::testing::TestWithParam<size_t> {};

TEST_P(WriteSizes, StoresEveryByteInLockStep) {
  const std::string content = PatternContent(GetParam());
  ExpectStored(content, RunWrite(content, OptionsFor(512, 1, false)));
}

INSTANTIATE_TEST_SUITE_P(EdgeSizes, WriteSizes,
                         ::testing::Values(0, 1, 511, 512, 513, 100000));

TEST(WriteTransfer, WithoutOptionsAck0ComesFirst) {
  MemorySink sink;
  WriteTransfer s({}, OptionsFor(512, 1, false), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 0}}));
  s.OnDatagram(Data(1, 512), TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 1}}));
  s.OnDatagram(Data(2, 10), TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 2}}));
  EXPECT_TRUE(s.transfer_complete());
  EXPECT_EQ(sink.bytes.size(), 522u);
}

// A sink that commits elsewhere (a database, another thread).
class LaterSink : public MemorySink {
 public:
  bool CommitsLater() const override { return true; }
};

TEST(WriteTransfer, TheFinalAckWaitsForACommitThatComesLater) {
  LaterSink sink;
  WriteTransfer s({}, OptionsFor(512, 1, false), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  Drain(s);
  s.OnDatagram(Data(1, 512), TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 1}}));
  s.OnDatagram(Data(2, 10), TimePoint{});
  // Stored and handed to the sink, but not acknowledged, with no deadline
  // of its own: the driver bounds the wait.
  EXPECT_TRUE(sink.finished);
  EXPECT_TRUE(s.committing());
  EXPECT_FALSE(s.transfer_complete());
  EXPECT_FALSE(s.deadline().has_value());
  EXPECT_TRUE(Drain(s).empty());
  // The client repeats its last block meanwhile: still nothing.
  s.OnDatagram(Data(2, 10), TimePoint{});
  EXPECT_TRUE(Drain(s).empty());
  s.OnCommitted(TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 2}}));
  EXPECT_TRUE(s.transfer_complete());
  // Dallying as usual: a repeat of the last block is acknowledged again.
  s.OnDatagram(Data(2, 10), TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 2}}));
}

TEST(WriteTransfer, AFailedCommitEndsTheUploadWithItsError) {
  LaterSink sink;
  WriteTransfer t({}, OptionsFor(512, 4), UINT64_MAX, &sink);
  t.Start(TimePoint{});
  EXPECT_EQ(Drain(t), (Packets{{Opcode::kOack, 0}}));
  t.OnDatagram(Data(1, 100), TimePoint{});
  ASSERT_TRUE(t.committing());
  t.OnCommitFailed(ErrorCode::kNotDefined, "the database is down");
  EXPECT_EQ(Drain(t), (Packets{{Opcode::kError, 0}}));
  EXPECT_TRUE(t.finished());
  EXPECT_EQ(t.result().outcome, TransferOutcome::kAborted);
  EXPECT_EQ(t.result().error_message, "the database is down");
  // A late report changes nothing.
  t.OnCommitted(TimePoint{});
  EXPECT_FALSE(t.transfer_complete());
}

TEST(WriteTransfer, WithOptionsTheOackComesFirst) {
  MemorySink sink;
  WriteTransfer s({}, OptionsFor(1024, 1), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kOack, 0}}));
}

TEST(WriteTransfer, DuplicateDataIsReAckedAndStoredOnce) {
  MemorySink sink;
  WriteTransfer s({}, OptionsFor(512, 1, false), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  Drain(s);
  s.OnDatagram(Data(1, 512), TimePoint{});
  Drain(s);
  s.OnDatagram(Data(1, 512), TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 1}}));
  s.OnDatagram(Data(1, 512), TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 1}}));
  EXPECT_EQ(sink.bytes.size(), 512u);
  EXPECT_EQ(s.counters().duplicate_packets, 2u);
}

// A window's ACK queued while later blocks arrive before it is sent (a
// driver takes a whole batch of datagrams, then sends) still acknowledges
// its own window: an ACK of the final block sent before the commit would
// tell the client its upload is stored when it may not be.
TEST(WriteTransfer, AQueuedAckKeepsItsBlockWhenLaterBlocksArrive) {
  LaterSink sink;
  WriteTransfer s({}, OptionsFor(512, 4), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  Drain(s);
  for (uint16_t b = 1; b <= 4; ++b) s.OnDatagram(Data(b, 512), TimePoint{});
  s.OnDatagram(Data(5, 100), TimePoint{});  // The last, before ACK 4 leaves.
  EXPECT_TRUE(s.committing());
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 4}}));
  s.OnCommitted(TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 5}}));
}

TEST(WriteTransfer, WindowsAckEveryWindowsizeBlocks) {
  MemorySink sink;
  WriteTransfer s({}, OptionsFor(512, 4), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  Drain(s);
  for (uint16_t b = 1; b <= 3; ++b) {
    s.OnDatagram(Data(b, 512), TimePoint{});
    EXPECT_TRUE(Drain(s).empty());
  }
  s.OnDatagram(Data(4, 512), TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 4}}));
  // A gap (block 6 before 5) is answered once with the last in-order block.
  s.OnDatagram(Data(6, 512), TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 4}}));
  s.OnDatagram(Data(7, 512), TimePoint{});
  EXPECT_TRUE(Drain(s).empty());
  s.OnDatagram(Data(5, 100), TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kAck, 5}}));
  EXPECT_TRUE(s.transfer_complete());
}

class WriteWindows : public ::testing::TestWithParam<uint16_t> {};

TEST_P(WriteWindows, ADataLostInsideAWindowIsRecovered) {
  const std::string content = PatternContent(200 * 512 + 3);
  LinkFaults faults;
  faults.drop_to_server = DropIndices({1, 30, 31});
  const WriteRun run =
      RunWrite(content, OptionsFor(512, GetParam()), UINT64_MAX, {}, faults);
  ExpectStored(content, run);
}

TEST_P(WriteWindows, RollsOverPast65535Blocks) {
  const std::string content = PatternContent(2 * 65536 * 8 + 9);
  const WriteRun run = RunWrite(content, OptionsFor(8, GetParam()));
  ExpectStored(content, run);
}

TEST_P(WriteWindows, SurvivesSeededRandomLossBothWays) {
  const std::string content = PatternContent(200 * 1024 + 1);
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    uint32_t state = seed * 2246822519u;
    auto lossy = [state](uint64_t i) mutable {
      state = state * 1664525u + 1013904223u + static_cast<uint32_t>(i);
      return (state >> 24) < 26;
    };
    LinkFaults faults;
    faults.drop_to_client = lossy;
    faults.drop_to_server = lossy;
    TransferConfig config;
    config.max_retries = 20;
    const WriteRun run = RunWrite(content, OptionsFor(1024, GetParam()),
                                  UINT64_MAX, config, faults);
    ExpectStored(content, run);
  }
}

INSTANTIATE_TEST_SUITE_P(Windows, WriteWindows, ::testing::Values(1, 4, 16));

TEST(WriteTransfer, LostFinalAckIsRepeatedWhileDallying) {
  const std::string content = PatternContent(700);
  LinkFaults faults;
  faults.drop_to_client = DropIndices({2});  // ACK 2, the final one.
  const WriteRun run =
      RunWrite(content, OptionsFor(512, 1, false), UINT64_MAX, {}, faults);
  ExpectStored(content, run);
  EXPECT_EQ(run.counters.duplicate_packets, 1u);
}

TEST(WriteTransfer, DallyingEndsAfterTheTimeout) {
  MemorySink sink;
  WriteTransfer s({}, OptionsFor(512, 1, false), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  Drain(s);
  s.OnDatagram(Data(1, 3), TimePoint{});
  Drain(s);
  EXPECT_TRUE(s.transfer_complete());
  EXPECT_FALSE(s.finished());
  ASSERT_TRUE(s.deadline().has_value());
  s.OnDeadline(*s.deadline());
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.result().outcome, TransferOutcome::kCompleted);
}

TEST(WriteTransfer, SupersedingEndsTheDallyAndKeepsTheUploadComplete) {
  MemorySink sink;
  WriteTransfer s({}, OptionsFor(512, 1, false), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  Drain(s);
  EXPECT_FALSE(s.SentEverything());
  s.Supersede();  // Nothing arrived yet: not to be superseded.
  EXPECT_FALSE(s.finished());
  s.OnDatagram(Data(1, 3), TimePoint{});
  Drain(s);
  EXPECT_TRUE(s.SentEverything());  // The final ACK is out: dallying.
  s.Supersede();
  EXPECT_TRUE(s.finished());
  EXPECT_FALSE(s.HasOutgoing());
  EXPECT_FALSE(s.deadline().has_value());
  EXPECT_EQ(s.result().outcome, TransferOutcome::kCompleted);
}

TEST(WriteTransfer, SizeLimitEndsWithError3) {
  const std::string content = PatternContent(3000);
  const WriteRun run = RunWrite(content, OptionsFor(512, 1, false), 1200);
  EXPECT_EQ(run.result.outcome, TransferOutcome::kAborted);
  EXPECT_EQ(run.result.error_code, 3);
  EXPECT_FALSE(run.sink.finished);
  EXPECT_LE(run.sink.bytes.size(), 1200u);
  // Exactly at the limit is fine.
  const WriteRun exact =
      RunWrite(PatternContent(1200), OptionsFor(512, 1, false), 1200);
  EXPECT_EQ(exact.result.outcome, TransferOutcome::kCompleted);
}

TEST(WriteTransfer, SinkRefusalsEndTheTransferWithTheSinksError) {
  MemorySink sink;
  sink.refuse_beyond = 1000;
  WriteTransfer s({}, OptionsFor(512, 1, false), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  Drain(s);
  s.OnDatagram(Data(1, 512), TimePoint{});
  Drain(s);
  s.OnDatagram(Data(2, 512), TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kError, 3}}));
  EXPECT_TRUE(s.finished());

  MemorySink refuse_commit;
  refuse_commit.refuse_finish = true;
  WriteTransfer t({}, OptionsFor(512, 1, false), UINT64_MAX, &refuse_commit);
  t.Start(TimePoint{});
  Drain(t);
  t.OnDatagram(Data(1, 5), TimePoint{});
  // No final ACK: the client must not believe the upload was stored.
  EXPECT_EQ(Drain(t), (Packets{{Opcode::kError, 0}}));
  EXPECT_EQ(t.result().outcome, TransferOutcome::kAborted);
}

TEST(WriteTransfer, OversizedBlockIsAProtocolError) {
  MemorySink sink;
  WriteTransfer s({}, OptionsFor(512, 1, false), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  Drain(s);
  s.OnDatagram(Data(1, 513), TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kError, 4}}));
  EXPECT_EQ(s.result().outcome, TransferOutcome::kProtocolError);
  EXPECT_TRUE(sink.bytes.empty());
}

TEST(WriteTransfer, ClientErrorEndsWithoutCommitting) {
  MemorySink sink;
  WriteTransfer s({}, OptionsFor(512, 1, false), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  Drain(s);
  s.OnDatagram(Data(1, 512), TimePoint{});
  Drain(s);
  std::vector<uint8_t> error(32);
  error.resize(
      EncodeError(absl::MakeSpan(error), ErrorCode::kNotDefined, "cancelled"));
  s.OnDatagram(error, TimePoint{});
  EXPECT_TRUE(s.finished());
  EXPECT_TRUE(Drain(s).empty());
  EXPECT_EQ(s.result().outcome, TransferOutcome::kPeerError);
  EXPECT_FALSE(sink.finished);
}

TEST(WriteTransfer, RetriesAreExhausted) {
  TransferConfig config;
  config.max_retries = 3;
  MemorySink sink;
  WriteTransfer s(config, OptionsFor(512, 1, false), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  int acks = static_cast<int>(Drain(s).size());
  while (!s.finished()) {
    ASSERT_TRUE(s.deadline().has_value());
    s.OnDeadline(*s.deadline());
    acks += static_cast<int>(Drain(s).size());
  }
  EXPECT_EQ(acks, 4);
  EXPECT_EQ(s.result().outcome, TransferOutcome::kTimedOut);
}

TEST(WriteTransfer, UnexpectedPacketIsAnsweredWithError4) {
  MemorySink sink;
  WriteTransfer s({}, OptionsFor(512, 1, false), UINT64_MAX, &sink);
  s.Start(TimePoint{});
  Drain(s);
  const std::vector<uint8_t> ack = {0, 4, 0, 0};
  s.OnDatagram(ack, TimePoint{});
  EXPECT_EQ(Drain(s), (Packets{{Opcode::kError, 4}}));
}

}  // namespace
}  // namespace tftp
