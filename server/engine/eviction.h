// Placement: which open transfer a new request takes the place of when
// every place is taken (Shard::FindPlace asks; TransferBudget shares the
// places between shards).
//
// Default mode: a transfer whose client answered on the transfer's own
// port, which only a client that received the first answer (or a forger
// spraying every port) knows, is kept; the one that has waited longest for
// its client's first answer goes (TransferTable::OldestUnanswered), as a
// SYN-flood defence drops half-open connections first.
//
// Single-port mode: nothing proves a client (anyone can ACK on the service
// port without reading a reply), so any transfer may go: of a random
// sample, the one that looks least like a real client (ForgeryScore). A
// sample, not the whole table, so that a flood's evictions cost the same at
// 100,000 transfers as at 100, and so that of transfers that look alike
// none is sure to be chosen.
#ifndef TFTPD_SERVER_ENGINE_EVICTION_H_
#define TFTPD_SERVER_ENGINE_EVICTION_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "io/event_backend.h"
#include "server/engine/transfer.h"
#include "server/engine/transfer_table.h"

namespace tftpd {

inline constexpr size_t kEvictionSample = 16;

// How unlike a real client `t`'s peer looks at `now`: how late its answers
// have come (smoothed), or, when more, half of how long it has left what it
// was sent unanswered (a real client waiting out a loss is silent as long
// as a forger's clock tick, but not late on average). A real client answers
// within a round trip; a blind forger keeping transfers alive answers on a
// clock of its own (a second is plausible for firmware, and each faster tick
// costs it a datagram per transfer), and one that stopped answering is silent
// ever longer. A transfer that has sent nothing yet (its response is being
// made) is owed nothing and scores zero.
io::Clock::duration ForgeryScore(const Transfer& t, io::TimePoint now);

// Single-port mode's choice among `table`'s open transfers other than
// `except`: the highest ForgeryScore of a sample drawn with `random`.
template <typename Random>
std::optional<uint32_t> ChooseSinglePortEviction(const TransferTable& table,
                                                 std::optional<uint32_t> except,
                                                 io::TimePoint now,
                                                 Random& random) {
  std::optional<uint32_t> chosen;
  io::Clock::duration worst{-1};
  for (const uint32_t index : table.Sample(kEvictionSample, except, random)) {
    const io::Clock::duration score = ForgeryScore(table[index], now);
    if (score > worst) {
      worst = score;
      chosen = index;
    }
  }
  return chosen;
}

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_EVICTION_H_
