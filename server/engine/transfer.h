// One transfer as a shard holds it: an explicit phase, and what each phase
// owns. A slot is never cleared field by field: when a transfer is over, the
// table builds a fresh one in its place with the next generation, so nothing
// of the old transfer can leak into the next.
#ifndef TFTPD_SERVER_ENGINE_TRANSFER_H_
#define TFTPD_SERVER_ENGINE_TRANSFER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "io/deadline_queue.h"
#include "io/event_backend.h"
#include "io/socket_address.h"
#include "protocol/read_transfer.h"
#include "protocol/server_transfer.h"
#include "protocol/tftp.h"
#include "protocol/write_transfer.h"
#include "server/api/request_handler.h"
#include "server/api/response_stream.h"
#include "server/api/upload_sink.h"
#include "server/engine/held_request.h"
#include "server/engine/peer_credit.h"
#include "server/files/file_cache.h"
#include "server/uploads/upload_committer.h"

namespace tftpd {

// kFree -> kWaitingForFile | kWaitingForStream | kSending | kReceiving;
// kWaitingForFile | kWaitingForStream -> kSending | kEnded;
// kSending | kReceiving -> kEnded; kEnded -> kFree (a fresh transfer).
enum class TransferPhase : uint8_t {
  kFree,
  // The loader maps the response's file; no socket and no protocol yet.
  kWaitingForFile,
  // The response is a stream that has not begun; no socket, no protocol.
  kWaitingForStream,
  // A read: DATA out, ACKs in.
  kSending,
  // An upload: DATA in, ACKs out, then the commit and the dally.
  kReceiving,
  // Over, and out of the peer table; its slot waits for the operations in
  // flight on its socket to complete.
  kEnded,
};

absl::string_view TransferPhaseName(TransferPhase phase);
bool IsAllowedTransition(TransferPhase from, TransferPhase to);

// A request from a transfer's client that arrived while it was open: a
// repeat of the one that opened it, or the client's next transfer (see
// Shard::OnRequest).
struct ParkedRequest {
  HeldRequest request;
  // Datagrams the transfer had received from its client when this came.
  uint64_t heard_before = 0;
};

inline constexpr uint32_t kNoTransferLink = UINT32_MAX;

// How promptly a transfer's peer answers what the transfer sends. A real
// client answers within a round trip; a forger that never reads a reply
// answers on a clock of its own, whatever was sent, and one that stops
// answering is silent ever longer. (Single-port mode's eviction weighs it:
// eviction.h.)
struct AnswerDelay {
  // The first send since the peer was last heard, while none answered it.
  std::optional<io::TimePoint> unanswered_send;
  io::Clock::duration smoothed{};
  bool measured = false;

  void Sent(io::TimePoint now) {
    if (!unanswered_send.has_value()) unanswered_send = now;
  }
  void Heard(io::TimePoint now) {
    if (!unanswered_send.has_value()) return;
    const io::Clock::duration sample = now - *unanswered_send;
    smoothed = measured ? (smoothed * 3 + sample) / 4 : sample;
    measured = true;
    unanswered_send.reset();
  }
};

// A read's protocol side: DATA out, ACKs in.
struct ReadSide {
  std::unique_ptr<tftp::ReadTransfer> protocol;
};

// An upload's: DATA in, ACKs out; the sink behind the protocol's WriteSink;
// `commit` once the commit is handed to the committer (the sink must not
// be abandoned then, unless the commit is withdrawn).
struct UploadSide {
  std::unique_ptr<tftp::WriteTransfer> protocol;
  std::shared_ptr<UploadSink> sink;
  std::unique_ptr<tftp::WriteSink> sink_adapter;
  std::shared_ptr<CommitTicket> commit;

  // The last block arrived and the commit is due or running: the client's
  // final ACK waits for it.
  bool committing() const { return protocol->committing(); }
};

struct Transfer {
  uint32_t generation = 0;
  TransferPhase phase = TransferPhase::kFree;

  // The client's address and port as the peer table knows it (unmapped).
  io::SocketAddress key;
  // Where the transfer's packets go, and the local address they leave from.
  io::SocketAddress peer;
  io::SocketAddress local;
  // The opening request, kept while the transfer waits for its response
  // (on the heap: most transfers hold none, and a table holds many).
  std::unique_ptr<HeldRequest> request;
  size_t request_fingerprint = 0;
  RequestContext context;

