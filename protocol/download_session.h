// The client side of a read transfer: sends the RRQ, checks the OACK against
// what was asked (a server may lower blksize and windowsize, never raise them,
// and may add no option the client did not send), then receives the file
// through a BlockReceiver. Like the server's sessions it does no I/O and reads
// no clock. The driver fixes the server's TID from the first reply and
// answers datagrams from any other address and port with ERROR 5.
#ifndef TFTPD_PROTOCOL_DOWNLOAD_SESSION_H_
#define TFTPD_PROTOCOL_DOWNLOAD_SESSION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "protocol/block_receiver.h"
#include "protocol/session.h"
#include "protocol/tftp.h"
#include "protocol/write_sink.h"

namespace tftp {

struct DownloadRequest {
  std::string filename;
  TransferMode mode = TransferMode::kOctet;
  uint16_t blksize = 0;     // 0: not asked.
  uint16_t windowsize = 0;  // 0: not asked.
  uint16_t timeout_seconds = 0;  // 0: not asked.
  bool ask_tsize = false;
  // UEFI's size probe: ask for the size, then end with ERROR 8 once the OACK
  // has told it (the transfer counts as completed).
  bool probe_only = false;
};

// Room for any RRQ this session sends.
inline constexpr size_t kMaxRequestPacket = 1024;

class DownloadSession {
 public:
  // `sink` must outlive the session.
  DownloadSession(const SessionConfig& config, DownloadRequest request,
                  WriteSink* sink, uint64_t max_size = UINT64_MAX);

  void Start(TimePoint now);
  // A datagram from the server (its TID, once the first reply fixed it).
  void OnDatagram(absl::Span<const uint8_t> datagram, TimePoint now);
  void OnDeadline(TimePoint now);
  void Abort(ErrorCode code, absl::string_view message);

  bool HasOutgoing() const { return control_ != Control::kNone; }
  // Writes the next packet into `buffer` (kMaxRequestPacket bytes suffice).
  Outgoing NextOutgoing(absl::Span<uint8_t> buffer);
  // Before the first reply, packets go to the server's service port.
  bool awaiting_first_reply() const { return state_ == State::kRequesting; }

  std::optional<TimePoint> deadline() const { return timer_.deadline(); }
  bool transfer_complete() const {
    return result_.outcome == SessionOutcome::kCompleted;
  }
  bool finished() const { return state_ == State::kDone; }
  const SessionResult& result() const { return result_; }
  const SessionCounters& counters() const { return counters_; }
  // The size the server announced with tsize, if it did.
  std::optional<uint64_t> announced_size() const { return announced_size_; }
  uint16_t blksize() const { return receiver_.blksize(); }
  uint16_t windowsize() const { return windowsize_; }

 private:
  enum class State : uint8_t {
    kNotStarted,
    kRequesting,
    kReceiving,
    kDallying,
    kDone,
  };
  enum class Control : uint8_t { kNone, kRequest, kAck, kError };

  void OnOack(absl::Span<const uint8_t> datagram, TimePoint now);
  void OnData(uint16_t wire_block, absl::Span<const uint8_t> payload,
              TimePoint now);
  void Queue(Control control, bool retransmission);
  void Finish(SessionOutcome outcome);
  void FailWith(SessionOutcome outcome, ErrorCode code,
                absl::string_view message);

  DownloadRequest request_;
  RetransmitTimer timer_;
  BlockReceiver receiver_;
  uint16_t windowsize_ = 1;
  State state_ = State::kNotStarted;
  Control control_ = Control::kNone;
  bool control_is_retransmission_ = false;
  std::optional<uint64_t> announced_size_;
  SessionResult result_;
  SessionCounters counters_;
};

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_DOWNLOAD_SESSION_H_
