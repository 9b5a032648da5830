// What a shard shows of itself: the transfers in progress as snapshots
// (the status page, Server::Transfers), and the invariants its tests check
// after every step.
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/engine/shard.h"

namespace tftpd {

std::vector<TransferSnapshot> Shard::Snapshot() const {
  std::vector<TransferSnapshot> out;
  out.reserve(transfers_.open());
  for (uint32_t i = 0; i < transfers_.size(); ++i) {
    const Transfer& t = transfers_[i];
    if (!t.live()) continue;
    TransferSnapshot s;
    s.shard = id_;
    s.request_id = t.context.request_id;
    s.peer = t.key;
    s.requested_path = t.context.requested_path;
    s.upload = t.upload() != nullptr;
    s.phase = std::string(TransferPhaseName(t.phase));
    s.answered = t.peer_answered;
    s.start_time = t.started_wall;
    s.age = now_ - t.started;
    if (t.protocol() != nullptr) {
      const tftp::TransferCounters& counters = t.protocol()->counters();
      const tftp::NegotiatedOptions& options = t.protocol()->options();
      s.bytes_acknowledged = counters.bytes_transferred;
      s.packets_sent = counters.packets_sent;
      s.retransmits = counters.retransmits;
      s.blksize = options.blksize;
      s.windowsize = options.windowsize;
      s.size = options.tsize;
    }
    if (!s.size.has_value() && !s.upload) {
      if (t.stream != nullptr) {
        const ResponseStream::State state = t.stream->state();
        s.size = state.complete ? std::optional<uint64_t>(state.available)
                                : state.size;
      } else if (t.phase == TransferPhase::kSending) {
        s.size = t.response.size();
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::Status Shard::CheckInvariants() const {
  size_t live = 0;
  for (uint32_t i = 0; i < transfers_.size(); ++i) {
    const Transfer& t = transfers_[i];
    if (!t.live()) continue;
    ++live;
    if (transfers_.ByPeer(t.key) != i) {
      return absl::InternalError(
          absl::StrCat("live transfer ", i,
                       " is not the peer table's entry for its client"));
    }
    // A waiting transfer has no protocol side; a sending one a read's, a
    // receiving one an upload's.
    const bool side_fits = t.waiting()
                               ? std::holds_alternative<std::monostate>(t.side)
                           : t.phase == TransferPhase::kSending
                               ? std::holds_alternative<ReadSide>(t.side)
                               : std::holds_alternative<UploadSide>(t.side);
    if (!side_fits) {
      return absl::InternalError(
          absl::StrCat("transfer ", i, " in phase ", TransferPhaseName(t.phase),
                       " has the protocol side of index ", t.side.index()));
    }
  }
  if (live != transfers_.open()) {
    return absl::InternalError(absl::StrCat(
        live, " live transfers, ", transfers_.open(), " in the table"));
  }
  std::vector<bool> free_slot(slots_.size(), false);
  for (uint32_t i : slots_.free_list()) {
    if (free_slot[i]) return absl::InternalError("a send slot is free twice");
    free_slot[i] = true;
    if (slots_[i].file != nullptr || slots_[i].transfer != kNoTransfer) {
      return absl::InternalError("a free send slot still holds its transfer");
    }
  }
  return absl::OkStatus();
}

}  // namespace tftpd
