// The served root, and the one way to open a file beneath it.
//
// Names are resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
// where the kernel has it (Linux 5.6): no escape by "..", by an absolute path,
// or by a symlink pointing outside, while symlinks that stay inside work.
// Without openat2, a portable walk opens one component at a time with
// O_NOFOLLOW and refuses ".." and symlinks altogether. Leading slashes are
// ignored: "/pxelinux.0" names the file at the root, as clients mean it. Only
// regular files are opened.
#ifndef TFTPD_SERVER_FILES_ROOT_DIRECTORY_H_
#define TFTPD_SERVER_FILES_ROOT_DIRECTORY_H_

#include <sys/stat.h>

#include <atomic>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "protocol/tftp.h"

namespace tftpd {

struct OpenedFile {
  int fd = -1;  // Read-only; the caller closes it.
  struct stat info {};
  // When fd < 0: the ERROR to answer with.
  tftp::ErrorCode error = tftp::ErrorCode::kNotDefined;
  std::string message;
  // The caller already held the version found (see OpenFile): nothing was
  // opened, fd is -1 and `info` says which version it is.
  bool already_held = false;

  bool ok() const { return fd >= 0 || already_held; }
};

// The directory an upload's file lives in, and the file's name there.
struct OpenedDirectory {
  int fd = -1;  // O_DIRECTORY, read-only; the caller closes it.
  std::string leaf;
  // When fd < 0: the ERROR to answer with.
  tftp::ErrorCode error = tftp::ErrorCode::kNotDefined;
  std::string message;

  bool ok() const { return fd >= 0; }
};

class RootDirectory {
 public:
  enum class Resolver { kAuto, kPortable };

  static absl::StatusOr<RootDirectory> Open(
      const std::string& path, Resolver resolver = Resolver::kAuto);
  RootDirectory(RootDirectory&& other) noexcept;
  RootDirectory& operator=(RootDirectory&& other) noexcept;
  RootDirectory(const RootDirectory&) = delete;
  RootDirectory& operator=(const RootDirectory&) = delete;
  ~RootDirectory();

  // Opens `name` (as a client sent it) for reading. When `already_held`
  // says the caller holds the version found (a cache of mapped files), the
  // file is checked but not opened: one open, stat and close fewer.
  OpenedFile OpenFile(
      absl::string_view name,
      absl::FunctionRef<bool(const struct stat&)> already_held =
          [](const struct stat&) { return false; }) const;
  // For an upload of `name`: opens the directory it would live in, resolved
  // beneath the root as reads are (no directory is ever created).
  OpenedDirectory OpenParentDirectory(absl::string_view name) const;
  const std::string& path() const { return path_; }
  bool uses_openat2() const { return use_openat2_.load(); }
  // By default only files everyone may read are served (set before serving).
  void set_world_readable_only(bool only) { world_readable_only_ = only; }
  bool world_readable_only() const { return world_readable_only_; }

 private:
  RootDirectory(int fd, std::string path, bool use_openat2)
      : fd_(fd), path_(std::move(path)), use_openat2_(use_openat2) {}
  OpenedFile OpenWithOpenat2(
      const std::string& name,
      absl::FunctionRef<bool(const struct stat&)> already_held) const;
  OpenedFile OpenPortably(
      const std::string& name,
      absl::FunctionRef<bool(const struct stat&)> already_held) const;

  int fd_ = -1;
  std::string path_;
  // Cleared for good when the kernel answers ENOSYS (shards share the root).
  mutable std::atomic<bool> use_openat2_{true};
  bool world_readable_only_ = true;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_FILES_ROOT_DIRECTORY_H_
