// A shard's transfers: slots that live as long as the shard (a deque, so a
// reference stays valid when it grows), the free ones, and the open ones by
// client address and port. Every phase change goes through MoveTo, which
// refuses (loudly, in debug and sanitizer builds) a transition the phase
// diagram in transfer.h does not have.
#ifndef TFTPD_SERVER_ENGINE_TRANSFER_TABLE_H_
#define TFTPD_SERVER_ENGINE_TRANSFER_TABLE_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "io/socket_address.h"
#include "server/engine/transfer.h"

namespace tftpd {

class TransferTable {
 public:
  Transfer& operator[](uint32_t index) { return slots_[index]; }
  const Transfer& operator[](uint32_t index) const { return slots_[index]; }
  size_t size() const { return slots_.size(); }

  // The live transfer at `index` of `generation`, or null (ended, reused).
  Transfer* Live(uint32_t index, uint32_t generation);
  // The open transfer of the client at `key` (unmapped address and port).
  std::optional<uint32_t> ByPeer(const io::SocketAddress& key) const;

  // Takes a free slot for the client at `key`, in `phase`, and lists it in
  // the peer table.
  uint32_t Open(const io::SocketAddress& key, TransferPhase phase);
  // Every phase change of a live transfer.
  void MoveTo(uint32_t index, TransferPhase phase);
  // Over: out of the peer table, kEnded.
  void End(uint32_t index);
  // An ended transfer whose operations all completed: a fresh transfer,
  // next generation, takes its slot, which is free again.
  void Recycle(uint32_t index);

  // The open transfer that has waited longest for its client's first
  // answer, other than `except`, if any: the one to evict when the table
  // is full.
  std::optional<uint32_t> OldestUnanswered(std::optional<uint32_t> except);
  // Up to `n` open transfers other than `except`, drawn at random (with
  // `random`, a value per draw) from all the open ones: O(n) whatever
  // their number.
  template <typename Random>
  std::vector<uint32_t> Sample(size_t n, std::optional<uint32_t> except,
                               Random& random) const {
    std::vector<uint32_t> drawn;
    if (open_list_.empty()) return drawn;
    for (size_t i = 0; i < n; ++i) {
      const uint32_t index = open_list_[random() % open_list_.size()];
      if (index != except) drawn.push_back(index);
    }
    return drawn;
  }

  // Open transfers (listed in the peer table).
  size_t open() const { return by_peer_.size(); }
  bool all_free() const { return free_.size() == slots_.size(); }
  size_t opened_size() const { return opened_.size(); }

 private:
  bool Unanswered(const std::pair<uint32_t, uint32_t>& entry) const;

  std::deque<Transfer> slots_;
  std::vector<uint32_t> free_;
  absl::flat_hash_map<io::SocketAddress, uint32_t> by_peer_;
  // Transfers (index, generation) in the order they opened; entries of
  // transfers since answered or ended are dropped lazily, and the whole is
  // compacted when it outgrows the slots twice over.
  std::deque<std::pair<uint32_t, uint32_t>> opened_;
  // The open transfers, in no order (each knows its position): a draw
  // among them costs one lookup.
  std::vector<uint32_t> open_list_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_TRANSFER_TABLE_H_
