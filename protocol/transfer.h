// What read and write transfers share: their configuration, the retransmission
// timer with exponential backoff, the description of a packet to send, and the
// result and counters a finished transfer reports.
#ifndef TFTPD_PROTOCOL_TRANSFER_H_
#define TFTPD_PROTOCOL_TRANSFER_H_

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/types/span.h"
#include "protocol/tftp.h"

namespace tftp {

struct TransferConfig {
  // Wait before the first retransmission when the client negotiated no
  // timeout. A negotiated timeout replaces it.
  Duration timeout = std::chrono::seconds(1);
  // Backoff doubles the wait after each retransmission up to this cap (or the
  // negotiated timeout, if larger).
  Duration max_timeout = std::chrono::seconds(8);
  // Retransmissions of one packet (or window) before the transfer gives up.
  int max_retries = 5;
  // Read transfers: answer a duplicate ACK by resending the unacknowledged
  // window once, which some clients (U-Boot) need to recover quickly. Off by
  // default: resending on every duplicate ACK is the Sorcerer's Apprentice
  // bug (RFC 1123 4.2.3.1); this resends at most once per acknowledged block.
  bool resend_on_duplicate_ack = false;
};

// Buffers handed to NextOutgoing hold at least a full RFC 1350 packet, so
// that an OACK or an ERROR with its message always fits, even at tiny blksizes.
inline constexpr size_t kMinOutgoingBuffer =
    kDataHeaderSize + kDefaultBlockSize;

// A packet the transfer wants sent. The transfer wrote `header_size` bytes at
// the start of the caller's buffer; for DATA the caller appends
// `payload_size` bytes of the response starting at `payload_offset`, so the
// datagram is header_size + payload_size bytes long.
struct Outgoing {
  Opcode opcode = Opcode::kData;
  uint16_t block = 0;  // DATA and ACK: the block number on the wire.
  bool retransmission = false;
  size_t header_size = 0;
  uint64_t payload_offset = 0;
  size_t payload_size = 0;
};

enum class TransferOutcome : uint8_t {
  kInProgress,
  kCompleted,      // Every byte transferred and acknowledged.
  kPeerError,      // The client sent ERROR (a clean end: UEFI's tsize probe).
  kTimedOut,       // Retries exhausted.
  kProtocolError,  // The client sent something malformed; we sent ERROR.
  kAborted,        // The driver ended it (Abort) and we sent ERROR.
  kSuperseded,     // Every block was sent, the last ACK never came, and the
                   // client began another transfer from the same port.
};

const char* TransferOutcomeName(TransferOutcome outcome);

struct TransferResult {
  TransferOutcome outcome = TransferOutcome::kInProgress;
  // The ERROR sent (kProtocolError, kAborted) or received (kPeerError).
  uint16_t error_code = 0;
  std::string error_message;
};

struct TransferCounters {
  uint64_t packets_sent = 0;         // Every packet, retransmissions included.
  uint64_t packets_received = 0;     // Datagrams from the peer's TID.
  uint64_t retransmits = 0;          // Packets sent again.
  uint64_t payload_bytes_sent = 0;   // DATA payload, retransmissions included.
  uint64_t blocks_acknowledged = 0;  // Read: DATA blocks the client ACKed.
  uint64_t duplicate_packets = 0;    // Duplicate ACKs (read) or DATA (write).
  uint64_t bytes_transferred = 0;    // Read: bytes ACKed; write: bytes stored.
};

// The deadline of the packet in flight, with exponential backoff: each expiry
// doubles the wait up to a cap, and the transfer gives up after max_retries.
// Unless the client negotiated a timeout (which binds, RFC 2349), the first
// wait adapts to the round trips measured (RFC 1123 4.2.3.2 asks for it; the
// estimator is TCP's, RFC 6298, never below the configured timeout): when
// thousands of clients queue behind one another a round trip outgrows the
// fixed second, and retransmitting every packet that is merely late doubles
// the load that made it late.
class RetransmitTimer {
 public:
  RetransmitTimer(const TransferConfig& config, uint16_t negotiated_seconds)
      : base_(negotiated_seconds > 0
                  ? Duration(std::chrono::seconds(negotiated_seconds))
                  : config.timeout),
        cap_(std::max(base_, config.max_timeout)),
        max_retries_(config.max_retries),
        adaptive_(negotiated_seconds == 0) {}

  // Progress: the next wait starts again from the base (or the estimate).
  // `timed`: a packet leaves now whose answer is a round-trip sample (not
  // so for a DATA in the middle of a window, which is not answered alone).
  void Restart(TimePoint now, bool timed = true) {
    retries_ = 0;
    wait_ = FirstWait();
    deadline_ = now + wait_;
    if (timed) sent_at_ = now;
  }
  // The peer answered the packet sent at the last Restart: one round-trip
  // sample, unless that packet was sent again (Karn's rule: the answer may
  // be to either copy). Call before the Restart that follows.
  void Answered(TimePoint now) {
    if (!sent_at_.has_value() || retries_ > 0) return;
    const Duration sample = now - *sent_at_;
    sent_at_.reset();
    if (!measured_) {
      smoothed_ = sample;
      variation_ = sample / 2;
      measured_ = true;
      return;
    }
    const Duration error =
        smoothed_ > sample ? smoothed_ - sample : sample - smoothed_;
    variation_ = (variation_ * 3 + error) / 4;
    smoothed_ = (smoothed_ * 7 + sample) / 8;
  }
  // The packet in flight goes out again at the peer's request (not on
  // expiry): its retries start over, and its answer is no sample, since it
  // may answer either copy.
  void Resend(TimePoint now) {
    Restart(now, /*timed=*/false);
    sent_at_.reset();
  }
  // An expiry: returns false when the retries are used up.
  bool Backoff(TimePoint now) {
    if (retries_ >= max_retries_) return false;
    ++retries_;
    wait_ = std::min(wait_ * 2, cap_);
    deadline_ = now + wait_;
    return true;
  }
  // The wait before the first retransmission, as it stands.
  Duration FirstWait() const {
    if (!adaptive_ || !measured_) return base_;
    return std::clamp<Duration>(smoothed_ + variation_ * 4, base_, cap_);
  }
  // After the last packet of a transfer: wait as long as the longest
  // backoff step, so that a client retransmitting on its own (longer) timer
  // is still answered.
  void Dally(TimePoint now) { deadline_ = now + cap_; }
  void Stop() { deadline_.reset(); }
  bool Expired(TimePoint now) const {
    return deadline_.has_value() && now >= *deadline_;
  }
  std::optional<TimePoint> deadline() const { return deadline_; }

 private:
  Duration base_;
  Duration cap_;
  int max_retries_;
  bool adaptive_;
  int retries_ = 0;
  Duration wait_{};
  std::optional<TimePoint> deadline_;
  // Round-trip estimate: when the packet being timed left, the smoothed
  // round trip and its variation.
  std::optional<TimePoint> sent_at_;
  bool measured_ = false;
  Duration smoothed_{};
  Duration variation_{};
};

// The answer to a datagram that reaches a transfer's socket from any address
// and port other than its peer's (RFC 1350: ERROR 5, the transfer carries on).
size_t EncodeUnknownTransferIdError(absl::Span<uint8_t> buffer);

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_TRANSFER_H_
