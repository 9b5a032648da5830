// The state machine of one write transfer (WRQ), from the server's side.
//
// Like ReadSession it reads no clock and does no I/O: datagrams and deadlines
// come in, ACK/OACK/ERROR packets go out, and the payload of each in-order
// DATA block goes to a WriteSink. Implements ACK 0 or OACK first, in-order
// blocks with block-number rollover, RFC 7440 windows (an ACK after every
// `windowsize` blocks), re-ACKs for duplicates, the upload size limit
// (ERROR 3), and dallying after the final ACK so that a retransmitted last
// block is acknowledged again (RFC 1350).
#ifndef TFTPD_PROTOCOL_WRITE_SESSION_H_
#define TFTPD_PROTOCOL_WRITE_SESSION_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "protocol/block_receiver.h"
#include "protocol/options.h"
#include "protocol/session.h"
#include "protocol/tftp.h"
#include "protocol/write_sink.h"

namespace tftp {

class WriteSession {
 public:
  // `sink` must outlive the session. Uploads larger than `max_size` bytes end
  // with ERROR 3.
  WriteSession(const SessionConfig& config, const NegotiatedOptions& options,
               uint64_t max_size, WriteSink* sink);

  // Queues the OACK, or ACK 0 when there is no OACK.
  void Start(TimePoint now);
  void OnDatagram(absl::Span<const uint8_t> datagram, TimePoint now);
  void OnDeadline(TimePoint now);
  void Abort(ErrorCode code, absl::string_view message);

  bool HasOutgoing() const { return control_ != Control::kNone; }
  // Writes the next packet into `buffer` (at least kMinOutgoingBuffer bytes;
  // ERROR messages are cut to fit); header_size is 0 when nothing is due.
  Outgoing NextOutgoing(absl::Span<uint8_t> buffer);

  std::optional<TimePoint> deadline() const { return timer_.deadline(); }
  // Every byte arrived and the sink committed them (the session may still be
  // dallying to re-acknowledge a repeated last block).
  bool transfer_complete() const {
    return result_.outcome == SessionOutcome::kCompleted;
  }
  bool finished() const { return state_ == State::kDone; }
  const SessionResult& result() const { return result_; }
  const SessionCounters& counters() const { return counters_; }
  const NegotiatedOptions& options() const { return options_; }

 private:
  enum class State : uint8_t { kNotStarted, kReceiving, kDallying, kDone };
  enum class Control : uint8_t { kNone, kOack, kAck, kError };

  void OnData(uint16_t wire_block, absl::Span<const uint8_t> payload,
              TimePoint now);
  void QueueAck(bool retransmission);
  void Finish(SessionOutcome outcome);
  void FailWith(SessionOutcome outcome, ErrorCode code,
                absl::string_view message);

  NegotiatedOptions options_;
  RetransmitTimer timer_;
  BlockReceiver receiver_;
  State state_ = State::kNotStarted;
  Control control_ = Control::kNone;
  bool control_is_retransmission_ = false;
  SessionResult result_;
  SessionCounters counters_;
};

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_WRITE_SESSION_H_
