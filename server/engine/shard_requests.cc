// A request's way to a transfer: repeats told from new requests, the
// limits, the handler, the response resolved, and the waits for a file or a
// stream before the first packet.
#include <algorithm>
#include <cstring>

#include "protocol/options.h"
#include "server/api/log.h"
#include "server/engine/admission.h"
#include "server/engine/eviction.h"
#include "server/engine/shard.h"
#include "server/engine/transfer_record.h"

namespace tftpd {

void Shard::OnServiceDatagram(const io::Datagram& datagram) {
  if (config_.single_port) {
    // A client's ACK, DATA or ERROR for its open transfer: told apart by
    // its address and port alone, as the transfer has no port of its own.
    const std::optional<tftp::Opcode> opcode =
        tftp::PeekOpcode(datagram.payload);
    if (opcode != tftp::Opcode::kRrq && opcode != tftp::Opcode::kWrq) {
      if (std::optional<uint32_t> open =
              transfers_.ByPeer(datagram.source.Unmapped());
          open.has_value() && transfers_[*open].shares_service) {
        DeliverToTransfer(*open, datagram);
        return;
      }
    }
  }
  OnRequest(datagram);
}

void Shard::OnRequest(const io::Datagram& datagram) {
  Bump(counters_.requests_received);
  const std::optional<tftp::Opcode> opcode = tftp::PeekOpcode(datagram.payload);
  if (opcode != tftp::Opcode::kRrq && opcode != tftp::Opcode::kWrq) {
    // Never answer stray DATA, ACK or garbage: answering would make the
    // service port a reflector.
    Bump(counters_.ignored_datagrams);
    return;
  }
  if (stopping_) return;
  Bump(opcode == tftp::Opcode::kRrq ? counters_.read_requests
                                    : counters_.write_requests);
  if (!guard_->AllowRequest(datagram.source, now_)) {
    Refuse(datagram.source, datagram.destination, "",
           Refusal{tftp::ErrorCode::kNotDefined,
                   "too many requests from this address",
                   RefusalReason::k_rate_limited, /*logged=*/false});
    return;
  }
  if (datagram.truncated) {
    Refuse(datagram.source, datagram.destination, "",
           Refusal{tftp::ErrorCode::kIllegalOperation, "request too long",
                   RefusalReason::k_malformed, /*logged=*/false});
    return;
  }
  tftp::Request request;
  if (tftp::ProtocolStatus s = tftp::ParseRequest(datagram.payload, &request);
      !s.ok() && !HandlerSeesMode(request)) {
    Refuse(datagram.source, datagram.destination, "",
           Refusal{s.code, s.message, RefusalReason::k_malformed,
                   /*logged=*/false});
    return;
  }
  const io::SocketAddress key = datagram.source.Unmapped();
  const size_t fingerprint = RequestFingerprint(request);
  if (std::optional<uint32_t> open = transfers_.ByPeer(key)) {
    Transfer& t = transfers_[*open];
    switch (ClassifyRepeat(t, fingerprint)) {
      case RepeatVerdict::kDuplicate:
        Bump(counters_.duplicate_requests);
        return;
      case RepeatVerdict::kSupersede:
        t.parked.reset();
        t.protocol->Supersede();
        EndTransfer(*open);
        StartTransfer(datagram, request);
        return;
      case RepeatVerdict::kPark:
        t.parked = std::make_unique<ParkedRequest>(
            ParkedRequest{HeldRequest(datagram, request),
                          t.protocol->counters().packets_received});
        MaybeAnswerAgain(*open, fingerprint);
        return;
    }
  }
  StartTransfer(datagram, request);
}

void Shard::MaybeAnswerAgain(uint32_t index, size_t fingerprint) {
  Transfer& t = transfers_[index];
  // Only a client that has heard nothing: the transfer has spent the sends
  // its request earned and gone quiet (each copy lost, or late behind a
  // queue), and the client asks again. The repeat earns one more answer, so
  // what an address that never answers can draw stays bounded (one send
  // per datagram, within its address's budget); the transfer's unanswered
  // life starts again from it. Earlier repeats wait for the transfer's own
  // retransmission (see Engine.ARepeatWhileOpenIsRecognised).
  if (t.peer_answered || fingerprint != t.request_fingerprint ||
      t.protocol == nullptr || !t.credit.OnRepeatedRequest()) {
    return;
  }
  t.unanswered_since = now_;
  t.protocol->AnswerAgain(now_);
  AfterInput(index);
}

void Shard::StartTransfer(const io::Datagram& datagram,
                          const tftp::Request& request) {
  const io::SocketAddress key = datagram.source.Unmapped();
  AdmissionLimits limits;
  limits.uploads_enabled = committer_ != nullptr;
  limits.uploads_unproven = config_.single_port && !config_.single_port_uploads;
  // In single-port mode no transfer is its address's for sure (anyone can
  // ACK on the service port): the limit per address would be a forger's
  // to use up. The table's eviction of the peer silent longest bounds it.
  limits.address_allowed = config_.single_port || guard_->TransferAllowed(key);
  if (std::optional<Refusal> refusal = CheckAdmission(
          request.opcode, limits, [this] { return FindPlace(); })) {
    Refuse(datagram.source, datagram.destination, request.filename, *refusal);
    return;
  }
  std::variant<RequestContext, Refusal> made =
      MakeContext(datagram, request, service_.bound, id_, config_.remap.get());
  if (const Refusal* refusal = std::get_if<Refusal>(&made)) {
    Refuse(datagram.source, datagram.destination, request.filename, *refusal);
    return;
  }
  RequestContext context = std::get<RequestContext>(std::move(made));
  context.request_id = (static_cast<uint64_t>(id_) << 48) | ++next_request_id_;
  if (request.opcode == tftp::Opcode::kWrq) {
    StartUpload(datagram, request, std::move(context));
    return;
  }
  Response response = AskHandler(*handler_, context);
  if (request.mode == tftp::TransferMode::kUnsupported) {
    response = RefuseUnlessRefused(std::move(response), source_executor_);
  }
  Resolution resolution =
      ResolveResponse(std::move(response), request.mode,
                      {root_, files_, config_.max_netascii_size});
  counters_.netascii_images_dropped.store(files_.netascii_images_dropped(),
                                          std::memory_order_relaxed);
  if (Refusal* refusal = std::get_if<Refusal>(&resolution)) {
    Refuse(datagram.source, datagram.destination, request.filename, *refusal,
           &context, now_);
  } else if (auto* ready = std::get_if<ResolvedResponse>(&resolution)) {
    Launch(datagram, request, std::move(context), std::move(*ready),
           std::nullopt);
  } else if (auto* load = std::get_if<LoadFile>(&resolution)) {
    // Mapped and read in by the loader; meanwhile the shard goes on.
    const uint32_t index = StartWaiting(datagram, request, std::move(context),
                                        TransferPhase::kWaitingForFile);
    transfers_[index].retry = load->retry;
    transfers_[index].session = std::move(load->session);
    const uint32_t generation = transfers_[index].generation;
    const struct stat info = load->info;
    loader_->Load(
        load->fd, static_cast<size_t>(info.st_size),
        [this, index, generation, info](const uint8_t* data, int error) {
          inbox_.Post(FileLoaded{index, generation, info, data, error});
        });
  } else {
    // The source is still working on it: wait, holding no socket and no
    // shard time, until it begins, fails or takes too long. The client's
    // repeats of the request meanwhile are recognised as repeats.
    const uint32_t index = StartWaiting(datagram, request, std::move(context),
                                        TransferPhase::kWaitingForStream);
    Transfer& t = transfers_[index];
    t.stream = std::get<AwaitStream>(resolution).stream;
    t.session = std::move(std::get<AwaitStream>(resolution).session);
    SubscribeToStream(index);
    // It may have begun between state() and Subscribe.
    PostStreamProgress(index, t.generation);
  }
}

uint64_t Shard::SubscribeToStream(uint32_t index) {
  Transfer& t = transfers_[index];
  const uint32_t generation = t.generation;
  t.subscription = t.stream->Subscribe(
      [this, index, generation] { PostStreamProgress(index, generation); },
      source_executor_);
  return t.subscription;
}

uint32_t Shard::OpenTransfer(const io::SocketAddress& key, TransferPhase phase,
                             const tftp::Request& request) {
  const uint32_t index = transfers_.Open(key, phase);
  budget_->Opened(id_);
  Transfer& t = transfers_[index];
  t.request_fingerprint = RequestFingerprint(request);
  t.on_probation = recent_.Repeats(key, t.request_fingerprint, now_);
  counters_.transfers_active.store(transfers_.open(),
                                   std::memory_order_relaxed);
  return index;
}

bool Shard::FindPlace() {
  if (budget_->HasRoom()) return true;
  // A full table makes room by evicting a transfer whose client has not
  // proven itself (EvictOne; as a SYN-flood defence drops half-open
  // connections first): requests forged in a flood hold their places only
  // until real requests need them.
  if (EvictOne(std::nullopt) && budget_->HasRoom()) return true;
  // Such transfers may be on other shards only (the kernel's hash chose
  // where each request went): the one holding the most evicts for this.
  const int target = budget_->EvictionTarget(id_);
  if (target < 0 || static_cast<size_t>(target) >= peers_.size()) return false;
  peers_[target]->RequestEviction();
  return true;
}

bool Shard::EvictOne(std::optional<uint32_t> except) {
  // The placement rules: eviction.h.
  const std::optional<uint32_t> victim =
      config_.single_port
          ? ChooseSinglePortEviction(transfers_, except, now_, eviction_draws_)
          : transfers_.OldestUnanswered(except);
  if (!victim.has_value()) return false;
  Bump(counters_.transfers_evicted);
  Transfer& t = transfers_[*victim];
  t.parked.reset();  // Its client's other requests go with it.
  if (t.waiting()) {
    EndWaiting(*victim, std::nullopt);
  } else {
    EndTransfer(*victim);
  }
  return true;
}

uint32_t Shard::StartWaiting(const io::Datagram& datagram,
                             const tftp::Request& request,
                             RequestContext context, TransferPhase phase) {
  const uint32_t index =
      OpenTransfer(datagram.source.Unmapped(), phase, request);
  Transfer& t = transfers_[index];
  t.peer = t.key;
  t.request = std::make_unique<HeldRequest>(datagram, request);
  t.context = std::move(context);
  t.started = now_;
  t.started_wall = env_.wall_now();
  t.last_progress = now_;
  timers_.Schedule(index, t.generation, now_ + config_.source_timeout,
                   &t.timer);
  return index;
}

void Shard::PostStreamProgress(uint32_t index, uint32_t generation) {
  inbox_.Post(StreamProgress{index, generation});
}

void Shard::OnFileLoaded(const FileLoaded& loaded) {
  SharedFile* file =
      loaded.data != nullptr ? files_.Adopt(loaded.info, loaded.data) : nullptr;
  Transfer* t = transfers_.Live(loaded.index, loaded.generation);
  if (t == nullptr || t->phase != TransferPhase::kWaitingForFile) {
    if (file != nullptr) files_.Release(file);  // Its client is gone.
    return;
  }
  if (file == nullptr) {
    TFTPD_LOG(kWarning, "shard %d: mapping %s: %s", id_,
              LogValue(t->context.requested_path), std::strerror(loaded.error));
    EndWaiting(loaded.index,
               Refusal{tftp::ErrorCode::kNotDefined, "cannot read file",
                       RefusalReason::k_resources});
    return;
  }
  std::variant<Refusal, ResolvedResponse> used = RespondWithFile(
      file, t->context.mode, {root_, files_, config_.max_netascii_size});
  counters_.netascii_images_dropped.store(files_.netascii_images_dropped(),
                                          std::memory_order_relaxed);
  if (const Refusal* refusal = std::get_if<Refusal>(&used)) {
    EndWaiting(loaded.index, *refusal);
    return;
  }
  std::get<ResolvedResponse>(used).retry = t->retry;
  Resume(loaded.index, std::get<ResolvedResponse>(std::move(used)));
}

void Shard::OnStreamProgress(uint32_t index) {
  Transfer& t = transfers_[index];
  const ResponseStream::State state = t.stream->Acknowledge(t.subscription);
  if (t.phase == TransferPhase::kWaitingForStream) {
    if (state.failed) {
      Refusal refusal{state.error_code, state.error_message,
                      RefusalReason::k_source_failed};
      refusal.dropped = state.dropped;
      EndWaiting(index, refusal);
    } else if (state.begun) {
      std::variant<Refusal, ResolvedResponse> used =
          RespondWithStream(t.stream, t.context.mode);
      if (const Refusal* refusal = std::get_if<Refusal>(&used)) {
        EndWaiting(index, *refusal);
      } else {
        Resume(index, std::get<ResolvedResponse>(std::move(used)));
      }
    }
    return;
  }
  if (state.failed) {
    t.protocol->Abort(state.error_code, state.error_message);
  } else {
    t.reading->OnDataAvailable(state.available, state.complete, now_);
    t.last_progress = now_;
  }
  AfterInput(index);
}

void Shard::Resume(uint32_t index, ResolvedResponse response) {
  Transfer& t = transfers_[index];
  HeldRequest held = std::move(*t.request);
  t.request.reset();
  RequestContext context = std::move(t.context);
  Launch(held.datagram(), held.request(), std::move(context),
         std::move(response), index);
}

void Shard::EndWaiting(uint32_t index, std::optional<Refusal> refusal,
                       std::shared_ptr<void> session) {
  Transfer& t = transfers_[index];
  const io::SocketAddress source = t.request->source();
  const io::SocketAddress destination = t.request->destination();
  const RequestContext context = t.context;
  const io::TimePoint since = t.started;
  if (session == nullptr) session = TakeSession(t);
  CloseTransfer(index);
  MaybeRecycle(index);
  EndUnstarted(source, destination, context.requested_path, std::move(refusal),
               context, since, std::move(session));
}

void Shard::EndUnstarted(const io::SocketAddress& to,
                         const io::SocketAddress& from,
                         absl::string_view filename,
                         std::optional<Refusal> refusal,
                         const RequestContext& context, io::TimePoint since,
                         std::shared_ptr<void> session) {
  if (refusal.has_value()) {
    refusal->session = std::move(session);
    Refuse(to, from, filename, *refusal, &context, since);
    return;
  }
  // Given up without a word; its handler still gets its record.
  const io::Clock::duration waited = now_ - since;
  RecordUnanswered(context, std::move(session), env_.wall_now() - waited,
                   waited, counters_, stats_);
}

void Shard::Launch(const io::Datagram& datagram, const tftp::Request& request,
                   RequestContext context, ResolvedResponse response,
                   std::optional<uint32_t> index) {
  // Refused, or without a word when `refusal` is empty.
  auto give_up = [&](std::optional<Refusal> refusal) {
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
  };
  tftp::NegotiatedOptions negotiated;
  tftp::OptionLimits limits = config_.limits;
  // What a peer that reached the transfer's port blindly may draw: two
  // windows a datagram (peer_credit.h).
  limits.max_window_bytes = kMaxWindowBytes;
  if (tftp::ProtocolStatus s = tftp::NegotiateOptions(
          request, limits, response.announced_size, &negotiated);
      !s.ok()) {
    give_up(Refusal{s.code, s.message, RefusalReason::k_options});
    return;
  }
  if (config_.single_port) LimitUnprovenWindow(negotiated);
  const bool pulled =
      response.stream != nullptr && response.stream->state().pulled;
  io::SocketAddress peer;
  absl::StatusOr<io::OpenedSocket> socket = OpenTransferSocket(datagram, &peer);
  if (!socket.ok()) {
    TFTPD_LOG(kWarning, "shard %d: %s", id_, socket.status().message());
    if (EvictOne(index)) {
      // Out of descriptors: an unanswered transfer gives its socket up. It
      // closes once its operations complete, so this request goes
      // unanswered (not refused: an ERROR would end the client's boot),
      // and the client's repeat of it finds the descriptor free.
      Bump(counters_.requests_deferred);
      give_up(std::nullopt);
      return;
    }
    give_up(Refusal{tftp::ErrorCode::kNotDefined, "out of sockets",
                    RefusalReason::k_resources});
    return;
  }
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
  t.fd = socket->fd;
  t.shares_service = config_.single_port;
  t.local = socket->bound;
  t.peer = peer;
  t.file = response.file;
  t.bytes = std::move(response.bytes);
  t.response = response.response;
  t.context = std::move(context);
  t.last_progress = now_;
  t.unanswered_since = now_;
  t.pulled = pulled;
  // A transfer that waited keeps what it was given when it began waiting.
  if (response.session != nullptr) t.session = std::move(response.session);
  tftp::TransferConfig transfer_config = config_.transfer;
  if (response.retry.retries.has_value()) {
    transfer_config.max_retries = std::max(0, *response.retry.retries);
  }
  if (response.retry.timeout.has_value()) {
    transfer_config.timeout =
        std::max(*response.retry.timeout, std::chrono::milliseconds(1));
  }
  if (response.retry.backoff == false) {
    // The cap is the first wait (RetransmitTimer): every wait is that.
    transfer_config.max_timeout = tftp::Duration::zero();
  }
  auto reading = std::make_unique<tftp::ReadTransfer>(
      transfer_config, negotiated,
      t.stream == nullptr ? std::optional<uint64_t>(t.response.size())
                          : std::nullopt);
  t.credit = PeerCredit(t.shares_service);
  t.credit.SetWindowBytes(size_t{negotiated.windowsize} *
                          (tftp::kDataHeaderSize + negotiated.blksize));
  t.reading = reading.get();
  t.protocol = std::move(reading);
  TFTPD_LOG(kDebug, "RRQ peer=%s file=%s mode=%s options=%d", peer.ToString(),
            LogValue(t.context.requested_path),
            std::string(tftp::TransferModeName(request.mode)),
            static_cast<int>(request.options.count));
  if (!t.shares_service) ArmTransferReceive(i);
  t.protocol->Start(now_);
  if (t.stream != nullptr) {
    if (t.subscription == 0) SubscribeToStream(i);
    if (t.pulled &&
        !t.stream->AttachReader(
            t.subscription, negotiated.blksize, PulledReadAhead(negotiated),
            request.mode == tftp::TransferMode::kNetascii)) {
      t.protocol->Abort(tftp::ErrorCode::kNotDefined,
                        "response source already read by another transfer");
    }
    OnStreamProgress(i);  // What arrived already.
    return;
  }
  AfterInput(i);
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

void Shard::Refuse(const io::SocketAddress& to, const io::SocketAddress& from,
                   absl::string_view filename, const Refusal& refusal,
                   const RequestContext* context,
                   std::optional<io::TimePoint> since) {
  if (context != nullptr) {
    const io::Clock::duration waited = now_ - since.value_or(now_);
    RecordRefusal(*context, refusal, env_.wall_now() - waited, waited,
                  counters_, stats_);
  }
  if (refusal.dropped) {
    // As if never received: no ERROR, no log line at info.
    Bump(counters_.requests_dropped);
    TFTPD_LOG(kDebug, "dropped request peer=%s file=%s",
              to.Unmapped().ToString(), LogValue(filename));
    return;
  }
  if (refusal.logged) LogRefusal(to, filename, refusal);
  Bump(counters_.requests_refused);
  Bump(counters_.refused_by_reason[static_cast<size_t>(refusal.reason)]);
  SendError(service_.fd, to, &from, refusal.code, refusal.message,
            std::nullopt);
}

void Shard::LogRefusal(const io::SocketAddress& to, absl::string_view filename,
                       const Refusal& refusal) {
  const int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch())
          .count();
  uint64_t held_back = 0;
  if (!refusal_lines_.Allow(second, &held_back)) {
    Bump(counters_.refusals_not_logged);
    return;
  }
  if (held_back > 0) {
    TFTPD_LOG(kInfo,
              "shard %d: %d refusals not logged (at most %d lines a second)",
              id_, static_cast<int>(held_back),
              static_cast<int>(kRefusalLinesPerSecond));
  }
  TFTPD_LOG(kInfo,
            "refused request peer=%s file=%s reason=%s error=%d message=%s",
            to.Unmapped().ToString(), LogValue(filename),
            std::string(RefusalReasonName(refusal.reason)),
            static_cast<int>(refusal.code), LogValue(refusal.message));
}

}  // namespace tftpd
