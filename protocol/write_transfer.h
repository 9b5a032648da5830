// The server's side of an upload (WRQ): the OACK, or ACK 0 when there is no
// OACK, opens the transfer; then in-order DATA blocks go to a WriteSink
// through the shared receiving machinery (ReceivingTransfer): RFC 7440
// windows, block-number rollover, re-ACKs for duplicates, the upload size
// limit (ERROR 3), and dallying after the final ACK. Like every transfer it
// reads no clock and does no I/O.
#ifndef TFTPD_PROTOCOL_WRITE_TRANSFER_H_
#define TFTPD_PROTOCOL_WRITE_TRANSFER_H_

#include <cstdint>

#include "protocol/options.h"
#include "protocol/receiving_transfer.h"
#include "protocol/server_transfer.h"
#include "protocol/transfer.h"
#include "protocol/write_sink.h"

namespace tftp {

class WriteTransfer final : public ReceivingTransfer, public ServerTransfer {
 public:
  // `sink` must outlive the transfer. Uploads larger than `max_size` bytes end
  // with ERROR 3.
  WriteTransfer(const TransferConfig& config, const NegotiatedOptions& options,
                uint64_t max_size, WriteSink* sink);

  // ServerTransfer, answered by the receiving machinery.
  void Start(TimePoint now) override { ReceivingTransfer::Start(now); }
  void OnDatagram(absl::Span<const uint8_t> datagram, TimePoint now) override {
    ReceivingTransfer::OnDatagram(datagram, now);
  }
  void OnDeadline(TimePoint now) override {
    ReceivingTransfer::OnDeadline(now);
  }
  void Abort(ErrorCode code, absl::string_view message) override {
    ReceivingTransfer::Abort(code, message);
  }
  bool SentEverything() const override { return dallying(); }
  void Supersede() override { EndDally(); }
  void AnswerAgain(TimePoint now) override { RepeatOpening(now); }
  bool HasOutgoing() const override { return ReceivingTransfer::HasOutgoing(); }
  bool NextIsData() const override { return false; }
  Outgoing NextOutgoing(absl::Span<uint8_t> buffer) override {
    return ReceivingTransfer::NextOutgoing(buffer);
  }
  std::optional<TimePoint> deadline() const override {
    return ReceivingTransfer::deadline();
  }
  bool finished() const override { return ReceivingTransfer::finished(); }
  const TransferResult& result() const override {
    return ReceivingTransfer::result();
  }
  const TransferCounters& counters() const override {
    return ReceivingTransfer::counters();
  }
  const NegotiatedOptions& options() const override { return options_; }

 private:
  size_t EncodeOpening(absl::Span<uint8_t> buffer, Opcode* opcode) override;

  NegotiatedOptions options_;
};

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_WRITE_TRANSFER_H_
