#include "protocol/block_receiver.h"

namespace tftp {

BlockReceiver::Result BlockReceiver::OnData(uint16_t wire_block,
                                            absl::Span<const uint8_t> payload) {
  const uint16_t expected = static_cast<uint16_t>(blocks_ + 1);
  const uint16_t delta = static_cast<uint16_t>(wire_block - expected);
  if (delta != 0) {
    const bool duplicate = delta >= 0x8000;  // Behind what we expect.
    if (duplicate) ++duplicates_;
    // Lock-step: a repeated block means our ACK was lost; always answer it.
    // Windows: answer the first duplicate or gap since progress, once.
    if (windowsize_ == 1) {
      return Result::Of(duplicate ? Verdict::kReAck : Verdict::kIgnored);
    }
    if (reacked_since_progress_) return Result::Of(Verdict::kIgnored);
    reacked_since_progress_ = true;
    return Result::Of(Verdict::kReAck);
  }
  if (payload.size() > blksize_) {
    return Result::Fail(TransferOutcome::kProtocolError,
                        {ErrorCode::kIllegalOperation,
                         "DATA block larger than the negotiated blksize"});
  }
  if (payload.size() > max_size_ - bytes_) {
    return Result::Fail(
        TransferOutcome::kAborted,
        {ErrorCode::kDiskFull, "file exceeds the upload size limit"});
  }
  if (ProtocolStatus s = sink_->Write(bytes_, payload); !s.ok()) {
    return Result::Fail(TransferOutcome::kAborted, s);
  }
  ++blocks_;
  bytes_ += payload.size();
  reacked_since_progress_ = false;
  if (payload.size() < blksize_) {
    if (ProtocolStatus s = sink_->Finish(bytes_); !s.ok()) {
      return Result::Fail(TransferOutcome::kAborted, s);
    }
    return Result::Of(sink_->CommitsLater() ? Verdict::kCommitting
                                            : Verdict::kComplete);
  }
  if (++blocks_since_ack_ >= windowsize_) return Result::Of(Verdict::kAck);
  return Result::Of(Verdict::kProgress);
}

}  // namespace tftp
