// Transfers that ended a moment ago, as TCP keeps TIME_WAIT: a copy of the
// request that opened one, delayed in the network (or repeated by a client
// before the first answer reached it), can arrive after the transfer ended,
// and looks exactly like a client asking for the same file again from the
// same port (tftp-hpa's interactive client, load generators). Within the
// linger after a transfer's clean end, such a request opens its transfer on
// probation (transfer.h): answered at once, but counted as a transfer only
// when its client answers, and as a duplicate request when it never does.
//
// Bounded: at most `capacity` entries, the oldest going first, and at most
// twice as many places in the order of their ends.
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
  // cleanly at `now`. Returns how many entries were forgotten before their
  // linger to make room.
  size_t Remember(const io::SocketAddress& key, size_t fingerprint,
                  io::TimePoint now);
  // A request with `fingerprint` from `key` repeats a transfer that ended
  // cleanly within the linger.
  bool Repeats(const io::SocketAddress& key, size_t fingerprint,
               io::TimePoint now);

  size_t size() const { return entries_.size(); }
  size_t order_size() const { return order_.size(); }

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
