#include "server/engine/peer_credit.h"

#include <algorithm>

namespace tftpd {

void PeerCredit::OnDatagram(bool whole_window) {
  if (standing_ == PeerStanding::kProven) return;
  if (whole_window && !shared_port_ && ++full_rounds_ >= kProofRounds) {
    standing_ = PeerStanding::kProven;
    return;
  }
  standing_ = PeerStanding::kHeard;
  credit_ = static_cast<uint32_t>(
      std::max<size_t>(kDatagramCredit, 2 * window_bytes_));
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

PeerCredit::Verdict PeerCredit::Check(size_t bytes, bool retransmission) const {
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
