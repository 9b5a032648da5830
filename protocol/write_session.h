// The server's side of an upload (WRQ): the OACK, or ACK 0 when there is no
// OACK, opens the transfer; then in-order DATA blocks go to a WriteSink
// through the shared receiving machinery (ReceivingSession): RFC 7440
// windows, block-number rollover, re-ACKs for duplicates, the upload size
// limit (ERROR 3), and dallying after the final ACK. Like every session it
// reads no clock and does no I/O.
#ifndef TFTPD_PROTOCOL_WRITE_SESSION_H_
#define TFTPD_PROTOCOL_WRITE_SESSION_H_

#include <cstdint>

#include "protocol/options.h"
#include "protocol/receiving_session.h"
#include "protocol/session.h"
#include "protocol/write_sink.h"

namespace tftp {

class WriteSession : public ReceivingSession {
 public:
  // `sink` must outlive the session. Uploads larger than `max_size` bytes end
  // with ERROR 3.
  WriteSession(const SessionConfig& config, const NegotiatedOptions& options,
               uint64_t max_size, WriteSink* sink);

  const NegotiatedOptions& options() const { return options_; }

 private:
  size_t EncodeOpening(absl::Span<uint8_t> buffer, Opcode* opcode) override;

  NegotiatedOptions options_;
};

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_WRITE_SESSION_H_
