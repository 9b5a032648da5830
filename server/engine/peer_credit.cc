#include "server/engine/peer_credit.h"

#include <algorithm>

namespace tftpd {

void PeerCredit::SetWindowShape(size_t packet_bytes,
                                uint16_t negotiated_window) {
  packet_bytes_ = std::max<size_t>(packet_bytes, 1);
  negotiated_window_ = std::max<uint16_t>(negotiated_window, 1);
  const size_t fits = kUnprovenWindowBytes / packet_bytes_;
  initial_window_ = static_cast<uint16_t>(
      std::clamp<size_t>(fits, 1, negotiated_window_));
  window_blocks_ = initial_window_;
}

uint32_t PeerCredit::DatagramCredit() const {
  const size_t window = size_t{window_blocks_} * packet_bytes_;
  return static_cast<uint32_t>(
      std::max<size_t>(kDatagramCredit, 2 * window));
}

void PeerCredit::OnDatagram(bool whole_window) {
  if (whole_window && !shared_port_) {
    if (window_blocks_ < negotiated_window_) {
      window_blocks_ = static_cast<uint16_t>(
          std::min<uint32_t>(2u * window_blocks_, negotiated_window_));
    } else if (standing_ != PeerStanding::kProven &&
               ++full_rounds_ >= kProofRounds) {
      standing_ = PeerStanding::kProven;
    }
  }
  if (standing_ == PeerStanding::kProven) return;
  standing_ = PeerStanding::kHeard;
  credit_ = DatagramCredit();
}

bool PeerCredit::OnRepeatedRequest() {
  if (standing_ != PeerStanding::kUnanswered ||
      sends_unanswered_ < kUnansweredSends) {
    return false;
  }
  sends_unanswered_ = kUnansweredSends - 1;
  credit_ = std::max(credit_, kRequestCredit / kUnansweredSends);
  return true;
}

PeerCredit::Verdict PeerCredit::Check(size_t bytes,
                                      bool retransmission) const {
  if (standing_ == PeerStanding::kProven) return Verdict::kSend;
  if (bytes > credit_) return Verdict::kHold;
  if (standing_ == PeerStanding::kUnanswered) {
    if (sends_unanswered_ >= kUnansweredSends) return Verdict::kHold;
    if (retransmission) return Verdict::kSendIfAddressAllows;
  }
  return Verdict::kSend;
}

void PeerCredit::Spent(size_t bytes) {
  if (standing_ == PeerStanding::kProven) return;
  if (standing_ == PeerStanding::kUnanswered) ++sends_unanswered_;
  credit_ -= static_cast<uint32_t>(std::min<size_t>(bytes, credit_));
}

}  // namespace tftpd
