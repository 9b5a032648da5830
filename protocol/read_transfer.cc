#include "protocol/read_transfer.h"

#include <algorithm>
#include <string>

#include "protocol/packet.h"

namespace tftp {

ReadTransfer::ReadTransfer(const TransferConfig& config,
                           const NegotiatedOptions& options,
                           std::optional<uint64_t> response_size)
    : options_(options),
      timer_(config, options.timeout_seconds),
      resend_on_duplicate_ack_(config.resend_on_duplicate_ack),
      size_known_(response_size.has_value()),
      available_(response_size.value_or(0)) {}

void ReadTransfer::Start(TimePoint now) {
  if (state_ != State::kNotStarted) return;
  if (options_.has_oack()) {
    state_ = State::kAwaitOptionAck;
    control_ = Control::kOack;
    timer_.Restart(now);
    return;
  }
  state_ = State::kTransferring;
  QueueWindowFrom(1);
  if (!QueueEmpty()) timer_.Restart(now);
}

void ReadTransfer::OnDatagram(absl::Span<const uint8_t> datagram,
                              TimePoint now) {
  if (state_ == State::kNotStarted || state_ == State::kDone) return;
  ++counters_.packets_received;
  window_acknowledged_ = false;
  const std::optional<Opcode> opcode = PeekOpcode(datagram);
  if (opcode == Opcode::kAck) {
    AckPacket ack;
    if (ProtocolStatus s = ParseAck(datagram, &ack); !s.ok()) {
      FailWith(TransferOutcome::kProtocolError, s.code, s.message);
      return;
    }
    OnAck(ack.block, now);
    return;
  }
  if (opcode == Opcode::kError) {
    // Any ERROR ends the transfer, even a malformed one: never answer an
    // ERROR with another.
    ErrorPacket error;
    if (ParseError(datagram, &error).ok()) {
      result_.error_code = error.code;
      result_.error_message = std::string(error.message);
    } else if (datagram.size() >= 4) {
      result_.error_code =
          static_cast<uint16_t>((datagram[2] << 8) | datagram[3]);
    }
    Finish(TransferOutcome::kPeerError);
    return;
  }
  FailWith(TransferOutcome::kProtocolError, ErrorCode::kIllegalOperation,
           "unexpected packet in a read transfer");
}

void ReadTransfer::OnAck(uint16_t wire_block, TimePoint now) {
  if (state_ == State::kAwaitOptionAck) {
    if (wire_block != 0) return;  // Only ACK 0 acknowledges the OACK.
    state_ = State::kTransferring;
    control_ = Control::kNone;
    timer_.Answered(now);
    QueueWindowFrom(1);
    if (QueueEmpty()) {
      timer_.Stop();  // Waiting for the response's first bytes.
    } else {
      timer_.Restart(now);
    }
    return;
  }
  // The window never spans more than 65535 blocks past acked_, so the wire
  // number names exactly one block in [acked_, acked_ + 65535].
  const uint16_t delta =
      static_cast<uint16_t>(wire_block - static_cast<uint16_t>(acked_));
  const uint64_t block = acked_ + delta;
  if (block > highest_sent_) return;  // Stale, or never sent: ignore.
  if (block == acked_) {
    ++counters_.duplicate_packets;
    if (resend_on_duplicate_ack_ && !resent_for_duplicate_ &&
        highest_sent_ > acked_) {
      resent_for_duplicate_ = true;
      QueueWindowFrom(acked_ + 1);
    }
    return;
  }
  counters_.blocks_acknowledged += block - acked_;
  window_acknowledged_ = block >= queue_last_;  // Before the next is queued.
  acked_ = block;
  timer_.Answered(now);
  counters_.bytes_transferred = std::min<uint64_t>(
      acked_ * options_.blksize, size_known_ ? available_ : UINT64_MAX);
  resent_for_duplicate_ = false;
  if (acked_ == FinalBlock()) {
    Finish(TransferOutcome::kCompleted);
    return;
  }
  QueueWindowFrom(acked_ + 1);
  if (QueueEmpty()) {
    timer_.Stop();  // Everything sent is acknowledged; waiting for bytes.
  } else {
    timer_.Restart(now);
  }
}

void ReadTransfer::OnDeadline(TimePoint now) {
  if (!timer_.Expired(now)) return;
  if (!timer_.Backoff(now)) {
    Finish(TransferOutcome::kTimedOut);
    return;
  }
  if (state_ == State::kAwaitOptionAck) {
    control_ = Control::kOack;
  } else if (state_ == State::kTransferring) {
    QueueWindowFrom(acked_ + 1);
  }
}

void ReadTransfer::OnDataAvailable(uint64_t available, bool complete,
                                   TimePoint now) {
  if (state_ == State::kDone || size_known_) return;
  available_ = std::max(available_, available);
  size_known_ = complete;
  if (state_ != State::kTransferring) return;
  const uint64_t window_end = acked_ + options_.windowsize;
  const uint64_t last = std::min(window_end, LastReadyBlock());
  if (QueueEmpty()) {
    if (highest_sent_ + 1 > last) return;
    queue_next_ = highest_sent_ + 1;
  }
  queue_last_ = std::max(queue_last_, last);
  if (!timer_.deadline().has_value()) timer_.Restart(now);
}

void ReadTransfer::Abort(ErrorCode code, absl::string_view message) {
  if (state_ == State::kDone) return;
  FailWith(TransferOutcome::kAborted, code, message);
}

bool ReadTransfer::HasOutgoing() const {
  return control_ != Control::kNone || !QueueEmpty();
}

Outgoing ReadTransfer::NextOutgoing(absl::Span<uint8_t> buffer) {
  Outgoing out;
  if (control_ == Control::kOack) {
    control_ = Control::kNone;
    out.opcode = Opcode::kOack;
    out.header_size = EncodeNegotiatedOack(buffer, options_);
    out.retransmission = oack_sent_;
    oack_sent_ = true;
  } else if (control_ == Control::kError) {
    control_ = Control::kNone;
    out.opcode = Opcode::kError;
    out.header_size =
        EncodeError(buffer, static_cast<ErrorCode>(result_.error_code),
                    result_.error_message);
  } else if (!QueueEmpty()) {
    const uint64_t block = queue_next_++;
    out.opcode = Opcode::kData;
    out.block = static_cast<uint16_t>(block);
    out.header_size = EncodeDataHeader(buffer, out.block);
    out.payload_offset = (block - 1) * options_.blksize;
    out.payload_size = BlockPayloadSize(block);
    out.retransmission = block <= highest_sent_;
    highest_sent_ = std::max(highest_sent_, block);
    counters_.payload_bytes_sent += out.payload_size;
  }
  if (out.header_size == 0) return Outgoing{};
  ++counters_.packets_sent;
  if (out.retransmission) ++counters_.retransmits;
  return out;
}

void ReadTransfer::QueueWindowFrom(uint64_t first) {
  queue_next_ = first;
  queue_last_ =
      std::min<uint64_t>(acked_ + options_.windowsize, LastReadyBlock());
}

uint64_t ReadTransfer::LastReadyBlock() const {
  return size_known_ ? FinalBlock() : available_ / options_.blksize;
}

uint64_t ReadTransfer::FinalBlock() const {
  // The first block shorter than blksize ends the transfer; when the size is
  // a multiple of blksize that block is empty.
  return size_known_ ? available_ / options_.blksize + 1 : UINT64_MAX;
}

size_t ReadTransfer::BlockPayloadSize(uint64_t block) const {
  const uint64_t start = (block - 1) * options_.blksize;
  if (!size_known_) return options_.blksize;
  return static_cast<size_t>(
      std::min<uint64_t>(options_.blksize, available_ - start));
}

bool ReadTransfer::SentEverything() const {
  return state_ == State::kTransferring && size_known_ &&
         highest_sent_ >= FinalBlock();
}

void ReadTransfer::Supersede() {
  if (SentEverything()) Finish(TransferOutcome::kSuperseded);
}

void ReadTransfer::AnswerAgain(TimePoint now) {
  if (state_ == State::kAwaitOptionAck) {
    control_ = Control::kOack;
  } else if (state_ == State::kTransferring && !options_.has_oack() &&
             acked_ == 0 && highest_sent_ > 0) {
    QueueWindowFrom(1);  // DATA 1 opened it, and has not been acknowledged.
  } else {
    return;
  }
  timer_.Resend(now);
}

void ReadTransfer::Finish(TransferOutcome outcome) {
  state_ = State::kDone;
  result_.outcome = outcome;
  control_ = Control::kNone;
  queue_next_ = 1;
  queue_last_ = 0;
  timer_.Stop();
}

void ReadTransfer::FailWith(TransferOutcome outcome, ErrorCode code,
                            absl::string_view message) {
  Finish(outcome);
  result_.error_code = static_cast<uint16_t>(code);
  result_.error_message = std::string(message);
  control_ = Control::kError;
}

}  // namespace tftp
