// The client side of a read transfer: sends the RRQ, checks the OACK against
// what was asked (a server may lower blksize and windowsize, never raise them,
// and may add no option the client did not send), then receives the file
// through the shared receiving machinery (ReceivingTransfer). Like the
// server's transfers it does no I/O and reads no clock. The driver fixes the
// server's TID from the first reply and answers datagrams from any other
// address and port with ERROR 5.
#ifndef TFTPD_PROTOCOL_DOWNLOAD_TRANSFER_H_
#define TFTPD_PROTOCOL_DOWNLOAD_TRANSFER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/types/span.h"
#include "protocol/receiving_transfer.h"
#include "protocol/tftp.h"
#include "protocol/transfer.h"
#include "protocol/write_sink.h"

namespace tftp {

struct DownloadRequest {
  std::string filename;
  TransferMode mode = TransferMode::kOctet;
  uint16_t blksize = 0;          // 0: not asked.
  uint16_t windowsize = 0;       // 0: not asked.
  uint16_t timeout_seconds = 0;  // 0: not asked.
  bool ask_tsize = false;
  // UEFI's size probe: ask for the size, then end with ERROR 8 once the OACK
  // has told it (the transfer counts as completed).
  bool probe_only = false;
};

// Room for any RRQ this transfer sends.
inline constexpr size_t kMaxRequestPacket = 1024;

class DownloadTransfer : public ReceivingTransfer {
 public:
  // `sink` must outlive the transfer.
  DownloadTransfer(const TransferConfig& config, DownloadRequest request,
                   WriteSink* sink, uint64_t max_size = UINT64_MAX);

  // The size the server announced with tsize, if it did.
  std::optional<uint64_t> announced_size() const { return announced_size_; }
  uint16_t blksize() const { return receiver().blksize(); }
  uint16_t windowsize() const { return windowsize_; }

 private:
  size_t EncodeOpening(absl::Span<uint8_t> buffer, Opcode* opcode) override;
  void OnOtherPacket(std::optional<Opcode> opcode,
                     absl::Span<const uint8_t> datagram,
                     TimePoint now) override;
  bool AcceptsDataWhileOpening() override;
  void OnOack(absl::Span<const uint8_t> datagram, TimePoint now);

  DownloadRequest request_;
  uint16_t windowsize_ = 1;
  std::optional<uint64_t> announced_size_;
};

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_DOWNLOAD_TRANSFER_H_
