#include "tests/protocol/simulated_link.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <set>

#include "protocol/packet.h"
#include "protocol/read_transfer.h"
#include "protocol/write_transfer.h"

namespace tftp::testing {
namespace {

using Datagram = std::vector<uint8_t>;

constexpr int kMaxSteps = 10'000'000;
constexpr Duration kClientTimeout = std::chrono::milliseconds(1500);

bool Dropped(const DropRule& rule, uint64_t* counter) {
  const uint64_t index = (*counter)++;
  return rule && rule(index);
}

Datagram AckFor(uint16_t block) {
  Datagram d(4);
  EncodeAck(absl::MakeSpan(d), block);
  return d;
}

// The downloading side: ACKs each window (or each block in lock-step).
class DownloadClient {
 public:
  DownloadClient(uint16_t blksize, uint16_t windowsize, bool acks_on_gap)
      : blksize_(blksize), windowsize_(windowsize), acks_on_gap_(acks_on_gap) {}

  void Receive(absl::Span<const uint8_t> datagram, ReadRun* run) {
    const std::optional<Opcode> opcode = PeekOpcode(datagram);
    if (opcode == Opcode::kOack) {
      if (last_ == 0) out_.push_back(AckFor(0));
      return;
    }
    if (opcode != Opcode::kData) return;
    DataPacket data;
    if (!ParseData(datagram, &data).ok()) return;
    const uint16_t expected = static_cast<uint16_t>(last_ + 1);
    if (run->client_complete || data.block != expected) {
      // A repeat of the last block received means the server did not get our
      // ACK (it resent the window, which ends with that block): ACK again.
      if (last_ > 0 && data.block == static_cast<uint16_t>(last_)) {
        since_ack_ = 0;
        out_.push_back(AckFor(data.block));
      } else if (!run->client_complete && acks_on_gap_ && !gap_acked_ &&
                 static_cast<uint16_t>(data.block - expected) < 0x8000) {
        gap_acked_ = true;
        since_ack_ = 0;
        out_.push_back(AckFor(static_cast<uint16_t>(last_)));
      }
      return;
    }
    ++last_;
    gap_acked_ = false;
    run->wire_blocks.push_back(data.block);
    run->received.append(reinterpret_cast<const char*>(data.payload.data()),
                         data.payload.size());
    if (data.payload.size() < blksize_) {
      run->client_complete = true;
      out_.push_back(AckFor(data.block));
      return;
    }
    if (++since_ack_ >= windowsize_) {
      since_ack_ = 0;
      out_.push_back(AckFor(data.block));
    }
  }

  std::deque<Datagram>& outbox() { return out_; }

 private:
  uint16_t blksize_;
  uint16_t windowsize_;
  bool acks_on_gap_;
  uint64_t last_ = 0;
  uint16_t since_ack_ = 0;
  bool gap_acked_ = false;
  std::deque<Datagram> out_;
};

// The uploading side: sends a window, waits for its ACK, resends on timeout.
class UploadClient {
 public:
  UploadClient(const std::string& content, uint16_t blksize,
               uint16_t windowsize)
      : content_(content),
        blksize_(blksize),
        windowsize_(windowsize),
        final_block_(content.size() / blksize + 1) {}

  void Receive(absl::Span<const uint8_t> datagram, TimePoint now) {
    const std::optional<Opcode> opcode = PeekOpcode(datagram);
    if (opcode == Opcode::kOack) {
      started_ = true;
      if (acked_ == 0) SendWindow(now);
      return;
    }
    if (opcode == Opcode::kError) {
      done_ = true;
      return;
    }
    AckPacket ack;
    if (opcode != Opcode::kAck || !ParseAck(datagram, &ack).ok()) return;
    const uint64_t block =
        acked_ +
        static_cast<uint16_t>(ack.block - static_cast<uint16_t>(acked_));
    if (block > highest_sent_ || (block == acked_ && started_ && block > 0)) {
      return;
    }
    if (block == 0 && started_) return;
    started_ = true;
    acked_ = block;
    if (acked_ == final_block_) {
      done_ = true;
      return;
    }
    SendWindow(now);
  }

  void OnTimeout(TimePoint now) {
    if (started_) SendWindow(now);
  }

  std::optional<TimePoint> deadline() const {
    if (done_ || !started_) return std::nullopt;
    return last_send_ + kClientTimeout;
  }
  bool done() const { return done_; }
  std::deque<Datagram>& outbox() { return out_; }

 private:
  void SendWindow(TimePoint now) {
    const uint64_t last =
        std::min<uint64_t>(acked_ + windowsize_, final_block_);
    for (uint64_t b = acked_ + 1; b <= last; ++b) {
      const uint64_t start = (b - 1) * blksize_;
      const size_t len = std::min<uint64_t>(blksize_, content_.size() - start);
      Datagram d(kDataHeaderSize + len);
      EncodeData(
          absl::MakeSpan(d), static_cast<uint16_t>(b),
          absl::MakeConstSpan(
              reinterpret_cast<const uint8_t*>(content_.data()) + start, len));
      out_.push_back(std::move(d));
      highest_sent_ = std::max(highest_sent_, b);
    }
    last_send_ = now;
  }

