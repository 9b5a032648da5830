// Where the bytes of an upload go. The write transfer hands every in-order
// DATA payload to a sink and asks it to commit when the last block arrives;
// a refusal from the sink ends the transfer with the ERROR it names.
#ifndef TFTPD_PROTOCOL_WRITE_SINK_H_
#define TFTPD_PROTOCOL_WRITE_SINK_H_

#include <cstdint>

#include "absl/types/span.h"
#include "protocol/packet.h"

namespace tftp {

class WriteSink {
 public:
  virtual ~WriteSink() = default;
  // The upload's bytes from `offset`, in order and without gaps.
  virtual ProtocolStatus Write(uint64_t offset,
                               absl::Span<const uint8_t> bytes) = 0;
  // The transfer completed with `total_bytes` bytes: make them visible.
  virtual ProtocolStatus Finish(uint64_t total_bytes) = 0;
  // True for a sink whose Finish only starts the commit (on another thread,
  // in a database): the transfer then withholds the final ACK, sending
  // nothing, until the driver reports the outcome (OnCommitted or
  // OnCommitFailed), so that a client is never told an upload is stored
  // before it is.
  virtual bool CommitsLater() const { return false; }
};

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_WRITE_SINK_H_
