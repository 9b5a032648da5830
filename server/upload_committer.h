// Runs uploads' commits and abandons on threads of their own: they may block
// (fsync, rename, a database round trip) and a shard never waits for them.
// The shard withholds the client's final ACK until the commit reports.
#ifndef TFTPD_SERVER_UPLOAD_COMMITTER_H_
#define TFTPD_SERVER_UPLOAD_COMMITTER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "server/upload_sink.h"

namespace tftpd {

class UploadCommitter {
 public:
  using Done = std::function<void(const absl::Status& status)>;

  explicit UploadCommitter(int threads);
  // Jobs still queued are abandoned (commits included: nothing their
  // clients were not told of becomes visible; `done` is not called); jobs
  // running finish.
  ~UploadCommitter();

  // sink->Commit(size), then `done` with its outcome, on a committer thread.
  void Commit(std::shared_ptr<UploadSink> sink, uint64_t size, Done done);
  // sink->Abandon() on a committer thread.
  void Abandon(std::shared_ptr<UploadSink> sink);

 private:
  struct Job {
    std::shared_ptr<UploadSink> sink;
    uint64_t size = 0;
    Done done;  // Empty for an abandon.
  };
  void Run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;  // Guarded by mutex_.
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_UPLOAD_COMMITTER_H_
