// The server's side of one transfer, a read (ReadTransfer) or a write
// (WriteTransfer), as the server's event loop drives it: datagrams and
// deadlines in, packets out, a result at the end.
#ifndef TFTPD_PROTOCOL_SERVER_TRANSFER_H_
#define TFTPD_PROTOCOL_SERVER_TRANSFER_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "protocol/options.h"
#include "protocol/tftp.h"
#include "protocol/transfer.h"

namespace tftp {

class ServerTransfer {
 public:
  virtual ~ServerTransfer() = default;

  // Queues the opening packet (OACK, first DATA, or ACK 0).
  virtual void Start(TimePoint now) = 0;
  // A datagram from the peer's address and port.
  virtual void OnDatagram(absl::Span<const uint8_t> datagram,
                          TimePoint now) = 0;
  // Call when `now` has reached deadline(); earlier calls do nothing.
  virtual void OnDeadline(TimePoint now) = 0;
  // Ends the transfer with an ERROR to the peer.
  virtual void Abort(ErrorCode code, absl::string_view message) = 0;
  // Nothing is left to send but retransmissions: a read has sent every
  // block at least once, an upload has acknowledged its last (and dallies).
  virtual bool SentEverything() const = 0;
  // After SentEverything, the peer began another transfer from the same
  // address and port, so it will not answer this one again: ends it without
  // a packet. A read whose last ACK never came ends kSuperseded; an upload
  // stays completed.
  virtual void Supersede() = 0;
  // The peer sent the request that opened the transfer again before
  // answering anything: queues the opening packet again (a retransmission),
  // for when every copy of it was lost. Nothing once the peer has answered.
  // Its retries start over.
  virtual void AnswerAgain(TimePoint now) = 0;

  virtual bool HasOutgoing() const = 0;
  // The next packet is DATA (reads only): see ReadTransfer::NextIsData.
  virtual bool NextIsData() const = 0;
  virtual Outgoing NextOutgoing(absl::Span<uint8_t> buffer) = 0;

  virtual std::optional<TimePoint> deadline() const = 0;
  virtual bool finished() const = 0;
  virtual const TransferResult& result() const = 0;
  virtual const TransferCounters& counters() const = 0;
  virtual const NegotiatedOptions& options() const = 0;
};

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_SERVER_TRANSFER_H_
