#include "protocol/write_transfer.h"

#include "protocol/packet.h"

namespace tftp {

WriteTransfer::WriteTransfer(const TransferConfig& config,
                             const NegotiatedOptions& options,
                             uint64_t max_size, WriteSink* sink)
    : ReceivingTransfer(config, options.timeout_seconds, options.blksize,
                        options.windowsize, max_size, sink),
      options_(options) {}

size_t WriteTransfer::EncodeOpening(absl::Span<uint8_t> buffer,
                                    Opcode* opcode) {
  if (options_.has_oack()) {
    *opcode = Opcode::kOack;
    return EncodeNegotiatedOack(buffer, options_);
  }
  *opcode = Opcode::kAck;
  return EncodeAck(buffer, 0);
}

}  // namespace tftp
