#include "server/uploads/disk_upload_sink.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tftpd {
namespace {

absl::Status WriteError(int error) {
  if (error == ENOSPC || error == EDQUOT || error == EFBIG) {
    return absl::ResourceExhaustedError("disk full or allocation exceeded");
  }
  return absl::ErrnoToStatus(error, "cannot write the upload");
}

absl::Status CreateError(int error) {
  return error == EACCES || error == EPERM || error == EROFS
             ? absl::PermissionDeniedError("the directory is not writable")
             : WriteError(error);
}

// The status for a refused upload, with the TFTP code it maps to.
absl::Status Refusal(const OpenedDirectory& dir) {
  switch (dir.error) {
    case tftp::ErrorCode::kFileNotFound:
      return absl::NotFoundError(dir.message);
    case tftp::ErrorCode::kAccessViolation:
      return absl::PermissionDeniedError(dir.message);
    default:
      return absl::UnknownError(dir.message);
  }
}

// RENAME_NOREPLACE, or where the file system lacks it, a hard link (which
// also never replaces) and the temporary name removed.
int RenameWithoutReplacing(int dir, const char* from, const char* to) {
#ifdef RENAME_NOREPLACE
  if (renameat2(dir, from, dir, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
#endif
  if (linkat(dir, from, dir, to, 0) != 0) return -1;
  unlinkat(dir, from, 0);
  return 0;
}

// The temporary file is made with the first block, not with the request:
// a forged WRQ, which never sends a block, leaves nothing on disk.
class DiskUploadSink : public UploadSink {
 public:
  DiskUploadSink(int dir, std::string leaf, std::string temporary,
                 const DiskUploadPolicy& policy, mode_t mode)
      : dir_(dir),
        leaf_(std::move(leaf)),
        temporary_(std::move(temporary)),
        policy_(policy),
        mode_(mode) {}

  ~DiskUploadSink() override {
    Abandon();
    close(dir_);
  }

  absl::Status Write(uint64_t offset,
                     absl::Span<const uint8_t> bytes) override {
    if (absl::Status made = MakeTemporary(); !made.ok()) return made;
    while (!bytes.empty()) {
      const ssize_t n =
          pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return WriteError(n < 0 ? errno : ENOSPC);
      bytes.remove_prefix(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
    }
    return absl::OkStatus();
  }

  absl::Status Commit(uint64_t size) override {
    if (abandoned_) return absl::FailedPreconditionError("upload abandoned");
    if (absl::Status made = MakeTemporary(); !made.ok()) return made;
    // Nothing is renamed into place before its bytes are on disk.
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0 || fsync(fd_) != 0 ||
        fchmod(fd_, mode_) != 0) {
      const absl::Status error = WriteError(errno);
      Abandon();
      return error;
    }
    const int renamed =
        policy_.overwrite
            ? renameat(dir_, temporary_.c_str(), dir_, leaf_.c_str())
            : RenameWithoutReplacing(dir_, temporary_.c_str(), leaf_.c_str());
    if (renamed != 0) {
      const int error = errno;
      Abandon();
      if (error == EEXIST) {
        return absl::AlreadyExistsError("file already exists");
      }
      if (error == EISDIR || error == ENOTDIR) {
        return absl::PermissionDeniedError("not a regular file");
      }
      return WriteError(error);
    }
    close(fd_);
    fd_ = -1;
    abandoned_ = true;  // Done: nothing left to remove.
    fsync(dir_);        // The new name itself survives a crash.
    return absl::OkStatus();
  }

  void Abandon() override {
    abandoned_ = true;
    if (fd_ < 0) return;
    unlinkat(dir_, temporary_.c_str(), 0);
    close(fd_);
    fd_ = -1;
  }

 private:
  absl::Status MakeTemporary() {
    if (abandoned_) return absl::FailedPreconditionError("upload abandoned");
    if (fd_ >= 0) return absl::OkStatus();
    fd_ = openat(dir_, temporary_.c_str(),
                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) return CreateError(errno);
    return absl::OkStatus();
  }

  const int dir_;
  int fd_ = -1;  // The temporary file, once the first block came.
  bool abandoned_ = false;
  const std::string leaf_;
  const std::string temporary_;
  const DiskUploadPolicy policy_;
  const mode_t mode_;  // The file's, once renamed into place.
};

}  // namespace

absl::StatusOr<std::unique_ptr<UploadSink>> OpenDiskUpload(
    const RootDirectory& root, absl::string_view name,
    const DiskUploadPolicy& policy) {
  const OpenedDirectory dir = root.OpenParentDirectory(name);
  if (!dir.ok()) return Refusal(dir);
  auto refuse = [&dir](absl::Status status) {
    close(dir.fd);
    return status;
  };
  // A new file's mode comes from the umask; a replaced file keeps its own.
  mode_t mode = 0666 & ~policy.umask;
  struct stat existing;
  if (fstatat(dir.fd, dir.leaf.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!S_ISREG(existing.st_mode)) {
      return refuse(absl::PermissionDeniedError("not a regular file"));
    }
    if (!policy.overwrite) {
      return refuse(absl::AlreadyExistsError("file already exists"));
    }
    if ((existing.st_mode & S_IWOTH) == 0 && !policy.overwrite_any) {
      // As tftpd-hpa: a file the world may not write is not the world's to
      // replace (pxelinux.0, a kernel).
      return refuse(absl::PermissionDeniedError("file is not world-writable"));
    }
    // Never the set-user-ID, set-group-ID or sticky bits: the content is
    // the network's now (the kernel clears the first two on a write by a
    // process without CAP_FSETID; tftpd may run as root).
    mode = existing.st_mode & 0777;
  } else if (errno != ENOENT) {
    return refuse(absl::ErrnoToStatus(errno, "cannot upload"));
  } else if (!policy.create) {
    return refuse(
        absl::NotFoundError("file not found (new files need --create)"));
  }
  // Refused now, not at the first block, when the directory is not ours
  // to write: the client learns it from its WRQ's answer.
  if (faccessat(dir.fd, ".", W_OK, AT_EACCESS) != 0) {
    return refuse(CreateError(errno));
  }
  uint64_t random = 0;
  if (getrandom(&random, sizeof random, 0) != sizeof random) {
    random =
        static_cast<uint64_t>(getpid()) ^ reinterpret_cast<uintptr_t>(&random);
  }
  const std::string temporary =
      absl::StrFormat("%s%016x", kUploadTemporaryPrefix, random);
  return std::make_unique<DiskUploadSink>(dir.fd, dir.leaf, temporary, policy,
                                          mode);
}

namespace {

bool IsUploadTemporary(absl::string_view name) {
  constexpr size_t kPrefix = sizeof kUploadTemporaryPrefix - 1;
  if (name.size() != kPrefix + 16 ||
      !absl::StartsWith(name, kUploadTemporaryPrefix)) {
    return false;
  }
  for (char c : name.substr(kPrefix)) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  return true;
}

// Takes `dir` (closed here).
size_t RemoveLeftoversIn(int dir, int depth_left) {
  DIR* listing = fdopendir(dir);
  if (listing == nullptr) {
    close(dir);
    return 0;
  }
  size_t removed = 0;
  while (const struct dirent* entry = readdir(listing)) {
    const absl::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat info;
    if (fstatat(dirfd(listing), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) !=
        0) {
      continue;
    }
    if (S_ISREG(info.st_mode) && IsUploadTemporary(name)) {
      if (unlinkat(dirfd(listing), entry->d_name, 0) == 0) ++removed;
    } else if (S_ISDIR(info.st_mode) && depth_left > 0) {
      const int child = openat(dirfd(listing), entry->d_name,
                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child >= 0) removed += RemoveLeftoversIn(child, depth_left - 1);
    }
  }
  closedir(listing);
  return removed;
}

}  // namespace

size_t RemoveUploadLeftovers(const std::string& path, int max_depth) {
  const int dir = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  return RemoveLeftoversIn(dir, max_depth);
}

tftp::ErrorCode UploadErrorCode(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
      return tftp::ErrorCode::kDiskFull;
    case absl::StatusCode::kAlreadyExists:
      return tftp::ErrorCode::kFileExists;
    case absl::StatusCode::kPermissionDenied:
      return tftp::ErrorCode::kAccessViolation;
    case absl::StatusCode::kNotFound:
      return tftp::ErrorCode::kFileNotFound;
    default:
      return tftp::ErrorCode::kNotDefined;
  }
}

}  // namespace tftpd
