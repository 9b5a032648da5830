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
#include "protocol/server_transfer.h"
#include "protocol/session.h"
#include "protocol/write_sink.h"

namespace tftp {

class WriteSession final : public ReceivingSession, public ServerTransfer {
 public:
  // `sink` must outlive the session. Uploads larger than `max_size` bytes end
  // with ERROR 3.
  WriteSession(const SessionConfig& config, const NegotiatedOptions& options,
               uint64_t max_size, WriteSink* sink);

  // ServerTransfer, answered by the receiving machinery.
  void Start(TimePoint now) override { ReceivingSession::Start(now); }
  void OnDatagram(absl::Span<const uint8_t> datagram, TimePoint now) override {
    ReceivingSession::OnDatagram(datagram, now);
  }
  void OnDeadline(TimePoint now) override { ReceivingSession::OnDeadline(now); }
  void Abort(ErrorCode code, absl::string_view message) override {
    ReceivingSession::Abort(code, message);
  }
  bool SentEverything() const override { return dallying(); }
  void Supersede() override { EndDally(); }
  bool HasOutgoing() const override { return ReceivingSession::HasOutgoing(); }
  bool NextIsData() const override { return false; }
  Outgoing NextOutgoing(absl::Span<uint8_t> buffer) override {
    return ReceivingSession::NextOutgoing(buffer);
  }
  std::optional<TimePoint> deadline() const override {
    return ReceivingSession::deadline();
  }
  bool finished() const override { return ReceivingSession::finished(); }
  const SessionResult& result() const override {
    return ReceivingSession::result();
  }
  const SessionCounters& counters() const override {
    return ReceivingSession::counters();
  }
  const NegotiatedOptions& options() const override { return options_; }

 private:
  size_t EncodeOpening(absl::Span<uint8_t> buffer, Opcode* opcode) override;

  NegotiatedOptions options_;
};

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_WRITE_SESSION_H_
