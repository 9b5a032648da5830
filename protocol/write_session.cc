#include "protocol/write_session.h"

#include "protocol/packet.h"

namespace tftp {

WriteSession::WriteSession(const SessionConfig& config,
                           const NegotiatedOptions& options, uint64_t max_size,
                           WriteSink* sink)
    : ReceivingSession(config, options.timeout_seconds, options.blksize,
                       options.windowsize, max_size, sink),
      options_(options) {}

size_t WriteSession::EncodeOpening(absl::Span<uint8_t> buffer, Opcode* opcode) {
  if (options_.has_oack()) {
    *opcode = Opcode::kOack;
    return EncodeNegotiatedOack(buffer, options_);
  }
  *opcode = Opcode::kAck;
  return EncodeAck(buffer, 0);
}

}  // namespace tftp
