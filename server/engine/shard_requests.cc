// A request's way to a transfer: repeats told from new requests, the
// limits, the handler, the response resolved and acted on (the read's launch
// is shard_reads.cc, its waits shard_waiting.cc), and refusals.
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
        t.protocol()->Supersede();
        EndTransfer(*open);
        StartTransfer(datagram, request);
        return;
      case RepeatVerdict::kPark:
        t.parked = std::make_unique<ParkedRequest>(
            ParkedRequest{HeldRequest(datagram, request),
                          t.protocol()->counters().packets_received});
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
      t.protocol() == nullptr || !t.credit.OnRepeatedRequest()) {
    return;
  }
  t.unanswered_since = now_;
  t.protocol()->AnswerAgain(now_);
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
  ActOn(datagram, request, std::move(context), std::move(resolution));
}

void Shard::ActOn(const io::Datagram& datagram, const tftp::Request& request,
                  RequestContext context, Resolution resolution) {
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
