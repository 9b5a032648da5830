#include "server/file_loader.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

namespace tftpd {

FileLoader::FileLoader(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

FileLoader::~FileLoader() {
  std::deque<Job> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    dropped.swap(jobs_);
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
  for (Job& job : dropped) close(job.fd);
}

void FileLoader::Load(int fd, size_t size, Done done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(Job{fd, size, std::move(done)});
  }
  wake_.notify_one();
}

void FileLoader::Run() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
#ifdef MAP_POPULATE
    constexpr int kFlags = MAP_SHARED | MAP_POPULATE;
#else
    constexpr int kFlags = MAP_SHARED;
#endif
    void* data = mmap(nullptr, job.size, PROT_READ, kFlags, job.fd, 0);
    const int error = data == MAP_FAILED ? errno : 0;
    close(job.fd);
    if (data == MAP_FAILED) {
      job.done(nullptr, error);
      continue;
    }
#ifndef MAP_POPULATE
    // Elsewhere: read every page in here, not on the first send.
    volatile uint8_t sink = 0;
    const long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < job.size; i += static_cast<size_t>(page)) {
      sink = sink + static_cast<const uint8_t*>(data)[i];
    }
#endif
    job.done(static_cast<const uint8_t*>(data), 0);
  }
}

}  // namespace tftpd
