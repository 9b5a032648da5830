#include "server/file_cache.h"

#include <sys/mman.h>
#include <unistd.h>


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

SharedFile* FileCache::Find(const struct stat& info) {
  auto it = files_.find(FileVersion::Of(info));
  if (it == files_.end()) return nullptr;
  SharedFile* file = it->second.get();
  if (file->idle_) {
    idle_.erase(file->idle_position_);
    file->idle_ = false;
  }
  ++file->references_;
  return file;
}

SharedFile* FileCache::Adopt(const struct stat& info, const uint8_t* data) {
  const size_t size = static_cast<size_t>(info.st_size);
  if (SharedFile* existing = Find(info)) {
    if (data != nullptr) munmap(const_cast<uint8_t*>(data), size);
    return existing;
  }
  auto file = std::make_unique<SharedFile>();
  file->version_ = FileVersion::Of(info);
  file->size_ = size;
  file->data_ = data;
  file->references_ = 1;
  SharedFile* raw = file.get();
  files_.emplace(file->version_, std::move(file));
  return raw;
}

void FileCache::Release(SharedFile* file) {
  if (--file->references_ > 0) return;
  file->idle_ = true;
  file->idle_position_ = idle_.insert(idle_.end(), file);
  if (idle_.size() > kMaxIdle) {
    SharedFile* oldest = idle_.front();
    idle_.pop_front();
    Unmap(oldest);
  }
}

void FileCache::Unmap(SharedFile* file) {
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
