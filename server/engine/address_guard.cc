#include "server/engine/address_guard.h"

#include "absl/hash/hash.h"

namespace tftpd {
namespace {

// An address that answered stays trusted this long: its later transfers are
// not held to the unverified budget.
constexpr int64_t kVerifiedSeconds = 300;

int64_t Seconds(AddressGuard::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch())
      .count();
}

size_t RoundUpToPowerOfTwo(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

AddressGuard::AddressGuard(const AddressLimits& limits, size_t buckets)
    : limits_(limits),
      mask_(RoundUpToPowerOfTwo(buckets) - 1),
      buckets_(new Bucket[mask_ + 1]) {}

AddressGuard::Bucket& AddressGuard::For(const io::SocketAddress& address) {
  io::SocketAddress host = address.Unmapped();
  host.set_port(0);
  return buckets_[absl::HashOf(host) & mask_];
}

AddressGuard::Bucket& AddressGuard::ForPort(const io::SocketAddress& address) {
  return buckets_[absl::HashOf(address.Unmapped()) & mask_];
}

bool AddressGuard::TransferAllowed(const io::SocketAddress& address) {
  return limits_.max_transfers == 0 ||
         For(address).transfers.load(std::memory_order_relaxed) <
             limits_.max_transfers;
}

void AddressGuard::AddTransfer(const io::SocketAddress& address) {
  For(address).transfers.fetch_add(1, std::memory_order_relaxed);
}

void AddressGuard::EndTransfer(const io::SocketAddress& address) {
  For(address).transfers.fetch_sub(1, std::memory_order_relaxed);
}

bool AddressGuard::CountWithin(std::atomic<uint64_t>& slot, uint32_t now,
                               uint32_t window, uint32_t n, uint32_t limit) {
  uint64_t current = slot.load(std::memory_order_relaxed);
  while (true) {
    // A window opens with the first count after the previous one closed, so
    // that the `window` seconds from then see at most `limit`.
    uint32_t start = static_cast<uint32_t>(current >> 32);
    uint64_t count = current & 0xffffffffu;
    if (current == 0 || now - start >= window) {
      start = now;
      count = 0;
    }
    if (count + n > limit) return false;
    const uint64_t next = (uint64_t{start} << 32) | (count + n);
    if (slot.compare_exchange_weak(current, next, std::memory_order_relaxed)) {
      return true;
    }
  }
}

bool AddressGuard::AllowRequest(const io::SocketAddress& address,
                                Clock::time_point now) {
  if (limits_.requests_per_second == 0) return true;
  return CountWithin(ForPort(address).requests,
                     static_cast<uint32_t>(Seconds(now)), 1, 1,
                     limits_.requests_per_second);
}

void AddressGuard::Verified(const io::SocketAddress& address,
                            Clock::time_point now) {
  For(address).verified_until.store(Seconds(now) + kVerifiedSeconds,
                                    std::memory_order_relaxed);
}

bool AddressGuard::AllowUnverified(const io::SocketAddress& address,
                                   uint32_t bytes, Clock::time_point now) {
  if (limits_.unverified_bytes == 0) return true;
  Bucket& b = For(address);
  if (b.verified_until.load(std::memory_order_relaxed) > Seconds(now)) {
    return true;
  }
  return CountWithin(b.unverified, static_cast<uint32_t>(Seconds(now)), 60,
                     bytes, limits_.unverified_bytes);
}

}  // namespace tftpd
