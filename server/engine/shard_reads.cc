// A read from its resolved response to its first packets: options
// negotiated, the transfer's socket, its slot in kSending, its protocol
// side started (or, when it cannot start, the request given up).
#include <algorithm>

#include "protocol/options.h"
#include "server/api/log.h"
#include "server/engine/shard.h"

namespace tftpd {

namespace {

// The settings a read runs with: the server's, and what its response asked
// for itself.
tftp::TransferConfig ReadConfig(tftp::TransferConfig config,
                                const RetryPolicy& retry) {
  if (retry.retries.has_value()) {
    config.max_retries = std::max(0, *retry.retries);
  }
  if (retry.timeout.has_value()) {
    config.timeout = std::max(*retry.timeout, std::chrono::milliseconds(1));
  }
  if (retry.backoff == false) {
    // The cap is the first wait (RetransmitTimer): every wait is that.
    config.max_timeout = tftp::Duration::zero();
  }
  return config;
}

}  // namespace

void Shard::GiveUpLaunch(const io::Datagram& datagram,
                         const tftp::Request& request,
                         const RequestContext& context,
                         ResolvedResponse& response,
                         std::optional<uint32_t> index,
                         std::optional<Refusal> refusal) {
  std::shared_ptr<void> session =
      response.stream != nullptr ? response.stream->TakeSession() : nullptr;
  if (session == nullptr) session = std::move(response.session);
  // What a request that waited was given when it began waiting.
  if (session == nullptr && index.has_value()) {
    session = TakeSession(transfers_[*index]);
  }
  if (response.file != nullptr) files_.Release(response.file);
  // A source nobody will read is closed on the source threads.
  if (response.stream != nullptr) response.stream->Abandon(source_executor_);
  io::TimePoint since = now_;
  if (index.has_value()) {
    since = transfers_[*index].started;
    if (transfers_[*index].request != nullptr) {
      transfers_[*index].context = context;
      EndWaiting(*index, std::move(refusal), std::move(session));
      return;
    }
    // Resume took the request: refuse from what Launch was given.
    CloseTransfer(*index);
    MaybeRecycle(*index);
  }
  EndUnstarted(datagram.source, datagram.destination, request.filename,
               std::move(refusal), context, since, std::move(session));
}

void Shard::Launch(const io::Datagram& datagram, const tftp::Request& request,
                   RequestContext context, ResolvedResponse response,
                   std::optional<uint32_t> index) {
  tftp::NegotiatedOptions negotiated;
  tftp::OptionLimits limits = config_.limits;
  // What a peer that reached the transfer's port blindly may draw: two
  // windows a datagram (peer_credit.h).
  limits.max_window_bytes = kMaxWindowBytes;
  if (tftp::ProtocolStatus s = tftp::NegotiateOptions(
          request, limits, response.announced_size, &negotiated);
      !s.ok()) {
    GiveUpLaunch(datagram, request, context, response, index,
                 Refusal{s.code, s.message, RefusalReason::k_options});
    return;
  }
  if (config_.single_port) LimitUnprovenWindow(negotiated);
  io::SocketAddress peer;
  absl::StatusOr<io::OpenedSocket> socket = OpenTransferSocket(datagram, &peer);
  if (!socket.ok()) {
    TFTPD_LOG(kWarning, "shard %d: %s", id_, socket.status().message());
    std::optional<Refusal> refusal =
        Refusal{tftp::ErrorCode::kNotDefined, "out of sockets",
                RefusalReason::k_resources};
    if (EvictOne(index)) {
      // Out of descriptors: an unanswered transfer gives its socket up. It
      // closes once its operations complete, so this request goes
      // unanswered (not refused: an ERROR would end the client's boot),
      // and the client's repeat of it finds the descriptor free.
      Bump(counters_.requests_deferred);
      refusal.reset();
    }
    GiveUpLaunch(datagram, request, context, response, index,
                 std::move(refusal));
    return;
  }
  const tftp::TransferConfig config =
      ReadConfig(config_.transfer, response.retry);
  const uint32_t i = PlaceRead(datagram, request, std::move(context),
                               std::move(response), index);
  Transfer& t = transfers_[i];
  t.fd = socket->fd;
  t.local = socket->bound;
  t.peer = peer;
  StartReading(i, request, negotiated, config);
}

uint32_t Shard::PlaceRead(const io::Datagram& datagram,
                          const tftp::Request& request, RequestContext context,
                          ResolvedResponse response,
                          std::optional<uint32_t> index) {
  uint32_t i;
  if (index.has_value()) {
    i = *index;
    transfers_.MoveTo(i, TransferPhase::kSending);
  } else {
    i = OpenTransfer(datagram.source.Unmapped(), TransferPhase::kSending,
                     request);
    transfers_[i].started = now_;
    transfers_[i].started_wall = env_.wall_now();
    transfers_[i].stream = response.stream;
  }
  Transfer& t = transfers_[i];
  t.shares_service = config_.single_port;
  t.file = response.file;
  t.bytes = std::move(response.bytes);
  t.response = response.response;
  t.context = std::move(context);
  t.last_progress = now_;
  t.unanswered_since = now_;
  t.pulled = response.stream != nullptr && response.stream->state().pulled;
  // A transfer that waited keeps what it was given when it began waiting.
  if (response.session != nullptr) t.session = std::move(response.session);
  return i;
}

void Shard::StartReading(uint32_t i, const tftp::Request& request,
                         const tftp::NegotiatedOptions& negotiated,
                         const tftp::TransferConfig& config) {
  Transfer& t = transfers_[i];
  t.side = ReadSide{std::make_unique<tftp::ReadTransfer>(
      config, negotiated,
      t.stream == nullptr ? std::optional<uint64_t>(t.response.size())
                          : std::nullopt)};
  t.credit = PeerCredit(t.shares_service);
  t.credit.SetWindowBytes(size_t{negotiated.windowsize} *
                          (tftp::kDataHeaderSize + negotiated.blksize));
  TFTPD_LOG(kDebug, "RRQ peer=%s file=%s mode=%s options=%d", t.peer.ToString(),
            LogValue(t.context.requested_path),
            std::string(tftp::TransferModeName(request.mode)),
            static_cast<int>(request.options.count));
  if (!t.shares_service) ArmTransferReceive(i);
  t.protocol()->Start(now_);
  if (t.stream == nullptr) {
    AfterInput(i);
    return;
  }
  if (t.subscription == 0) SubscribeToStream(i);
  if (t.pulled &&
      !t.stream->AttachReader(t.subscription, negotiated.blksize,
                              PulledReadAhead(negotiated),
                              request.mode == tftp::TransferMode::kNetascii)) {
    t.protocol()->Abort(tftp::ErrorCode::kNotDefined,
                        "response source already read by another transfer");
  }
  OnStreamProgress(i);  // What arrived already.
}

uint64_t Shard::PulledReadAhead(const tftp::NegotiatedOptions& negotiated) {
  const uint64_t window = uint64_t{negotiated.blksize} *
                          std::max<uint16_t>(negotiated.windowsize, 1);
  return std::clamp<uint64_t>(4 * window, 64 << 10, 4 << 20);
}

void Shard::LimitUnprovenWindow(tftp::NegotiatedOptions& negotiated) const {
  // Every datagram on the service port earns at most kDatagramCredit of
  // answers: a window must fit in half of it to be sent and resent once.
  constexpr uint32_t kLargestBlock =
      kUnprovenWindowBytes - tftp::kDataHeaderSize;
  negotiated.blksize = std::min<uint16_t>(negotiated.blksize, kLargestBlock);
  const uint32_t fits =
      kUnprovenWindowBytes / (tftp::kDataHeaderSize + negotiated.blksize);
  negotiated.windowsize = static_cast<uint16_t>(
      std::clamp<uint32_t>(fits, 1, negotiated.windowsize));
}

absl::StatusOr<io::OpenedSocket> Shard::OpenTransferSocket(
    const io::Datagram& datagram, io::SocketAddress* peer) {
  // Answer from the address the client sent to (several may be configured
  // on the host), from a new port: the transfer's own TID.
  io::SocketAddress local = datagram.destination;
  *peer = datagram.source.Unmapped();
  if (local.family() == AF_UNSPEC) {
    local = service_.bound;
    *peer = datagram.source;
  } else if (local.family() != peer->family()) {
    *peer = datagram.source;
  }
  if (config_.single_port) {
    // No socket of its own: the transfer answers from the service port.
    return io::OpenedSocket{service_.fd, local, 0};
  }
  return env_.open_transfer_socket(local);
}

}  // namespace tftpd
