// Runs uploads' commits and abandons on threads of their own: they may block
// (fsync, rename, a database round trip) and a shard never waits for them.
// The shard withholds the client's final ACK until the commit reports.
#ifndef TFTPD_SERVER_UPLOADS_UPLOAD_COMMITTER_H_
#define TFTPD_SERVER_UPLOADS_UPLOAD_COMMITTER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "server/api/upload_sink.h"
#include "server/api/worker_pool.h"

namespace tftpd {

// A commit handed to the committer, shared by the shard that waits for it
// and the thread that runs it: until it begins it may be withdrawn (its
// upload then never appears, and the client may be told so); once begun, its
// outcome is what the client hears.
class CommitTicket {
 public:
  // Committer thread: the commit begins, unless it was withdrawn.
  bool Begin() { return Move(kWaiting, kRunning); }
  // Any thread: withdraws a commit that has not begun; false once it has.
  bool Withdraw() { return Move(kWaiting, kWithdrawn); }

 private:
  enum : uint8_t { kWaiting, kRunning, kWithdrawn };
  bool Move(uint8_t from, uint8_t to) {
    return state_.compare_exchange_strong(from, to);
  }
  std::atomic<uint8_t> state_{kWaiting};
};

class UploadCommitter {
 public:
  using Done = std::function<void(const absl::Status& status)>;

  // At most `max_queued` commits wait for a thread; more are refused.
  UploadCommitter(int threads, size_t max_queued);
  // Jobs still queued are abandoned (commits included: nothing their
  // clients were not told of becomes visible; `done` is not called); jobs
  // running finish.
  ~UploadCommitter();

  // sink->Commit(size), then `done` with its outcome, on a committer
  // thread; its ticket, by which it may be withdrawn until it begins (a
  // withdrawn commit abandons its sink, and `done` is not called). Null
  // (nothing done) when max_queued commits wait already: the store is
  // slower than uploads arrive, and a client that is told so can try again,
  // while a queue without a bound would hold every upload.
  std::shared_ptr<CommitTicket> Commit(std::shared_ptr<UploadSink> sink,
                                       uint64_t size, Done done);
  // sink->Abandon() on a committer thread (never refused: each transfer
  // abandons at most once, so these are bounded by the transfer table).
  void Abandon(std::shared_ptr<UploadSink> sink);

 private:
  struct Job {
    std::shared_ptr<UploadSink> sink;
    uint64_t size = 0;
    Done done;                             // Empty for an abandon.
    std::shared_ptr<CommitTicket> ticket;  // A commit's.
  };
  static void Run(Job& job);

  const size_t max_queued_;
  WorkerPool<Job> pool_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_UPLOADS_UPLOAD_COMMITTER_H_
