#include "server/engine/recent_transfers.h"

namespace tftpd {

size_t RecentTransfers::Remember(const io::SocketAddress& key,
                                 size_t fingerprint, io::TimePoint now) {
  if (capacity_ == 0) return 0;
  Expire(now);
  size_t forgotten = 0;
  while (entries_.size() >= capacity_ && !order_.empty()) {
    // Full: the oldest entry goes, whether or not it has expired.
    const auto [expiry, oldest] = order_.front();
    order_.pop_front();
    auto it = entries_.find(oldest);
    if (it != entries_.end() && it->second.expiry == expiry) {
      entries_.erase(it);
      ++forgotten;
    }
  }
  if (order_.size() >= 2 * capacity_) {
    // Keys remembered again left older places behind: drop those.
    std::erase_if(order_, [this](const auto& place) {
      auto it = entries_.find(place.second);
      return it == entries_.end() || it->second.expiry != place.first;
    });
  }
  const io::TimePoint expiry = now + linger_;
  entries_[key] = Entry{fingerprint, expiry};
  order_.emplace_back(expiry, key);
  return forgotten;
}

bool RecentTransfers::Repeats(const io::SocketAddress& key, size_t fingerprint,
                              io::TimePoint now) {
  Expire(now);
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.fingerprint == fingerprint;
}

void RecentTransfers::Expire(io::TimePoint now) {
  while (!order_.empty() && order_.front().first <= now) {
    const auto [expiry, key] = order_.front();
    order_.pop_front();
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.expiry == expiry) {
      entries_.erase(it);
    }
  }
}

}  // namespace tftpd
