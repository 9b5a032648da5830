// Maps files and reads them into memory on threads of their own, so that a
// shard never waits for a disk: the first request for a file version opens
// it on the shard (a metadata lookup), hands the descriptor here and waits
// without holding the shard; mmap with MAP_POPULATE then faults every page
// in (reading the file if it is not cached) on a loader thread, and later
// sends from the mapping find the pages resident.
#ifndef TFTPD_SERVER_FILES_FILE_LOADER_H_
#define TFTPD_SERVER_FILES_FILE_LOADER_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "server/api/worker_pool.h"

namespace tftpd {

class FileLoader {
 public:
  // `data` is the read-only mapping of `size` bytes, or null with `error`
  // (an errno value).
  using Done = std::function<void(const uint8_t* data, int error)>;

  explicit FileLoader(int threads);
  // Jobs not started are dropped (their descriptors closed, `done` not
  // called); jobs running finish and call `done`.
  ~FileLoader();

  // Takes ownership of `fd`. `done` runs on a loader thread.
  void Load(int fd, size_t size, Done done);

 private:
  struct Job {
    int fd = -1;
    size_t size = 0;
    Done done;
  };
  static void Map(Job& job);

  WorkerPool<Job> pool_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_FILES_FILE_LOADER_H_
