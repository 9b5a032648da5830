#include "protocol/write_session.h"

#include <string>

#include "protocol/packet.h"

namespace tftp {

WriteSession::WriteSession(const SessionConfig& config,
                           const NegotiatedOptions& options, uint64_t max_size,
                           WriteSink* sink)
    : options_(options),
      timer_(config, options.timeout_seconds),
      receiver_(options.blksize, options.windowsize, max_size, sink) {}

void WriteSession::Start(TimePoint now) {
  if (state_ != State::kNotStarted) return;
  state_ = State::kReceiving;
  if (options_.has_oack()) {
    control_ = Control::kOack;
    control_is_retransmission_ = false;
  } else {
    QueueAck(false);
  }
  timer_.Restart(now);
}

void WriteSession::OnDatagram(absl::Span<const uint8_t> datagram,
                              TimePoint now) {
  if (state_ == State::kNotStarted || state_ == State::kDone) return;
  ++counters_.packets_received;
  const std::optional<Opcode> opcode = PeekOpcode(datagram);
  if (opcode == Opcode::kData) {
    DataPacket data;
    if (ProtocolStatus s = ParseData(datagram, &data); !s.ok()) {
      if (state_ == State::kReceiving) {
        FailWith(SessionOutcome::kProtocolError, s.code, s.message);
      }
      return;
    }
    OnData(data.block, data.payload, now);
    return;
  }
  if (opcode == Opcode::kError) {
    if (state_ == State::kDallying) {
      Finish(SessionOutcome::kCompleted);  // The upload is already stored.
      return;
    }
    ErrorPacket error;
    if (ParseError(datagram, &error).ok()) {
      result_.error_code = error.code;
      result_.error_message = std::string(error.message);
    }
    Finish(SessionOutcome::kPeerError);
    return;
  }
  if (state_ == State::kReceiving) {
    FailWith(SessionOutcome::kProtocolError, ErrorCode::kIllegalOperation,
             "unexpected packet in a write transfer");
  }
}

void WriteSession::OnData(uint16_t wire_block,
                          absl::Span<const uint8_t> payload, TimePoint now) {
  if (state_ == State::kDallying) {
    // Our final ACK was lost: acknowledge the repeated last block again.
    if (receiver_.IsRepeatOfLast(wire_block)) {
      ++counters_.duplicate_packets;
      QueueAck(true);
    }
    return;
  }
  const uint64_t duplicates_before = receiver_.duplicates();
  const BlockReceiver::Result r = receiver_.OnData(wire_block, payload);
  counters_.duplicate_packets += receiver_.duplicates() - duplicates_before;
  counters_.bytes_transferred = receiver_.bytes();
  switch (r.verdict) {
    case BlockReceiver::Verdict::kIgnored:
      return;
    case BlockReceiver::Verdict::kReAck:
      QueueAck(true);
      return;
    case BlockReceiver::Verdict::kFailed:
      FailWith(r.outcome, r.error.code, r.error.message);
      return;
    case BlockReceiver::Verdict::kComplete:
      QueueAck(false);
      state_ = State::kDallying;
      result_.outcome = SessionOutcome::kCompleted;
      timer_.Dally(now);
      return;
    case BlockReceiver::Verdict::kAck:
      QueueAck(false);
      break;
    case BlockReceiver::Verdict::kProgress:
      break;
  }
  timer_.Restart(now);
}

void WriteSession::OnDeadline(TimePoint now) {
  if (!timer_.Expired(now)) return;
  if (state_ == State::kDallying) {
    Finish(SessionOutcome::kCompleted);
    return;
  }
  if (!timer_.Backoff(now)) {
    Finish(SessionOutcome::kTimedOut);
    return;
  }
  receiver_.OnTimeout();
  if (receiver_.blocks() == 0 && options_.has_oack()) {
    control_ = Control::kOack;
    control_is_retransmission_ = true;
  } else {
    QueueAck(true);
  }
}

void WriteSession::Abort(ErrorCode code, absl::string_view message) {
  if (state_ == State::kDone) return;
  if (state_ == State::kDallying) {
    Finish(SessionOutcome::kCompleted);
    return;
  }
  FailWith(SessionOutcome::kAborted, code, message);
}

Outgoing WriteSession::NextOutgoing(absl::Span<uint8_t> buffer) {
  Outgoing out;
  out.opcode = Opcode::kAck;
  switch (control_) {
    case Control::kNone:
      return Outgoing{};
    case Control::kOack:
      out.opcode = Opcode::kOack;
      out.header_size = EncodeNegotiatedOack(buffer, options_);
      break;
    case Control::kAck:
      out.block = receiver_.last_wire_block();
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

void WriteSession::QueueAck(bool retransmission) {
  control_ = Control::kAck;
  control_is_retransmission_ = retransmission;
  receiver_.OnAckSent();
}

void WriteSession::Finish(SessionOutcome outcome) {
  state_ = State::kDone;
  result_.outcome = outcome;
  control_ = Control::kNone;
  timer_.Stop();
}

void WriteSession::FailWith(SessionOutcome outcome, ErrorCode code,
                            absl::string_view message) {
  Finish(outcome);
  result_.error_code = static_cast<uint16_t>(code);
  result_.error_message = std::string(message);
  control_ = Control::kError;
}

}  // namespace tftp
