#include "server/files/file_cache.h"

#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "protocol/netascii.h"

namespace tftpd {

namespace {

// Copies bytes of a file mapping without reading them in user space: a page
// past the file's current end (the file was truncated after it was mapped)
// fails the copy with EFAULT, where touching it would raise SIGBUS and end
// the process. False when the copy came up short.
bool CopyFromMapping(absl::Span<const uint8_t> from, uint8_t* to) {
  size_t done = 0;
  while (done < from.size()) {
    iovec local{to + done, from.size() - done};
    iovec remote{const_cast<uint8_t*>(from.data()) + done, from.size() - done};
    const ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
      // Refused by a seccomp profile: copy directly (the risk it avoids
      // is a file rewritten in place while being read).
      std::memcpy(to + done, from.data() + done, from.size() - done);
      return true;
    }
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::StatusOr<const std::vector<uint8_t>*> FileCache::NetasciiImage(
    SharedFile* file, uint64_t max_size) {
  if (file->netascii_ != nullptr) return file->netascii_.get();
  // The encoding is never shorter than the file: refuse large files before
  // reading them.
  if (file->size_ > max_size) {
    return absl::ResourceExhaustedError("file too large for netascii mode");
  }
  std::vector<uint8_t> raw(file->size_);
  if (!CopyFromMapping(file->bytes(), raw.data())) {
    return absl::DataLossError("file changed while being read");
  }
  const uint64_t encoded = tftp::NetasciiEncodedSize(raw);
  if (encoded > max_size) {
    return absl::ResourceExhaustedError("file too large for netascii mode");
  }
  if (!MakeNetasciiRoom(encoded)) {
    return absl::UnavailableError(
        "netascii images fill their memory budget; try again");
  }
  auto image = std::make_unique<std::vector<uint8_t>>(encoded);
  tftp::NetasciiEncoder encoder;
  encoder.Encode(raw, absl::MakeSpan(*image));
  file->netascii_ = std::move(image);
  netascii_bytes_ += encoded;
  return file->netascii_.get();
}

bool FileCache::MakeNetasciiRoom(uint64_t bytes) {
  for (auto it = idle_.begin();
       it != idle_.end() && netascii_bytes_ + bytes > netascii_budget_; ++it) {
    if ((*it)->netascii_ != nullptr) {
      DropNetascii(*it);
      ++netascii_images_dropped_;
    }
  }
  return netascii_bytes_ + bytes <= netascii_budget_;
}

void FileCache::DropNetascii(SharedFile* file) {
  if (file->netascii_ == nullptr) return;
  netascii_bytes_ -= file->netascii_->size();
  file->netascii_.reset();
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
  DropNetascii(file);
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
