// The state machine of one read transfer (RRQ), from the server's side.
//
// It never reads a file or a clock. Inputs: Start, a datagram from the peer,
// a passed deadline, and more response bytes becoming available (for
// responses whose bytes arrive over time). After each input the driver takes
// the packets to send with NextOutgoing (a DATA packet is described by the
// response bytes it carries; the driver fills them in) and sleeps until
// deadline(). Implements RFC 1350 lock-step, RFC 7440 windows (an ACK of block
// k continues from k + 1), block-number rollover (block 65536 goes out as 0),
// retransmission with backoff, and Sorcerer's Apprentice avoidance.
#ifndef TFTPD_PROTOCOL_READ_TRANSFER_H_
#define TFTPD_PROTOCOL_READ_TRANSFER_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "protocol/options.h"
#include "protocol/server_transfer.h"
#include "protocol/tftp.h"
#include "protocol/transfer.h"

namespace tftp {

class ReadTransfer final : public ServerTransfer {
 public:
  // `response_size` is the response's size in bytes (in the transfer mode)
  // when known up front, as for a file; otherwise the driver reports bytes as
  // they arrive with OnDataAvailable.
  ReadTransfer(const TransferConfig& config, const NegotiatedOptions& options,
               std::optional<uint64_t> response_size);

  // Queues the OACK, or the first window of DATA when there is no OACK.
  void Start(TimePoint now) override;
  // A datagram from the peer's address and port.
  void OnDatagram(absl::Span<const uint8_t> datagram, TimePoint now) override;
  // Call when `now` has reached deadline(); earlier calls do nothing.
  void OnDeadline(TimePoint now) override;
  // The first `available` bytes of the response can be filled in; `complete`
  // says there are no more (the response is `available` bytes long).
  void OnDataAvailable(uint64_t available, bool complete, TimePoint now);
  // Ends the transfer with an ERROR to the peer (e.g. the source failed).
  void Abort(ErrorCode code, absl::string_view message) override;

  // The last datagram acknowledged the whole window of DATA in flight (up
  // to its last block): a window made its round trip.
  bool AcknowledgedWindow() const {
    return state_ == State::kTransferring && window_acknowledged_;
  }

  bool SentEverything() const override;
  void Supersede() override;
  void AnswerAgain(TimePoint now) override;

  bool HasOutgoing() const override;
  // The next packet is DATA: NextOutgoing writes only its 4-byte header, so
  // a buffer of kDataHeaderSize bytes suffices (a driver batching DATA of one
  // window into one send relies on this).
  bool NextIsData() const override {
    return control_ == Control::kNone && !QueueEmpty();
  }
  // Writes the next packet's header into `buffer` (kMinOutgoingBuffer bytes,
  // or kDataHeaderSize when NextIsData()) and describes it; header_size is 0
  // when nothing is due. buffer_size() bytes hold a whole DATA packet.
  Outgoing NextOutgoing(absl::Span<uint8_t> buffer) override;
  size_t buffer_size() const {
    return std::max(kDataHeaderSize + options_.blksize, kMinOutgoingBuffer);
  }

  std::optional<TimePoint> deadline() const override {
    return timer_.deadline();
  }
  // No more input is expected: send what is pending, then drop the transfer.
  bool finished() const override { return state_ == State::kDone; }
  const TransferResult& result() const override { return result_; }
  const TransferCounters& counters() const override { return counters_; }
  const NegotiatedOptions& options() const override { return options_; }

 private:
  enum class State : uint8_t {
    kNotStarted,
    kAwaitOptionAck,  // OACK sent, waiting for ACK 0.
    kTransferring,
    kDone,
  };
  enum class Control : uint8_t { kNone, kOack, kError };

  void OnAck(uint16_t wire_block, TimePoint now);
  // Queues DATA from block `first` to the end of the window or of the bytes
  // available, whichever comes first.
  void QueueWindowFrom(uint64_t first);
  // The highest block whose bytes can all be filled in now.
  uint64_t LastReadyBlock() const;
  uint64_t FinalBlock() const;
  size_t BlockPayloadSize(uint64_t block) const;
  bool QueueEmpty() const { return queue_next_ > queue_last_; }
  void Finish(TransferOutcome outcome);
  void FailWith(TransferOutcome outcome, ErrorCode code,
                absl::string_view message);

  NegotiatedOptions options_;
  RetransmitTimer timer_;
  bool resend_on_duplicate_ack_;
  State state_ = State::kNotStarted;
  Control control_ = Control::kNone;
  bool oack_sent_ = false;
  bool size_known_;
  uint64_t available_;
  // Blocks are numbered from 1 without wrapping; the wire carries the low 16
  // bits. acked_ is the highest block the client acknowledged.
  uint64_t acked_ = 0;
  uint64_t highest_sent_ = 0;
  uint64_t queue_next_ = 1;
  uint64_t queue_last_ = 0;
  bool resent_for_duplicate_ = false;
  // The last datagram acknowledged the whole window in flight.
  bool window_acknowledged_ = false;
  TransferResult result_;
  TransferCounters counters_;
};

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_READ_TRANSFER_H_
