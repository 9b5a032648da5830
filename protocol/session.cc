#include "protocol/session.h"

#include "protocol/packet.h"

namespace tftp {

const char* SessionOutcomeName(SessionOutcome outcome) {
  switch (outcome) {
    case SessionOutcome::kInProgress:
      return "in_progress";
    case SessionOutcome::kCompleted:
      return "completed";
    case SessionOutcome::kPeerError:
      return "peer_error";
    case SessionOutcome::kTimedOut:
      return "timed_out";
    case SessionOutcome::kProtocolError:
      return "protocol_error";
    case SessionOutcome::kAborted:
      return "aborted";
    case SessionOutcome::kSuperseded:
      return "superseded";
  }
  return "unknown";
}

size_t EncodeUnknownTransferIdError(absl::Span<uint8_t> buffer) {
  return EncodeError(buffer, ErrorCode::kUnknownTransferId,
                     "unknown transfer ID");
}

}  // namespace tftp