  // The transfer's own socket, or in single-port mode the service socket.
  int fd = -1;
  bool shares_service = false;
  // Operations whose completion is still due (its receive, sends): the
  // socket is closed and the slot freed only when none is left.
  uint32_t inflight = 0;
  bool receive_armed = false;
  // Listed in the shard's ready queue; the slot is kept until it is not.
  bool in_ready = false;
  // The client sent anything on this transfer. Until then the transfer is
  // not counted as one (transfers_started, its log line, its statistics),
  // its life is the unanswered timeout, and it is the first to be evicted.
  bool peer_answered = false;
  // Counted in its address's open transfers (once answered on its own
  // port).
  bool counted_for_address = false;
  // What it may still send before its peer proves it receives.
  PeerCredit credit;
  // Opened by the same request, from the same address and port, as a
  // transfer that ended cleanly a moment ago (recent_transfers.h): either
  // the client wants the file again or this is a late copy of that request.
  // Answered as any transfer, but counted as one only once its client
  // answers; ended unanswered, it counts as a duplicate request.
  bool on_probation = false;
  // Cleared when a GSO send failed for it (its datagrams exceed the path
  // MTU): its windows then go out datagram by datagram.
  bool gso = true;

  // The protocol side, by direction: a read's or an upload's, from kSending
  // or kReceiving on (and in kEnded after either); none while it waits.
  std::variant<std::monostate, ReadSide, UploadSide> side;

  // A read's response: a shared file mapping, bytes made for the request,
  // or a stream; `response` views whichever it is.
  SharedFile* file = nullptr;
  std::shared_ptr<const std::string> bytes;
  std::shared_ptr<ResponseStream> stream;
  uint64_t subscription = 0;
  // The stream is pulled: its reader position is reported as ACKs come,
  // a few blocks at a time (`consumed_reported`: the last reported).
  bool pulled = false;
  uint64_t consumed_reported = 0;
  // The response's own retransmission settings, kept while it waits.
  RetryPolicy retry;
  // What the handler's Response attached (Response::WithSession): moved
  // into the request's record, the only place it is kept.
  std::shared_ptr<void> session;
  absl::Span<const uint8_t> response;

  // Its place in the table's list of open transfers (TransferTable).
  uint32_t open_position = kNoTransferLink;
  // How promptly its peer answers (single-port mode's eviction; kept in
  // that mode only).
  AnswerDelay answers;

  io::TimePoint started;
  // When it last sent to a client that has not answered (or, before its
  // first packet, when it opened): the unanswered timeout runs from here, so
  // that a client whose answer to the repeat was lost is still heard when
  // it answers again on its own, longer timer.
  io::TimePoint unanswered_since;
  std::chrono::system_clock::time_point started_wall;
  // When the stream last delivered or the commit began: a stalled source
  // or commit ends the transfer after the source timeout.
  io::TimePoint last_progress;
  io::DeadlineQueue::Slot timer;
  std::unique_ptr<ParkedRequest> parked;  // Rare: on the heap.

  bool live() const {
    return phase != TransferPhase::kFree && phase != TransferPhase::kEnded;
  }
  // The shared places' to evict for a new request (TransferBudget): until
  // its client answers on its own port; in single-port mode always.
  bool evictable() const { return shares_service || !peer_answered; }
  bool waiting() const {
    return phase == TransferPhase::kWaitingForFile ||
           phase == TransferPhase::kWaitingForStream;
  }
  // The protocol side whichever the direction; null while it waits.
  tftp::ServerTransfer* protocol() const {
    if (const auto* read = std::get_if<ReadSide>(&side)) {
      return read->protocol.get();
    }
    if (const auto* upload = std::get_if<UploadSide>(&side)) {
      return upload->protocol.get();
    }
    return nullptr;
  }
  // The upload's side, or null for a read (or before either began).
  UploadSide* upload() { return std::get_if<UploadSide>(&side); }
  const UploadSide* upload() const { return std::get_if<UploadSide>(&side); }
  // The read's side, or null.
  ReadSide* read() { return std::get_if<ReadSide>(&side); }
};

// What the program attached to `t`'s request, for its record: the stream's
// (StreamWriter::SetSession), else the Response's. Taken: nothing of the
// transfer keeps it after.
inline std::shared_ptr<void> TakeSession(Transfer& t) {
  std::shared_ptr<void> session =
      t.stream != nullptr ? t.stream->TakeSession() : nullptr;
  if (session == nullptr) session = std::move(t.session);
  t.session = nullptr;  // The stream's won: the Response's goes.
  return session;
}

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_TRANSFER_H_
