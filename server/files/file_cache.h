// Files being served, mapped read-only and shared by every transfer of one
// shard that serves the same version of the same file: the DATA path sends
// straight from the mapping, so file bytes go from the page cache into the
// packet with no copy in user space. A file is identified by device, inode,
// size and modification time, so a replaced or rewritten file gets a new
// mapping while transfers of the old one finish undisturbed.
#ifndef TFTPD_SERVER_FILES_FILE_CACHE_H_
#define TFTPD_SERVER_FILES_FILE_CACHE_H_

#include <sys/stat.h>

#include <cstdint>
#include <list>
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

 private:
  friend class FileCache;
  FileVersion version_{};
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int references_ = 0;
  std::unique_ptr<std::vector<uint8_t>> netascii_;
  // Unreferenced mappings stay, least recently used first out.
  std::list<SharedFile*>::iterator idle_position_;
  bool idle_ = false;
};

class FileCache {
 public:
  // Netascii images (each up to twice its file) take at most
  // `netascii_budget` bytes in all.
  explicit FileCache(uint64_t netascii_budget = 64 << 20)
      : netascii_budget_(netascii_budget) {}
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;
  ~FileCache();

  // The mapping of this file version with one more reference, or null when
  // there is none yet (map it with a FileLoader, then Adopt it).
  SharedFile* Find(const struct stat& info);
  // Whether that version is here (takes no reference).
  bool Holds(const struct stat& info) const {
    return files_.contains(FileVersion::Of(info));
  }
  // Takes `data`, the read-only mapping of the whole file (null for an empty
  // file), unless a mapping of that version appeared meanwhile (then `data`
  // is unmapped); returns the version's mapping with one more reference.
  SharedFile* Adopt(const struct stat& info, const uint8_t* data);
  void Retain(SharedFile* file) { ++file->references_; }
  // Drops a reference. A mapping nothing references stays for the next
  // request (boot files are asked for again and again, and mapping a file
  // means a trip to the loader) until kMaxIdle others are newer.
  void Release(SharedFile* file);

  static constexpr size_t kMaxIdle = 256;

  // `file` in netascii (LF as CR LF, CR as CR NUL), built on first use and
  // kept with the mapping. ResourceExhausted when it would be larger than
  // `max_size`; Unavailable when the images of files in use fill the
  // budget (images of idle files make room first); DataLoss when the file
  // shrank under its mapping (rewritten in place), which is noticed instead
  // of faulting the process (SIGBUS).
  absl::StatusOr<const std::vector<uint8_t>*> NetasciiImage(SharedFile* file,
                                                            uint64_t max_size);
  uint64_t netascii_bytes() const { return netascii_bytes_; }
  // Images of idle files dropped to make room for others.
  uint64_t netascii_images_dropped() const { return netascii_images_dropped_; }

 private:
  void Unmap(SharedFile* file);
  // Drops idle files' images, least recently used first, until `bytes`
  // more fit the budget; false when they cannot.
  bool MakeNetasciiRoom(uint64_t bytes);
  void DropNetascii(SharedFile* file);

  const uint64_t netascii_budget_;
  uint64_t netascii_bytes_ = 0;
  uint64_t netascii_images_dropped_ = 0;

  absl::flat_hash_map<FileVersion, std::unique_ptr<SharedFile>> files_;
  std::list<SharedFile*> idle_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_FILES_FILE_CACHE_H_
