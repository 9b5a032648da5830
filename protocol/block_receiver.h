// The receiving half of a transfer, shared by the server's write transfer
// (WRQ) and the client's download (RRQ): accepts DATA blocks in order (block
// numbers roll over past 65535), hands payloads to a WriteSink, enforces the
// size limit, and decides when an ACK is due: after every `windowsize`
// blocks, after the last block, and for duplicates and gaps.
#ifndef TFTPD_PROTOCOL_BLOCK_RECEIVER_H_
#define TFTPD_PROTOCOL_BLOCK_RECEIVER_H_

#include <cstdint>

#include "absl/types/span.h"
#include "protocol/packet.h"
#include "protocol/transfer.h"
#include "protocol/write_sink.h"

namespace tftp {

class BlockReceiver {
 public:
  enum class Verdict : uint8_t {
    kIgnored,     // Out of order; nothing to do.
    kReAck,       // A repeat or gap: acknowledge the last in-order block again.
    kProgress,    // Stored; no ACK due yet (inside a window).
    kAck,         // Stored; acknowledge it now.
    kComplete,    // The last block: stored and committed; acknowledge it.
    kCommitting,  // The last block: stored; the sink commits later.
    kFailed,      // End the transfer with `error`.
  };
  struct Result {
    Verdict verdict;
    TransferOutcome outcome;  // When kFailed.
    ProtocolStatus error;     // When kFailed.

    static Result Of(Verdict v) {
      return {v, TransferOutcome::kInProgress, ProtocolStatus::Ok()};
    }
    static Result Fail(TransferOutcome outcome, ProtocolStatus error) {
      return {Verdict::kFailed, outcome, error};
    }
  };

  BlockReceiver(uint16_t blksize, uint16_t windowsize, uint64_t max_size,
                WriteSink* sink)
      : blksize_(blksize),
        windowsize_(windowsize),
        max_size_(max_size),
        sink_(sink) {}

  // For a client, once the OACK has settled the transfer's parameters.
  void Configure(uint16_t blksize, uint16_t windowsize) {
    blksize_ = blksize;
    windowsize_ = windowsize;
  }

  Result OnData(uint16_t wire_block, absl::Span<const uint8_t> payload);
  // After the last block: a repeat of it means our final ACK was lost.
  bool IsRepeatOfLast(uint16_t wire_block) const {
    return wire_block == last_wire_block();
  }
  // The peer went quiet: the next duplicate or gap may be answered again.
  void OnTimeout() { reacked_since_progress_ = false; }
  // Any ACK sent restarts the peer's window.
  void OnAckSent() { blocks_since_ack_ = 0; }

  uint16_t last_wire_block() const { return static_cast<uint16_t>(blocks_); }
  uint64_t blocks() const { return blocks_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t duplicates() const { return duplicates_; }
  uint16_t blksize() const { return blksize_; }

 private:
  uint16_t blksize_;
  uint16_t windowsize_;
  uint64_t max_size_;
  WriteSink* sink_;
  // In-order blocks received, without wrapping.
  uint64_t blocks_ = 0;
  uint64_t bytes_ = 0;
  uint64_t duplicates_ = 0;
  uint16_t blocks_since_ack_ = 0;
  // With windows, one re-ACK per stall: each ACK restarts the sender's
  // window, so answering every duplicate would multiply the traffic.
  bool reacked_since_progress_ = false;
};

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_BLOCK_RECEIVER_H_
