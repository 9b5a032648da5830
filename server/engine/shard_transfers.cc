// A transfer's life once it has a socket: its client's packets, its
// timers, its end, and the recycling of its slot.
#include <algorithm>

#include "server/api/log.h"
#include "server/engine/completion_kind.h"
#include "server/engine/shard.h"
#include "server/engine/transfer_record.h"

namespace tftpd {

void Shard::ArmTransferReceive(uint32_t index) {
  Transfer& t = transfers_[index];
  const uint64_t tag = CompletionTag(kTransferReceive, index, t.generation);
  // An upload's blocks may be as large as a datagram gets.
  if (t.upload() != nullptr) {
    backend_->ReceiveLarge(t.fd, tag);
  } else {
    backend_->Receive(t.fd, tag);
  }
  t.receive_armed = true;
  ++t.inflight;
}

void Shard::OnTransferReceive(uint32_t index, const io::Completion& c) {
  Transfer& t = transfers_[index];
  if (c.datagram != nullptr && t.live()) {
    if (c.datagram->source != t.peer) {
      // Another client reached this transfer's port (RFC 1350: ERROR 5);
      // the transfer carries on undisturbed.
      Bump(counters_.unknown_tid_packets);
      SendError(t.fd, c.datagram->source, nullptr,
                tftp::ErrorCode::kUnknownTransferId, "unknown transfer ID",
                index);
    } else {
      DeliverToTransfer(index, *c.datagram);
    }
  }
  if (!c.more) {
    --t.inflight;
    t.receive_armed = false;
    if (t.live()) {
      ArmTransferReceive(index);
    } else {
      MaybeRecycle(index);
    }
  }
}

void Shard::DeliverToTransfer(uint32_t index, const io::Datagram& datagram) {
  Transfer& t = transfers_[index];
  Bump(counters_.packets_received);
  if (t.shares_service) t.answers.Heard(now_);  // Only eviction.h reads it.
  if (!t.peer_answered) OnFirstAnswer(index);
  if (t.protocol()->finished()) {  // Over its address's limit.
    AfterInput(index);
    return;
  }
  if (datagram.truncated) {
    // Longer than any block this transfer allows: what arrived is cut, and
    // taken as data it would end an upload early with its tail missing.
    t.protocol()->Abort(tftp::ErrorCode::kIllegalOperation,
                        "datagram longer than the negotiated block size");
  } else {
    t.protocol()->OnDatagram(datagram.payload, now_);
  }
  Credit(index);
  if (t.parked != nullptr && !t.protocol()->finished() &&
      t.protocol()->counters().packets_received > t.parked->heard_before) {
    // The client answered this transfer after the request came: the
    // request was a repeat of the one that opened it. (Answered by the
    // transfer's last packet, it may as well be the client's next request
    // overtaking that packet: it starts once the transfer ends, on
    // probation when it is the same request.)
    t.parked.reset();
    Bump(counters_.duplicate_requests);
  }
  AfterInput(index);
}

void Shard::OnFirstAnswer(uint32_t index) {
  Transfer& t = transfers_[index];
  t.peer_answered = true;
  // A transfer it wanted (not a late copy of a request, when on probation).
  t.on_probation = false;
  Bump(counters_.transfers_started);
  // The service port proves nothing (anyone knows it and can ACK there
  // blindly): such a transfer stays evictable, and is not its address's.
  if (t.shares_service) return;
  // On its own port, the client is where its request said, or a forger
  // found the port: the place is kept, but the address is not trusted
  // beyond this transfer (see PeerCredit).
  budget_->Proven(id_);
  if (!guard_->TransferAllowed(t.key)) {
    t.protocol()->Abort(tftp::ErrorCode::kNotDefined,
                        "too many transfers from this address");
    return;
  }
  guard_->AddTransfer(t.key);
  t.counted_for_address = true;
}

void Shard::Credit(uint32_t index) {
  Transfer& t = transfers_[index];
  if (t.credit.proven()) return;
  // Whatever it is, it earns a bounded answer: anyone may have sent it.
  const ReadSide* read = t.read();
  t.credit.OnDatagram(read != nullptr && read->protocol->AcknowledgedWindow());
  if (t.credit.proven()) {
    // Whole windows acknowledged, round after round: the address is where
    // its requests say, and its other requests need not be held to the
    // budget of strangers for a while.
    guard_->Verified(t.peer, now_);
  }
}

void Shard::AfterInput(uint32_t index) {
  Transfer& t = transfers_[index];
  if (!t.live() || t.waiting()) return;
  if (t.pulled) ReportConsumed(t);
  if (const UploadSide* upload = t.upload();
      upload != nullptr && upload->committing() && upload->commit == nullptr) {
    StartCommit(index);
  }
  if (t.protocol()->HasOutgoing()) {
    if (!t.in_ready) {
      t.in_ready = true;
      ready_.push_back(index);
    }
    return;
  }
  if (t.protocol()->finished()) {
    EndTransfer(index);
  } else {
    Schedule(index);
  }
}

void Shard::ReportConsumed(Transfer& t) {
  // What the client has acknowledged is not read again: the stream reads
  // further ahead and gives the memory back. Each report takes the
  // stream's lock, so a lock-step client's is sent every few blocks, not
  // per ACK (the stream reads when half its read-ahead, 64 KiB or more, is
  // missing: a few blocks late changes nothing); at once when the transfer
  // waits for the stream's bytes (nothing to send, nothing in flight).
  constexpr uint64_t kReportStep = 8 << 10;
  const uint64_t acknowledged = t.protocol()->counters().bytes_transferred;
  if (acknowledged == t.consumed_reported) return;
  const bool starved =
      !t.protocol()->HasOutgoing() && !t.protocol()->deadline().has_value();
  if (acknowledged < t.consumed_reported + kReportStep && !starved) return;
  t.consumed_reported = acknowledged;
  t.stream->Consumed(t.subscription, acknowledged);
}

void Shard::Schedule(uint32_t index) {
  Transfer& t = transfers_[index];
  std::optional<io::TimePoint> deadline = t.protocol()->deadline();
  if (!deadline.has_value() &&
      (t.stream != nullptr ||
       (t.upload() != nullptr && t.upload()->committing()))) {
    // Waiting for the stream's next bytes, or for an upload's commit:
    // bounded by the source timeout.
    deadline = t.last_progress + config_.source_timeout;
  }
  if (!t.peer_answered) {
    // However long a timeout it asked for.
    deadline = std::min(deadline.value_or(io::TimePoint::max()),
                        UnansweredDeadline(t));
  }
  if (deadline.has_value()) {
    timers_.Schedule(index, t.generation, *deadline, &t.timer);
  }
}

void Shard::FireTimers() {
  timers_.PopDue(
      now_,
      [this](uint32_t index, uint32_t generation) -> io::DeadlineQueue::Slot* {
        Transfer* t = transfers_.Live(index, generation);
        return t != nullptr ? &t->timer : nullptr;
      },
      [this](uint32_t index) { OnTimer(index); });
}

void Shard::OnTimer(uint32_t index) {
  Transfer& t = transfers_[index];
  if (t.waiting()) {
    const io::TimePoint limit = t.started + config_.source_timeout;
    if (now_ < limit) {
      timers_.Schedule(index, t.generation, limit, &t.timer);
      return;
    }
    const bool file = t.phase == TransferPhase::kWaitingForFile;
    EndWaiting(index, Refusal{tftp::ErrorCode::kNotDefined,
                              file ? "file could not be read in time"
                                   : "response source did not answer in time",
                              file ? RefusalReason::k_resources
                                   : RefusalReason::k_source_failed});
    return;
  }
  if (!t.peer_answered && now_ >= UnansweredDeadline(t)) {
    // Its client never answered: most likely a forged request.
    EndTransfer(index);
    return;
  }
  t.protocol()->OnDeadline(now_);  // Does nothing if it is not yet due.
  if (t.stream != nullptr && !t.protocol()->finished() &&
      !t.protocol()->deadline().has_value() &&
      now_ >= t.last_progress + config_.source_timeout) {
    t.protocol()->Abort(tftp::ErrorCode::kNotDefined,
                        "response source stalled");
  }
  if (UploadSide* upload = t.upload();
      upload != nullptr && upload->committing() &&
      now_ >= t.last_progress + config_.source_timeout) {
    if (upload->commit->Withdraw()) {
      // It never began: the file will not appear, and the client hears so.
      upload->protocol->OnCommitFailed(
          tftp::ErrorCode::kNotDefined,
          "the upload could not be stored in time");
    } else {
      // It is running: what it does decides what the client hears (a
      // failure told now could be followed by the file appearing). The
      // store's own timeouts bound it (PostgreSQL's statement timeout).
      TFTPD_LOG(kWarning,
                "upload peer=%s file=%s: storing it takes longer than %d ms",
                t.peer.ToString(), LogValue(t.context.requested_path),
                static_cast<int>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        config_.source_timeout)
                        .count()));
      t.last_progress = now_;
    }
  }
  AfterInput(index);
}

