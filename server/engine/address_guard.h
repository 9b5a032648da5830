// Limits per client, shared by every shard without a lock: transfers open
// at once (per address, counting only transfers whose client answered),
// requests per second (per address and port), and the bytes sent to an
// address that has not answered yet beyond a request's first answer (the
// amplification guard: a spoofed request must not make the server flood its
// victim). None of them can be used up by a forger for someone else: a
// forged request is never answered, and a forger does not know its victim's
// port.
//
// Addresses are hashed into a fixed table of buckets, so memory is bounded
// whatever the number of clients; two addresses sharing a bucket share its
// limits, which errs on the safe side and, with 65,536 buckets, is rare.
#ifndef TFTPD_SERVER_ENGINE_ADDRESS_GUARD_H_
#define TFTPD_SERVER_ENGINE_ADDRESS_GUARD_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "io/socket_address.h"
#include "server/api/server_config.h"

namespace tftpd {

class AddressGuard {
 public:
  using Clock = std::chrono::steady_clock;
  explicit AddressGuard(const AddressLimits& limits, size_t buckets = 1 << 16);

  // Whether `address` may have one more answered transfer. Shards check and
  // count separately, so a burst on several shards at once may pass the
  // limit by at most one transfer per shard.
  bool TransferAllowed(const io::SocketAddress& address);
  void AddTransfer(const io::SocketAddress& address);
  void EndTransfer(const io::SocketAddress& address);
  // A request from `address` (and its port) at `now`; false when over the
  // rate.
  bool AllowRequest(const io::SocketAddress& address, Clock::time_point now);
  // `address` answered (a valid packet on a transfer's socket).
  void Verified(const io::SocketAddress& address, Clock::time_point now);
  // Whether `bytes` more may go to `address`, which has not answered on the
  // transfer at hand; counts them when so.
  bool AllowUnverified(const io::SocketAddress& address, uint32_t bytes,
                       Clock::time_point now);

 private:
  struct Bucket {
    std::atomic<uint32_t> transfers{0};
    // (window start second << 32) | requests in that window (1 s).
    std::atomic<uint64_t> requests{0};
    // (window start second << 32) | bytes sent unverified in it (60 s).
    std::atomic<uint64_t> unverified{0};
    // Until when (seconds of Clock) the address counts as answering.
    std::atomic<int64_t> verified_until{0};
  };
  Bucket& For(const io::SocketAddress& address);
  // The bucket of `address` and its port (requests per second).
  Bucket& ForPort(const io::SocketAddress& address);
  // Adds `n` to the count of the window (of `window` seconds) that `now`
  // falls in, if that stays within `limit`.
  static bool CountWithin(std::atomic<uint64_t>& slot, uint32_t now,
                          uint32_t window, uint32_t n, uint32_t limit);

  const AddressLimits limits_;
  const size_t mask_;
  std::unique_ptr<Bucket[]> buckets_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_ADDRESS_GUARD_H_
