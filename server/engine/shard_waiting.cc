// A read that waits before its first packet, holding no socket: for the
// loader to map its file, or for its stream to begin; then resumed,
// refused, or given up.
#include <cstring>

#include "server/api/log.h"
#include "server/engine/shard.h"
#include "server/engine/transfer_record.h"

namespace tftpd {

uint64_t Shard::SubscribeToStream(uint32_t index) {
  Transfer& t = transfers_[index];
  const uint32_t generation = t.generation;
  t.subscription = t.stream->Subscribe(
      [this, index, generation] { PostStreamProgress(index, generation); },
      source_executor_);
  return t.subscription;
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
    t.protocol()->Abort(state.error_code, state.error_message);
  } else {
    t.read()->protocol->OnDataAvailable(state.available, state.complete, now_);
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

}  // namespace tftpd