void Shard::EndTransfer(uint32_t index) {
  Transfer& t = transfers_[index];
  if (!t.live() || t.waiting()) return;
  if (t.peer_answered) {
    RecordTransfer(t, id_, now_, counters_, stats_);
  } else {
    // Not counted as a transfer, but its request reached the handler and
    // has a record as every such request has: a program keeps what it
    // needs for a request until the record comes (the Python package, its
    // handlers). Its first answer was an ERROR, or nothing came back.
    PostTransferRecord(t, id_, now_, counters_, stats_);
    if (t.on_probation) {
      // A late copy of the request that opened the transfer that ended
      // just before.
      Bump(counters_.duplicate_requests);
    } else {
      // Its client (if there was one) never answered.
      Bump(counters_.transfers_unanswered);
      TFTPD_LOG(kDebug, "unanswered request peer=%s file=%s", t.peer.ToString(),
                LogValue(t.context.requested_path));
    }
  }
  if (UploadSide* upload = t.upload(); upload != nullptr &&
                                       upload->sink != nullptr &&
                                       upload->commit == nullptr) {
    // Ended before every block came: nothing of it may remain.
    committer_->Abandon(std::move(upload->sink));
  }
  const tftp::TransferOutcome outcome = t.protocol()->result().outcome;
  if (t.peer_answered && (outcome == tftp::TransferOutcome::kCompleted ||
                          outcome == tftp::TransferOutcome::kSuperseded)) {
    Bump(counters_.recent_transfers_forgotten,
         recent_.Remember(t.key, t.request_fingerprint, now_));
  }
  if (t.receive_armed) {
    backend_->Cancel(CompletionTag(kTransferReceive, index, t.generation));
  }
  std::unique_ptr<ParkedRequest> next = std::move(t.parked);
  CloseTransfer(index);
  MaybeRecycle(index);
  if (next == nullptr || stopping_) return;
  // The transfer ended before its client spoke again: the request that
  // came meanwhile starts the client's next transfer, with no wait (on
  // probation when it may be a late copy of the one that just ended).
  StartTransfer(next->request.datagram(), next->request.request());
}

void Shard::CloseTransfer(uint32_t index) {
  Transfer& t = transfers_[index];
  transfers_.End(index);
  budget_->Ended(id_, t.evictable());
  if (t.counted_for_address) guard_->EndTransfer(t.key);
  counters_.transfers_active.store(transfers_.open(),
                                   std::memory_order_relaxed);
}

void Shard::MaybeRecycle(uint32_t index) {
  Transfer& t = transfers_[index];
  // Nothing in flight may outlive the socket, and the ready queue must not
  // hold an index that a new transfer could take.
  if (t.phase != TransferPhase::kEnded || t.inflight > 0 || t.in_ready) return;
  if (t.fd >= 0 && !t.shares_service) env_.close_socket(backend_.get(), t.fd);
  if (t.file != nullptr) files_.Release(t.file);
  if (t.stream != nullptr && t.subscription != 0) {
    t.stream->Unsubscribe(t.subscription);
  }
  transfers_.Recycle(index);
}

}  // namespace tftpd
