// What the two receiving sides of TFTP share, the server taking an upload
// (WriteTransfer) and the client fetching a file (DownloadTransfer): an opening
// packet repeated until the peer answers, then DATA in and ACKs out through a
// BlockReceiver, the last ACK repeated on timeout, and dallying after the
// final ACK so that a repeated last block is acknowledged again (RFC 1350).
// Subclasses say what the opening packet is and handle packets other than
// DATA and ERROR (the client's OACK).
#ifndef TFTPD_PROTOCOL_RECEIVING_TRANSFER_H_
#define TFTPD_PROTOCOL_RECEIVING_TRANSFER_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "protocol/block_receiver.h"
#include "protocol/tftp.h"
#include "protocol/transfer.h"
#include "protocol/write_sink.h"

namespace tftp {

class ReceivingTransfer {
 public:
  virtual ~ReceivingTransfer() = default;

  // Queues the opening packet.
  void Start(TimePoint now);
  // A datagram from the peer's address and port.
  void OnDatagram(absl::Span<const uint8_t> datagram, TimePoint now);
  // Call when `now` has reached deadline(); earlier calls do nothing.
  void OnDeadline(TimePoint now);
  // Ends the transfer with an ERROR to the peer (once complete: just ends).
  void Abort(ErrorCode code, absl::string_view message);
  // For a sink that commits later (WriteSink::CommitsLater): every byte
  // arrived and the sink is committing; the transfer sends nothing and has
  // no deadline until it hears how that went (the driver bounds the wait).
  bool committing() const { return state_ == State::kCommitting; }
  // The commit succeeded: the final ACK goes out and the transfer dallies.
  void OnCommitted(TimePoint now);
  // The commit failed: the transfer ends with this ERROR.
  void OnCommitFailed(ErrorCode code, absl::string_view message);

  bool HasOutgoing() const { return control_ != Control::kNone; }
  // Writes the next packet into `buffer` (kMinOutgoingBuffer bytes, more for
  // a long opening request); header_size is 0 when nothing is due.
  Outgoing NextOutgoing(absl::Span<uint8_t> buffer);

  std::optional<TimePoint> deadline() const { return timer_.deadline(); }
  // Every byte arrived and the sink committed them (the transfer may still
  // be dallying to re-acknowledge a repeated last block).
  bool transfer_complete() const {
    return result_.outcome == TransferOutcome::kCompleted;
  }
  bool finished() const { return state_ == State::kDone; }
  // Complete, and only re-acknowledging a repeated last block.
  bool dallying() const { return state_ == State::kDallying; }
  // Stops dallying (the peer has moved on); the outcome stays completed.
  void EndDally() {
    if (dallying()) Finish(TransferOutcome::kCompleted);
  }
  const TransferResult& result() const { return result_; }
  const TransferCounters& counters() const { return counters_; }

 protected:
  enum class State : uint8_t {
    kNotStarted,
    kOpening,  // The opening packet is out; the peer has not answered.
    kReceiving,
    kCommitting,  // Every block stored; waiting for the sink's commit.
    kDallying,    // Complete; re-acknowledging a repeated last block.
    kDone,
  };

  ReceivingTransfer(const TransferConfig& config, uint16_t timeout_seconds,
                    uint16_t blksize, uint16_t windowsize, uint64_t max_size,
                    WriteSink* sink);

  // The packet that opens the transfer, repeated until the peer answers.
  virtual size_t EncodeOpening(absl::Span<uint8_t> buffer, Opcode* opcode) = 0;
  // A packet other than DATA or ERROR. The default ends the transfer with
  // ERROR 4 (outside dallying).
  virtual void OnOtherPacket(std::optional<Opcode> opcode,
                             absl::Span<const uint8_t> datagram, TimePoint now);
  // Whether a DATA may open the transfer without an answer to the opening
  // packet (a server that ignored every option sends DATA 1 directly).
  virtual bool AcceptsDataWhileOpening() { return true; }

  // The peer answered the opening packet with an OACK that settled these.
  void BeginReceiving(uint16_t blksize, uint16_t windowsize, TimePoint now);
  void QueueAck(bool retransmission);
  // The opening packet again, while the peer has not answered it.
  void RepeatOpening(TimePoint now) {
    if (state_ != State::kOpening) return;
    Queue(Control::kOpening, true);
    timer_.Resend(now);
  }
  void QueueError(ErrorCode code, absl::string_view message);
  void Finish(TransferOutcome outcome);
  void FailWith(TransferOutcome outcome, ErrorCode code,
                absl::string_view message);

  State state() const { return state_; }
  const BlockReceiver& receiver() const { return receiver_; }

 private:
  enum class Control : uint8_t { kNone, kOpening, kAck, kError };

  void OnData(uint16_t wire_block, absl::Span<const uint8_t> payload,
              TimePoint now);
  void Queue(Control control, bool retransmission);

  RetransmitTimer timer_;
  BlockReceiver receiver_;
  State state_ = State::kNotStarted;
  Control control_ = Control::kNone;
  bool control_is_retransmission_ = false;
  uint16_t ack_block_ = 0;  // What the queued ACK acknowledges.
  TransferResult result_;
  TransferCounters counters_;
};

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_RECEIVING_TRANSFER_H_
