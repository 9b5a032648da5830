// What a transfer may send to its peer before the peer has proven that it
// receives: the one home of the rules that bound what a forged request, or
// a forger who never reads a reply, can make the server send.
//
// A request's source address can be forged, and so can any datagram a
// forger can aim without reading a reply: one to the service port (its
// port is no secret), and, after spraying every ephemeral port, one to a
// transfer's own port. A peer stands in one of three places:
//
// - unanswered: nothing heard on the transfer yet. It earns its first
//   answer and one repeat (kRequestCredit bytes); the repeat also comes out
//   of its address's budget (AddressGuard::AllowUnverified). A repeat of
//   its request earns one more send.
// - heard: it sent something on the transfer, which a forger can do blindly
//   (on the service port; on a transfer's own port after a spray). Each of
//   its datagrams earns kDatagramCredit, or two windows (sent, and sent
//   again once) where a window is larger; a window is at most
//   kMaxWindowBytes (kUnprovenWindowBytes in single-port mode), which the
//   OACK grants (Shard::Launch), so that a spray that reaches a transfer
//   draws less than the spray cost its forger.
// - proven (default mode only): whole windows were acknowledged
//   kProofRounds times, each one a datagram a blind forger would have had to
//   spray every port for. Sends are no longer counted, and the address is
//   trusted for a while (AddressGuard::Verified). In single-port mode
//   nothing proves a peer.
//
// The window itself is never made smaller than granted: RFC 7440 clients
// acknowledge only a whole window (or on their timeout), so a shorter one
// would stall every such client for its timeout.
#ifndef TFTPD_SERVER_ENGINE_PEER_CREDIT_H_
#define TFTPD_SERVER_ENGINE_PEER_CREDIT_H_

#include <cstddef>
#include <cstdint>

#include "protocol/tftp.h"

namespace tftpd {

inline constexpr uint32_t kUnansweredSends = 2;  // A first answer, a repeat.
inline constexpr uint32_t kRequestCredit = static_cast<uint32_t>(
    kUnansweredSends * (tftp::kDataHeaderSize + tftp::kDefaultBlockSize));
// What one datagram from a peer that has not proven itself earns at least.
inline constexpr uint32_t kDatagramCredit = 32 * 1024;
// A window in single-port mode, at most (but one block): half of what one
// datagram earns, so that it can be sent and sent again once.
inline constexpr uint32_t kUnprovenWindowBytes = kDatagramCredit / 2;
// A window in the default mode, at most (but one block): two of them are
// 512 KiB, less than the 28,232 datagrams (903 KB on the wire) of a spray
// over every ephemeral port that a blind forger needs to reach a transfer.
inline constexpr uint32_t kMaxWindowBytes = 256 * 1024;
// Whole windows acknowledged that prove a peer.
inline constexpr uint32_t kProofRounds = 2;

enum class PeerStanding : uint8_t { kUnanswered, kHeard, kProven };

class PeerCredit {
 public:
  // `shared_port`: the transfer answers from the service port (single-port
  // mode), where no peer is ever proven.
  explicit PeerCredit(bool shared_port = false) : shared_port_(shared_port) {}

  // A read's window, once negotiated, in bytes (headers included).
  void SetWindowBytes(size_t bytes) { window_bytes_ = bytes; }

  // A datagram from the peer on the transfer. `whole_window`: it
  // acknowledged a read's whole window in flight.
  void OnDatagram(bool whole_window);
  // The request that opened the transfer came again while its peer has
  // heard nothing: one more send, if the first two were spent; false when
  // the request earns nothing (the peer answered, or sends are left).
  bool OnRepeatedRequest();

  enum class Verdict : uint8_t {
    kSend,
    // Only if the peer's address has budget for it (a repeat to a peer that
    // never answered).
    kSendIfAddressAllows,
    kHold,
  };
  // Whether `bytes` more may go now; `retransmission`: they went before.
  Verdict Check(size_t bytes, bool retransmission) const;
  // `bytes` went (after a Check that allowed them).
  void Spent(size_t bytes);

  PeerStanding standing() const { return standing_; }
  bool proven() const { return standing_ == PeerStanding::kProven; }
  uint32_t credit() const { return credit_; }

 private:
  bool shared_port_;
  PeerStanding standing_ = PeerStanding::kUnanswered;
  uint32_t credit_ = kRequestCredit;
  uint32_t sends_unanswered_ = 0;
  size_t window_bytes_ = 0;
  uint32_t full_rounds_ = 0;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_PEER_CREDIT_H_
