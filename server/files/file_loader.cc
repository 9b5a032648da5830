#include "server/files/file_loader.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace tftpd {

FileLoader::FileLoader(int threads)
    : pool_(threads, &FileLoader::Map, [](Job& job) { close(job.fd); }) {}

FileLoader::~FileLoader() = default;

void FileLoader::Load(int fd, size_t size, Done done) {
  pool_.Post(Job{fd, size, std::move(done)});
}

void FileLoader::Map(Job& job) {
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
    return;
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

}  // namespace tftpd
