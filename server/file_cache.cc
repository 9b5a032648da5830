#include "server/file_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "protocol/netascii.h"

namespace tftpd {

const std::vector<uint8_t>* SharedFile::NetasciiImage(uint64_t max_size) {
  if (netascii_ == nullptr) {
    const uint64_t encoded = tftp::NetasciiEncodedSize(bytes());
    if (encoded > max_size) return nullptr;
    auto image = std::make_unique<std::vector<uint8_t>>(encoded);
    tftp::NetasciiEncoder encoder;
    encoder.Encode(bytes(), absl::MakeSpan(*image));
    netascii_ = std::move(image);
  }
  return netascii_.get();
}

FileVersion FileVersion::Of(const struct stat& info) {
  return FileVersion{
      info.st_dev, info.st_ino, info.st_size,
      int64_t{info.st_mtim.tv_sec} * 1'000'000'000 + info.st_mtim.tv_nsec};
}

absl::StatusOr<SharedFile*> FileCache::Acquire(int fd,
                                               const struct stat& info) {
  const FileVersion key = FileVersion::Of(info);
  auto it = files_.find(key);
  if (it != files_.end()) {
    close(fd);
    ++it->second->references_;
    return it->second.get();
  }
  auto file = std::make_unique<SharedFile>();
  file->version_ = key;
  file->size_ = static_cast<size_t>(info.st_size);
  if (file->size_ > 0) {
    void* data = mmap(nullptr, file->size_, PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) {
      const int error = errno;
      close(fd);
      return absl::ErrnoToStatus(error, "mmap");
    }
    // Start reading ahead now: the sends fault the pages in otherwise.
    madvise(data, file->size_, MADV_WILLNEED);
    file->data_ = static_cast<const uint8_t*>(data);
  }
  close(fd);
  file->references_ = 1;
  SharedFile* raw = file.get();
  files_.emplace(key, std::move(file));
  return raw;
}

void FileCache::Release(SharedFile* file) {
  if (--file->references_ > 0) return;
  if (file->data_ != nullptr) {
    munmap(const_cast<uint8_t*>(file->data_), file->size_);
  }
  files_.erase(file->version_);
}

FileCache::~FileCache() {
  for (auto& [version, file] : files_) {
    if (file->data_ != nullptr) {
      munmap(const_cast<uint8_t*>(file->data_), file->size_);
    }
  }
}

}  // namespace tftpd
