#include "protocol/transfer.h"

#include "protocol/packet.h"

namespace tftp {

const char* TransferOutcomeName(TransferOutcome outcome) {
  switch (outcome) {
    case TransferOutcome::kInProgress:
      return "in_progress";
    case TransferOutcome::kCompleted:
      return "completed";
    case TransferOutcome::kPeerError:
      return "peer_error";
    case TransferOutcome::kTimedOut:
      return "timed_out";
    case TransferOutcome::kProtocolError:
      return "protocol_error";
    case TransferOutcome::kAborted:
      return "aborted";
    case TransferOutcome::kSuperseded:
      return "superseded";
  }
  return "unknown";
}

size_t EncodeUnknownTransferIdError(absl::Span<uint8_t> buffer) {
  return EncodeError(buffer, ErrorCode::kUnknownTransferId,
                     "unknown transfer ID");
}

}  // namespace tftp
