#include "protocol/receiving_transfer.h"

#include <string>

#include "protocol/packet.h"

namespace tftp {

ReceivingTransfer::ReceivingTransfer(const TransferConfig& config,
                                     uint16_t timeout_seconds, uint16_t blksize,
                                     uint16_t windowsize, uint64_t max_size,
                                     WriteSink* sink)
    : timer_(config, timeout_seconds),
      receiver_(blksize, windowsize, max_size, sink) {}

void ReceivingTransfer::Start(TimePoint now) {
  if (state_ != State::kNotStarted) return;
  state_ = State::kOpening;
  Queue(Control::kOpening, false);
  timer_.Restart(now);
}

void ReceivingTransfer::OnDatagram(absl::Span<const uint8_t> datagram,
                                   TimePoint now) {
  if (state_ == State::kNotStarted || state_ == State::kDone) return;
  ++counters_.packets_received;
  const std::optional<Opcode> opcode = PeekOpcode(datagram);
  if (opcode == Opcode::kData) {
    DataPacket data;
    if (ProtocolStatus s = ParseData(datagram, &data); !s.ok()) {
      if (state_ != State::kDallying) {
        FailWith(TransferOutcome::kProtocolError, s.code, s.message);
      }
      return;
    }
    OnData(data.block, data.payload, now);
    return;
  }
  if (opcode == Opcode::kError) {
    if (state_ == State::kDallying) {
      Finish(TransferOutcome::kCompleted);  // Everything is stored already.
      return;
    }
    ErrorPacket error;
    if (ParseError(datagram, &error).ok()) {
      result_.error_code = error.code;
      result_.error_message = std::string(error.message);
    }
    Finish(TransferOutcome::kPeerError);
    return;
  }
  OnOtherPacket(opcode, datagram, now);
}

void ReceivingTransfer::OnOtherPacket(std::optional<Opcode> opcode,
                                      absl::Span<const uint8_t> datagram,
                                      TimePoint now) {
  if (state_ == State::kDallying) return;
  FailWith(TransferOutcome::kProtocolError, ErrorCode::kIllegalOperation,
           "unexpected packet");
}

void ReceivingTransfer::OnData(uint16_t wire_block,
                               absl::Span<const uint8_t> payload,
                               TimePoint now) {
  if (state_ == State::kDallying) {
    // Our final ACK was lost: acknowledge the repeated last block again.
    if (receiver_.IsRepeatOfLast(wire_block)) {
      ++counters_.duplicate_packets;
      Queue(Control::kAck, true);
    }
    return;
  }
  if (state_ == State::kCommitting) {
    // A repeat of the last block: the final ACK waits for the commit.
    ++counters_.duplicate_packets;
    return;
  }
  if (state_ == State::kOpening) {
    if (!AcceptsDataWhileOpening()) return;
    state_ = State::kReceiving;
  }
  const uint64_t duplicates_before = receiver_.duplicates();
  const BlockReceiver::Result r = receiver_.OnData(wire_block, payload);
  counters_.duplicate_packets += receiver_.duplicates() - duplicates_before;
  counters_.bytes_transferred = receiver_.bytes();
  switch (r.verdict) {
    case BlockReceiver::Verdict::kIgnored:
      return;
    case BlockReceiver::Verdict::kReAck:
      Queue(Control::kAck, true);
      return;
    case BlockReceiver::Verdict::kFailed:
      FailWith(r.outcome, r.error.code, r.error.message);
      return;
    case BlockReceiver::Verdict::kCommitting:
      state_ = State::kCommitting;
      timer_.Stop();
      return;
    case BlockReceiver::Verdict::kComplete:
      Queue(Control::kAck, false);
      state_ = State::kDallying;
      result_.outcome = TransferOutcome::kCompleted;
      timer_.Dally(now);
      return;
    case BlockReceiver::Verdict::kAck:
      timer_.Answered(now);  // A window came whole since the last ACK.
      Queue(Control::kAck, false);
      timer_.Restart(now);
      return;
    case BlockReceiver::Verdict::kProgress:
      timer_.Restart(now, /*timed=*/false);
      return;
  }
}

void ReceivingTransfer::OnDeadline(TimePoint now) {
  if (!timer_.Expired(now)) return;
  if (state_ == State::kDallying) {
    Finish(TransferOutcome::kCompleted);
    return;
  }
  if (!timer_.Backoff(now)) {
    Finish(TransferOutcome::kTimedOut);
    return;
  }
  receiver_.OnTimeout();
  Queue(state_ == State::kOpening ? Control::kOpening : Control::kAck, true);
}

void ReceivingTransfer::Abort(ErrorCode code, absl::string_view message) {
  if (state_ == State::kDone) return;
  if (state_ == State::kDallying) {
    Finish(TransferOutcome::kCompleted);
    return;
  }
  FailWith(TransferOutcome::kAborted, code, message);
}

void ReceivingTransfer::OnCommitted(TimePoint now) {
  if (state_ != State::kCommitting) return;
  Queue(Control::kAck, false);
  state_ = State::kDallying;
  result_.outcome = TransferOutcome::kCompleted;
  timer_.Dally(now);
}

void ReceivingTransfer::OnCommitFailed(ErrorCode code,
                                       absl::string_view message) {
  if (state_ != State::kCommitting) return;
  FailWith(TransferOutcome::kAborted, code, message);
}

Outgoing ReceivingTransfer::NextOutgoing(absl::Span<uint8_t> buffer) {
  Outgoing out;
  switch (control_) {
    case Control::kNone:
      return Outgoing{};
    case Control::kOpening:
      out.header_size = EncodeOpening(buffer, &out.opcode);
      break;
    case Control::kAck:
      out.opcode = Opcode::kAck;
      out.block = ack_block_;
      out.header_size = EncodeAck(buffer, out.block);
      break;
    case Control::kError:
      out.opcode = Opcode::kError;
      out.header_size =
          EncodeError(buffer, static_cast<ErrorCode>(result_.error_code),
                      result_.error_message);
      break;
  }
  out.retransmission = control_is_retransmission_;
  control_ = Control::kNone;
  if (out.header_size == 0) return Outgoing{};
  ++counters_.packets_sent;
  if (out.retransmission) ++counters_.retransmits;
  return out;
}

void ReceivingTransfer::BeginReceiving(uint16_t blksize, uint16_t windowsize,
                                       TimePoint now) {
  receiver_.Configure(blksize, windowsize);
  state_ = State::kReceiving;
  timer_.Answered(now);
  Queue(Control::kAck, false);  // ACK 0 acknowledges the OACK.
  timer_.Restart(now);
}

void ReceivingTransfer::QueueAck(bool retransmission) {
  Queue(Control::kAck, retransmission);
}

void ReceivingTransfer::QueueError(ErrorCode code, absl::string_view message) {
  result_.error_code = static_cast<uint16_t>(code);
  result_.error_message = std::string(message);
  Queue(Control::kError, false);
}

void ReceivingTransfer::Queue(Control control, bool retransmission) {
  control_ = control;
  control_is_retransmission_ = retransmission;
  if (control == Control::kAck) {
    // The block as of now: more blocks may arrive before the ACK is sent,
    // and an ACK of the last one must wait for the commit.
    ack_block_ = receiver_.last_wire_block();
    receiver_.OnAckSent();
  }
}

void ReceivingTransfer::Finish(TransferOutcome outcome) {
  state_ = State::kDone;
  result_.outcome = outcome;
  control_ = Control::kNone;
  timer_.Stop();
}

void ReceivingTransfer::FailWith(TransferOutcome outcome, ErrorCode code,
                                 absl::string_view message) {
  Finish(outcome);
  QueueError(code, message);
}

}  // namespace tftp