  const std::string& content_;
  uint16_t blksize_;
  uint16_t windowsize_;
  uint64_t final_block_;
  uint64_t acked_ = 0;
  uint64_t highest_sent_ = 0;
  bool started_ = false;
  bool done_ = false;
  TimePoint last_send_{};
  std::deque<Datagram> out_;
};

}  // namespace

DropRule DropIndices(std::vector<uint64_t> indices) {
  auto set =
      std::make_shared<std::set<uint64_t>>(indices.begin(), indices.end());
  return [set](uint64_t index) { return set->count(index) > 0; };
}

NegotiatedOptions OptionsFor(uint16_t blksize, uint16_t windowsize,
                             bool with_oack) {
  NegotiatedOptions options;
  options.blksize = blksize;
  options.windowsize = windowsize;
  if (with_oack) {
    options.accepted[options.accepted_count++] = OptionId::kBlksize;
    options.accepted[options.accepted_count++] = OptionId::kWindowsize;
  }
  return options;
}

std::string PatternContent(size_t size) {
  std::string s(size, '\0');
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

ReadRun RunRead(const std::string& content, const NegotiatedOptions& options,
                const TransferConfig& config, const LinkFaults& faults) {
  ReadRun run;
  ReadTransfer transfer(config, options, content.size());
  DownloadClient client(options.blksize, options.windowsize,
                        faults.client_acks_on_gap);
  std::vector<uint8_t> buffer(transfer.buffer_size());
  uint64_t to_client = 0;
  uint64_t to_server = 0;
  TimePoint now{};
  transfer.Start(now);
  for (int step = 0; step < kMaxSteps; ++step) {
    bool traffic = false;
    while (transfer.HasOutgoing()) {
      const Outgoing out = transfer.NextOutgoing(absl::MakeSpan(buffer));
      traffic = true;
      std::memcpy(buffer.data() + out.header_size,
                  content.data() + out.payload_offset, out.payload_size);
      if (Dropped(faults.drop_to_client, &to_client)) continue;
      client.Receive(absl::MakeConstSpan(buffer.data(),
                                         out.header_size + out.payload_size),
                     &run);
    }
    while (!client.outbox().empty()) {
      Datagram d = std::move(client.outbox().front());
      client.outbox().pop_front();
      traffic = true;
      if (Dropped(faults.drop_to_server, &to_server)) continue;
      transfer.OnDatagram(d, now);
    }
    if (traffic) continue;
    if (transfer.finished() || !transfer.deadline().has_value()) break;
    now = *transfer.deadline();
    transfer.OnDeadline(now);
  }
  run.result = transfer.result();
  run.counters = transfer.counters();
  run.end = now;
  return run;
}

ProtocolStatus MemorySink::Write(uint64_t offset,
                                 absl::Span<const uint8_t> data) {
  if (offset != bytes.size()) {
    return {ErrorCode::kNotDefined, "write out of order"};
  }
  if (bytes.size() + data.size() > refuse_beyond) {
    return {ErrorCode::kDiskFull, "disk full"};
  }
  bytes.append(reinterpret_cast<const char*>(data.data()), data.size());
  return ProtocolStatus::Ok();
}

ProtocolStatus MemorySink::Finish(uint64_t total_bytes) {
  if (refuse_finish) return {ErrorCode::kNotDefined, "commit failed"};
  finished = true;
  finished_total = total_bytes;
  return ProtocolStatus::Ok();
}

WriteRun RunWrite(const std::string& content, const NegotiatedOptions& options,
                  uint64_t max_size, const TransferConfig& config,
                  const LinkFaults& faults) {
  WriteRun run;
  WriteTransfer transfer(config, options, max_size, &run.sink);
  UploadClient client(content, options.blksize, options.windowsize);
  std::vector<uint8_t> buffer(kMaxPacketSize);
  uint64_t to_client = 0;
  uint64_t to_server = 0;
  TimePoint now{};
  transfer.Start(now);
  for (int step = 0; step < kMaxSteps; ++step) {
    bool traffic = false;
    while (transfer.HasOutgoing()) {
      const Outgoing out = transfer.NextOutgoing(absl::MakeSpan(buffer));
      traffic = true;
      if (Dropped(faults.drop_to_client, &to_client)) continue;
      client.Receive(absl::MakeConstSpan(buffer.data(), out.header_size), now);
    }
    while (!client.outbox().empty()) {
      Datagram d = std::move(client.outbox().front());
      client.outbox().pop_front();
      traffic = true;
      if (Dropped(faults.drop_to_server, &to_server)) continue;
      transfer.OnDatagram(d, now);
    }
    if (traffic) continue;
    if (transfer.finished()) break;
    std::optional<TimePoint> next = transfer.deadline();
    if (client.deadline().has_value() &&
        (!next.has_value() || *client.deadline() < *next)) {
      next = client.deadline();
    }
    if (!next.has_value()) break;
    now = *next;
    if (client.deadline().has_value() && *client.deadline() <= now) {
      client.OnTimeout(now);
    }
    transfer.OnDeadline(now);
  }
  run.client_complete = client.done() && transfer.transfer_complete();
  run.result = transfer.result();
  run.counters = transfer.counters();
  run.end = now;
  return run;
}

}  // namespace tftp::testing
