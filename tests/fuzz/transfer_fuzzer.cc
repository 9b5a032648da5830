// Fuzz target: drives a read transfer and a write transfer with a sequence of
// events decoded from the input (datagrams, well-formed ACKs and DATA,
// deadlines, bytes becoming available, aborts) and checks their invariants:
// DATA never describes bytes outside the response, a window never exceeds
// windowsize packets, a write never stores more than its limit, and a
// finished transfer stays quiet.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "protocol/packet.h"
#include "protocol/read_transfer.h"
#include "protocol/write_transfer.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace tftp;

void Check(bool condition) {
  if (!condition) std::abort();
}

class CountingSink : public WriteSink {
 public:
  CountingSink(uint64_t refuse_beyond, bool later)
      : refuse_(refuse_beyond), later_(later) {}
  ProtocolStatus Write(uint64_t offset,
                       absl::Span<const uint8_t> bytes) override {
    Check(offset == stored);
    if (stored + bytes.size() > refuse_) {
      return {ErrorCode::kDiskFull, "full"};
    }
    stored += bytes.size();
    return ProtocolStatus::Ok();
  }
  ProtocolStatus Finish(uint64_t total) override {
    Check(total == stored && !finished);
    finished = true;
    return ProtocolStatus::Ok();
  }
  // A sink that commits later (a database): the transfer must then wait,
  // sending nothing, until it is told the outcome.
  bool CommitsLater() const override { return later_; }
  uint64_t stored = 0;
  bool finished = false;

 private:
  uint64_t refuse_;
  bool later_;
};

NegotiatedOptions OptionsFrom(FuzzInput& in) {
  NegotiatedOptions options;
  options.blksize = static_cast<uint16_t>(
      std::clamp<int>(in.U16() % 2048, kMinBlockSize, kMaxBlockSize));
  options.windowsize = static_cast<uint16_t>(1 + in.Byte() % 32);
  options.timeout_seconds = in.Byte() % 4;
  if (in.Byte() & 1) {
    options.accepted[options.accepted_count++] = OptionId::kBlksize;
  }
  return options;
}

// The next event's datagram, built from the input.
std::vector<uint8_t> DatagramFrom(uint8_t kind, FuzzInput& in) {
  std::vector<uint8_t> d(4);
  switch (kind % 4) {
    case 0: {  // Raw bytes.
      const absl::Span<const uint8_t> raw = in.Bytes(in.Byte());
      d.assign(raw.begin(), raw.end());
      break;
    }
    case 1:
      EncodeAck(absl::MakeSpan(d), in.U16());
      break;
    case 2: {
      const uint16_t block = in.U16();
      d.resize(4 + in.U16() % 1100, 0x41);
      EncodeDataHeader(absl::MakeSpan(d), block);
      break;
    }
    case 3:
      d.resize(32);
      d.resize(EncodeError(absl::MakeSpan(d), ErrorCode::kNotDefined, "x"));
      break;
  }
  return d;
}

template <typename Transfer>
void DrainAndCheck(Transfer& transfer, std::optional<uint64_t> limit,
                   uint16_t windowsize) {
  std::vector<uint8_t> buffer(std::max<size_t>(
      kDataHeaderSize + transfer.options().blksize, kMinOutgoingBuffer));
  int packets = 0;
  while (transfer.HasOutgoing()) {
    const Outgoing out = transfer.NextOutgoing(absl::MakeSpan(buffer));
    Check(out.header_size > 0 && out.header_size <= buffer.size());
    Check(out.payload_size <= transfer.options().blksize);
    if (limit.has_value()) {
      Check(out.payload_offset + out.payload_size <= *limit);
    }
    Check(++packets <= windowsize + 2);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const NegotiatedOptions options = OptionsFrom(in);
  TransferConfig config;
  config.max_retries = in.Byte() % 6;
  config.resend_on_duplicate_ack = in.Byte() & 1;
  const bool known_size = in.Byte() & 1;
  const uint64_t response_size = in.U16() * 7ull;
  const uint64_t max_upload = in.U16() * 3ull;

  ReadTransfer reader(
      config, options,
      known_size ? std::optional<uint64_t>(response_size) : std::nullopt);
  const uint64_t refuse_beyond = in.U16() * 5ull;
  CountingSink sink(refuse_beyond, in.Byte() & 1);
  WriteTransfer writer(config, options, max_upload, &sink);
  TimePoint now{};
  reader.Start(now);
  writer.Start(now);
  uint64_t available = 0;
  // A driver sends what Start queued before anything else happens.
  DrainAndCheck(reader, known_size ? response_size : available,
                options.windowsize);
  DrainAndCheck(writer, std::nullopt, options.windowsize);
  while (!in.empty()) {
    const uint8_t kind = in.Byte();
    switch (kind % 5) {
      case 0:
      case 1: {
        const std::vector<uint8_t> d = DatagramFrom(in.Byte(), in);
        reader.OnDatagram(d, now);
        writer.OnDatagram(d, now);
        break;
      }
      case 2:
        now += std::chrono::milliseconds(in.U16() * 16);
        reader.OnDeadline(now);
        writer.OnDeadline(now);
        break;
      case 3:
        available = std::min<uint64_t>(available + in.U16(), response_size);
        reader.OnDataAvailable(available, in.Byte() & 1, now);
        break;
      case 4: {
        const uint8_t what = in.Byte();
        if (what == 0xff) {
          reader.Abort(ErrorCode::kNotDefined, "abort");
          writer.Abort(ErrorCode::kDiskFull, "abort");
        } else if (what == 0xfe) {
          // The client asked for something else from the same port.
          if (reader.SentEverything()) {
            reader.Supersede();
            Check(reader.finished() && !reader.HasOutgoing());
            Check(reader.result().outcome == TransferOutcome::kSuperseded);
          }
          if (writer.SentEverything()) {
            writer.Supersede();
            Check(writer.finished() && !writer.HasOutgoing());
            Check(writer.result().outcome == TransferOutcome::kCompleted);
          }
        } else if (what & 1) {
          writer.OnCommitted(now);
        } else {
          writer.OnCommitFailed(ErrorCode::kNotDefined, "commit failed");
        }
        break;
      }
    }
    if (writer.committing()) {
      // Waiting for the commit: every block stored, nothing to send, no
      // deadline of its own, not yet complete.
      Check(sink.finished && !writer.HasOutgoing());
      Check(!writer.deadline().has_value() && !writer.transfer_complete());
    }
    // DATA may only describe bytes that exist (or were announced).
    DrainAndCheck(reader, known_size ? response_size : available,
                  options.windowsize);
    DrainAndCheck(writer, std::nullopt, options.windowsize);
    Check(sink.stored <= max_upload);
    if (reader.finished()) Check(!reader.deadline().has_value());
  }
  return 0;
}
