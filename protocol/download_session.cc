#include "protocol/download_session.h"

#include <array>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "protocol/options.h"
#include "protocol/packet.h"

namespace tftp {

DownloadSession::DownloadSession(const SessionConfig& config,
                                 DownloadRequest request, WriteSink* sink,
                                 uint64_t max_size)
    : request_(std::move(request)),
      timer_(config, request_.timeout_seconds),
      receiver_(kDefaultBlockSize, 1, max_size, sink) {}

void DownloadSession::Start(TimePoint now) {
  if (state_ != State::kNotStarted) return;
  state_ = State::kRequesting;
  Queue(Control::kRequest, false);
  timer_.Restart(now);
}

void DownloadSession::OnDatagram(absl::Span<const uint8_t> datagram,
                                 TimePoint now) {
  if (state_ == State::kNotStarted || state_ == State::kDone) return;
  ++counters_.packets_received;
  const std::optional<Opcode> opcode = PeekOpcode(datagram);
  if (opcode == Opcode::kData) {
    DataPacket data;
    if (ProtocolStatus s = ParseData(datagram, &data); !s.ok()) {
      if (state_ != State::kDallying) {
        FailWith(SessionOutcome::kProtocolError, s.code, s.message);
      }
      return;
    }
    OnData(data.block, data.payload, now);
    return;
  }
  if (opcode == Opcode::kError) {
    if (state_ == State::kDallying) {
      Finish(SessionOutcome::kCompleted);
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
  if (opcode == Opcode::kOack && state_ == State::kRequesting) {
    OnOack(datagram, now);
    return;
  }
  if (state_ == State::kRequesting || state_ == State::kReceiving) {
    FailWith(SessionOutcome::kProtocolError, ErrorCode::kIllegalOperation,
             "unexpected packet in a download");
  }
}

void DownloadSession::OnOack(absl::Span<const uint8_t> datagram,
                             TimePoint now) {
  OptionList options;
  if (ProtocolStatus s = ParseOack(datagram, &options); !s.ok()) {
    FailWith(SessionOutcome::kProtocolError, s.code, s.message);
    return;
  }
  uint16_t blksize = kDefaultBlockSize;
  uint16_t windowsize = 1;
  for (const RawOption& option : options.view()) {
    const std::optional<uint64_t> value = ParseDecimal(option.value);
    bool valid = value.has_value();
    if (absl::EqualsIgnoreCase(option.name, "blksize")) {
      valid = valid && request_.blksize > 0 && *value >= kMinBlockSize &&
              *value <= request_.blksize;
      if (valid) blksize = static_cast<uint16_t>(*value);
    } else if (absl::EqualsIgnoreCase(option.name, "windowsize")) {
      valid = valid && request_.windowsize > 0 && *value >= 1 &&
              *value <= request_.windowsize;
      if (valid) windowsize = static_cast<uint16_t>(*value);
    } else if (absl::EqualsIgnoreCase(option.name, "timeout")) {
      valid = valid && request_.timeout_seconds > 0 &&
              *value == request_.timeout_seconds;
    } else if (absl::EqualsIgnoreCase(option.name, "tsize")) {
      valid = valid && request_.ask_tsize;
      if (valid) announced_size_ = *value;
    } else {
      valid = false;
    }
    if (!valid) {
      FailWith(SessionOutcome::kProtocolError, ErrorCode::kOptionRefused,
               "OACK carries an option or value that was not asked for");
      return;
    }
  }
  if (request_.probe_only) {
    // Like UEFI: the size is known, the transfer itself comes later.
    Finish(SessionOutcome::kCompleted);
    result_.error_code = static_cast<uint16_t>(ErrorCode::kOptionRefused);
    result_.error_message = "size probe";
    Queue(Control::kError, false);
    return;
  }
  receiver_.Configure(blksize, windowsize);
  windowsize_ = windowsize;
  state_ = State::kReceiving;
  Queue(Control::kAck, false);
  timer_.Restart(now);
}

void DownloadSession::OnData(uint16_t wire_block,
                             absl::Span<const uint8_t> payload,
                             TimePoint now) {
  if (state_ == State::kDallying) {
    if (receiver_.IsRepeatOfLast(wire_block)) {
      ++counters_.duplicate_packets;
      Queue(Control::kAck, true);
    }
    return;
  }
  if (request_.probe_only && state_ == State::kRequesting) {
    // The server ignored the options (no OACK): no size to learn.
    FailWith(SessionOutcome::kAborted, ErrorCode::kOptionRefused,
             "size probe");
    return;
  }
  // Without an OACK the transfer runs at the RFC 1350 defaults.
  state_ = State::kReceiving;
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
    case BlockReceiver::Verdict::kComplete:
      Queue(Control::kAck, false);
      state_ = State::kDallying;
      result_.outcome = SessionOutcome::kCompleted;
      timer_.Dally(now);
      return;
    case BlockReceiver::Verdict::kAck:
      Queue(Control::kAck, false);
      break;
    case BlockReceiver::Verdict::kProgress:
      break;
  }
  timer_.Restart(now);
}

void DownloadSession::OnDeadline(TimePoint now) {
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
  Queue(state_ == State::kRequesting ? Control::kRequest : Control::kAck,
        true);
}

void DownloadSession::Abort(ErrorCode code, absl::string_view message) {
  if (state_ == State::kDone) return;
  if (state_ == State::kDallying) {
    Finish(SessionOutcome::kCompleted);
    return;
  }
  FailWith(SessionOutcome::kAborted, code, message);
}

Outgoing DownloadSession::NextOutgoing(absl::Span<uint8_t> buffer) {
  Outgoing out;
  switch (control_) {
    case Control::kNone:
      return Outgoing{};
    case Control::kRequest: {
      out.opcode = Opcode::kRrq;
      std::array<char[8], 3> digits;
      std::array<RawOption, 4> options;
      size_t count = 0;
      auto add = [&](const char* name, uint16_t value) {
        char* end =
            absl::numbers_internal::FastIntToBuffer(value, digits[count]);
        options[count] = {name, absl::string_view(digits[count],
                                                  end - digits[count])};
        ++count;
      };
      if (request_.blksize > 0) add("blksize", request_.blksize);
      if (request_.windowsize > 0) add("windowsize", request_.windowsize);
      if (request_.timeout_seconds > 0) {
        add("timeout", request_.timeout_seconds);
      }
      if (request_.ask_tsize) options[count++] = {"tsize", "0"};
      out.header_size =
          EncodeRequest(buffer, Opcode::kRrq, request_.filename, request_.mode,
                        absl::MakeConstSpan(options.data(), count));
      break;
    }
    case Control::kAck:
      out.opcode = Opcode::kAck;
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

void DownloadSession::Queue(Control control, bool retransmission) {
  control_ = control;
  control_is_retransmission_ = retransmission;
  if (control == Control::kAck) receiver_.OnAckSent();
}

void DownloadSession::Finish(SessionOutcome outcome) {
  state_ = State::kDone;
  result_.outcome = outcome;
  control_ = Control::kNone;
  timer_.Stop();
}

void DownloadSession::FailWith(SessionOutcome outcome, ErrorCode code,
                               absl::string_view message) {
  Finish(outcome);
  result_.error_code = static_cast<uint16_t>(code);
  result_.error_message = std::string(message);
  control_ = Control::kError;
}

}  // namespace tftp
