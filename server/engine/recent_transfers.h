// Transfers that ended a moment ago, as TCP keeps TIME_WAIT: a copy of the
// request that opened one, delayed in the network (or repeated by a client
// before the first answer reached it), can arrive after the transfer ended;
// taken as new it would open a transfer nobody answers. Within the linger
// after a transfer's clean end, the same request from the same address and
// port is recognised and ignored; a client that really wants the file again
// is answered when it repeats its request after the linger.
//
// Bounded: at most `capacity` entries; the oldest goes first.
#ifndef TFTPD_SERVER_ENGINE_RECENT_TRANSFERS_H_
#define TFTPD_SERVER_ENGINE_RECENT_TRANSFERS_H_

#include <cstddef>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "io/event_backend.h"
#include "io/socket_address.h"

namespace tftpd {

class RecentTransfers {
 public:
  RecentTransfers(io::Clock::duration linger, size_t capacity)
      : linger_(linger), capacity_(capacity) {}

  // The transfer of `key` opened by a request with `fingerprint` ended
  // cleanly at `now`.
  void Remember(const io::SocketAddress& key, size_t fingerprint,
                io::TimePoint now);
  // A request with `fingerprint` from `key` repeats a transfer that ended
  // within the linger.
  bool Repeats(const io::SocketAddress& key, size_t fingerprint,
               io::TimePoint now);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    size_t fingerprint;
    io::TimePoint expiry;
  };
  void Expire(io::TimePoint now);

  const io::Clock::duration linger_;
  const size_t capacity_;
  absl::flat_hash_map<io::SocketAddress, Entry> entries_;
  // Keys in the order they were remembered (an entry remembered again
  // leaves its older place here; Expire skips it).
  std::deque<std::pair<io::TimePoint, io::SocketAddress>> order_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_RECENT_TRANSFERS_H_
