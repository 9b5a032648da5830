// What other threads hand a shard: requests the listener shard received for
// it, a stream's progress, a file the loader mapped, an upload's commit. One
// queue for every producer, under one lock; a message posted to an empty
// queue wakes the shard's loop, which takes them all at once.
#ifndef TFTPD_SERVER_ENGINE_INBOX_H_
#define TFTPD_SERVER_ENGINE_INBOX_H_

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "io/socket_address.h"
#include "protocol/tftp.h"
#include "server/engine/snapshot_collector.h"

namespace tftpd {

// A request received by the listener shard for another (single-listener
// mode), copied because the receive buffer is reused at once.
struct HandedRequest {
  std::string bytes;
  io::SocketAddress source;
  io::SocketAddress destination;
  bool truncated = false;
};

// A streaming response's state changed.
struct StreamProgress {
  uint32_t index;
  uint32_t generation;
};

// A mapping the loader finished, for the transfer that asked.
struct FileLoaded {
  uint32_t index;
  uint32_t generation;
  struct stat info;
  const uint8_t* data;  // Null when mapping failed.
  int error;
};

// An upload's commit, reported by the committer. Plain values: an
// absl::Status would share its message between the two threads.
struct CommitDone {
  uint32_t index;
  uint32_t generation;
  bool ok;
  tftp::ErrorCode code;
  std::string message;
};

// A request for the shard's transfers in progress (Server::Transfers).
struct SnapshotRequest {
  std::shared_ptr<SnapshotCollector> collector;
};

// Another shard, full and holding only answered transfers, opened one
// beyond the limit: evict an unanswered transfer if the server is still
// over it.
struct EvictionRequest {};

using InboxMessage = std::variant<HandedRequest, StreamProgress, FileLoaded,
                                  CommitDone, SnapshotRequest, EvictionRequest>;

class Inbox {
 public:
  // `wake` (any thread) makes the shard's loop take the messages.
  explicit Inbox(std::function<void()> wake) : wake_(std::move(wake)) {}

  // Any thread.
  void Post(InboxMessage message) {
    bool first;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      first = messages_.empty();
      messages_.push_back(std::move(message));
    }
    if (first) wake_();
  }

  // The listener's thread: a request for this shard, unless kMaxHanded
  // requests or kMaxHandedBytes wait already (the shard is behind; a
  // client's repeat will come). Every other message is bounded by the
  // transfers that asked for it; these come from the network.
  bool PostRequest(HandedRequest request) {
    bool first;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (handed_ >= kMaxHanded ||
          handed_bytes_ + request.bytes.size() > kMaxHandedBytes) {
        return false;
      }
      ++handed_;
      handed_bytes_ += request.bytes.size();
      first = messages_.empty();
      messages_.push_back(std::move(request));
    }
    if (first) wake_();
    return true;
  }

  // The shard's thread: every message posted so far, in order.
  std::vector<InboxMessage> Take() {
    std::vector<InboxMessage> taken;
    std::lock_guard<std::mutex> lock(mutex_);
    taken.swap(messages_);
    handed_ = 0;
    handed_bytes_ = 0;
    return taken;
  }

  static constexpr size_t kMaxHanded = 4096;
  static constexpr size_t kMaxHandedBytes = 16 << 20;

 private:
  const std::function<void()> wake_;
  std::mutex mutex_;
  std::vector<InboxMessage> messages_;  // Guarded by mutex_, as are:
  size_t handed_ = 0;                   // HandedRequests in messages_,
  size_t handed_bytes_ = 0;             // and their bytes.
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_INBOX_H_
