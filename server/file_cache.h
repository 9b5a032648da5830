// Files being served, mapped read-only and shared by every session of one
// shard that serves the same version of the same file: the DATA path sends
// straight from the mapping, so file bytes go from the page cache into the
// packet with no copy in user space. A file is identified by device, inode,
// size and modification time, so a replaced or rewritten file gets a new
// mapping while transfers of the old one finish undisturbed.
#ifndef TFTPD_SERVER_FILE_CACHE_H_
#define TFTPD_SERVER_FILE_CACHE_H_

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace tftpd {

// Which version of which file: device, inode, size and modification time.
struct FileVersion {
  dev_t device;
  ino_t inode;
  off_t size;
  int64_t mtime_ns;
  bool operator==(const FileVersion&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const FileVersion& v) {
    return H::combine(std::move(h), v.device, v.inode, v.size, v.mtime_ns);
  }
  static FileVersion Of(const struct stat& info);
};

class SharedFile {
 public:
  absl::Span<const uint8_t> bytes() const { return {data_, size_}; }
  // The file in netascii (LF as CR LF, CR as CR NUL), built on first use.
  // Null when the file is larger than `max_size`.
  const std::vector<uint8_t>* NetasciiImage(uint64_t max_size);

 private:
  friend class FileCache;
  FileVersion version_{};
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int references_ = 0;
  std::unique_ptr<std::vector<uint8_t>> netascii_;
};

class FileCache {
 public:
  FileCache() = default;
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;
  ~FileCache();

  // Takes ownership of `fd` (closed before returning) and returns the shared
  // mapping of that file version with one more reference.
  absl::StatusOr<SharedFile*> Acquire(int fd, const struct stat& info);
  void Retain(SharedFile* file) { ++file->references_; }
  // Drops a reference; the last one unmaps the file.
  void Release(SharedFile* file);

 private:
  absl::flat_hash_map<FileVersion, std::unique_ptr<SharedFile>> files_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_FILE_CACHE_H_
