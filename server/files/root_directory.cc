#include "server/files/root_directory.h"

#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_split.h"

namespace tftpd {
namespace {

using tftp::ErrorCode;

OpenedFile Refuse(ErrorCode code, std::string message) {
  OpenedFile out;
  out.error = code;
  out.message = std::move(message);
  return out;
}

// The ERROR for a failed open or stat of a requested name.
OpenedFile RefuseErrno(int error) {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return Refuse(ErrorCode::kFileNotFound, "file not found");
    case EACCES:
    case EPERM:
      return Refuse(ErrorCode::kAccessViolation, "permission denied");
    case EXDEV:
    case ELOOP:
      return Refuse(ErrorCode::kAccessViolation, "path leaves the root");
    case ENAMETOOLONG:
      return Refuse(ErrorCode::kAccessViolation, "file name too long");
    default:
      return Refuse(ErrorCode::kNotDefined, std::strerror(error));
  }
}

#ifdef __linux__
constexpr uint64_t kBeneath = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
int Openat2(int dirfd, const char* path, uint64_t flags, uint64_t resolve) {
  open_how how{};
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}
#else
// No openat2 here: the portable walk is used instead.
constexpr uint64_t kBeneath = 0;
int Openat2(int, const char*, uint64_t, uint64_t) {
  errno = ENOSYS;
  return -1;
}
#endif

// Checks that `path_fd` (an O_PATH descriptor) is a regular file (readable by
// everyone, when `world_readable_only`), then, unless the caller already
// holds that version, opens it for reading through `open_for_read` and
// checks it is still the same file.
template <typename OpenForRead>
OpenedFile OpenRegular(int path_fd, bool world_readable_only,
                       absl::FunctionRef<bool(const struct stat&)> already_held,
                       OpenForRead open_for_read) {
  struct stat before;
  if (fstat(path_fd, &before) != 0) {
    const int error = errno;
    close(path_fd);
    return RefuseErrno(error);
  }
  close(path_fd);
  if (!S_ISREG(before.st_mode)) {
    return Refuse(ErrorCode::kAccessViolation, "not a regular file");
  }
  // As tftpd-hpa: a file its owner did not make public is not served, even
  // to a server running as root (--permissive serves it).
  if (world_readable_only && (before.st_mode & S_IROTH) == 0) {
    return Refuse(ErrorCode::kAccessViolation, "file is not world-readable");
  }
  if (already_held(before)) {
    OpenedFile out;
    out.info = before;
    out.already_held = true;
    return out;
  }
  // O_NONBLOCK: should the name have been swapped for a FIFO meanwhile,
  // opening it must not block the shard.
  const int fd = open_for_read();
  if (fd < 0) return RefuseErrno(errno);
  OpenedFile out;
  if (fstat(fd, &out.info) != 0) {
    const int error = errno;
    close(fd);
    return RefuseErrno(error);
  }
  if (out.info.st_dev != before.st_dev || out.info.st_ino != before.st_ino ||
      !S_ISREG(out.info.st_mode)) {
    close(fd);
    return Refuse(ErrorCode::kNotDefined, "file changed while opening");
  }
  out.fd = fd;
  return out;
}

constexpr int kReadFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

}  // namespace

absl::StatusOr<RootDirectory> RootDirectory::Open(const std::string& path,
                                                  Resolver resolver) {
  const int fd = open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, "cannot open root directory " + path);
  }
  return RootDirectory(fd, path, resolver == Resolver::kAuto);
}

RootDirectory::RootDirectory(RootDirectory&& other) noexcept
    : fd_(other.fd_),
      path_(std::move(other.path_)),
      use_openat2_(other.use_openat2_.load()),
      world_readable_only_(other.world_readable_only_) {
  other.fd_ = -1;
}

RootDirectory& RootDirectory::operator=(RootDirectory&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    use_openat2_ = other.use_openat2_.load();
    world_readable_only_ = other.world_readable_only_;
    other.fd_ = -1;
  }
  return *this;
}

RootDirectory::~RootDirectory() {
  if (fd_ >= 0) close(fd_);
}

OpenedFile RootDirectory::OpenFile(
    absl::string_view name,
    absl::FunctionRef<bool(const struct stat&)> already_held) const {
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  if (name.empty()) {
    return Refuse(ErrorCode::kAccessViolation, "not a regular file");
  }
  const std::string relative(name);
  if (use_openat2_.load(std::memory_order_relaxed)) {
    OpenedFile out = OpenWithOpenat2(relative, already_held);
    if (use_openat2_.load(std::memory_order_relaxed)) return out;
  }
  return OpenPortably(relative, already_held);
}

OpenedFile RootDirectory::OpenWithOpenat2(
    const std::string& name,
    absl::FunctionRef<bool(const struct stat&)> already_held) const {
  constexpr uint64_t kResolve = kBeneath;
  const int path_fd = Openat2(fd_, name.c_str(), O_PATH | O_CLOEXEC, kResolve);
  if (path_fd < 0) {
    if (errno == ENOSYS) {
      use_openat2_ = false;  // Linux < 5.6: the portable walk from now on.
      return {};
    }
    return RefuseErrno(errno);
  }
  return OpenRegular(path_fd, world_readable_only_, already_held, [&] {
    return Openat2(fd_, name.c_str(), kReadFlags, kResolve);
  });
}

OpenedFile RootDirectory::OpenPortably(
    const std::string& name,
    absl::FunctionRef<bool(const struct stat&)> already_held) const {
  std::vector<std::string> parts = absl::StrSplit(name, '/', absl::SkipEmpty());
  std::vector<std::string> components;
  for (std::string& part : parts) {
    if (part == ".") continue;
    if (part == "..") {
      return Refuse(ErrorCode::kAccessViolation, "path leaves the root");
    }
    components.push_back(std::move(part));
  }
  if (components.empty()) {
    return Refuse(ErrorCode::kAccessViolation, "not a regular file");
  }
  // Walk the directories, never following a symlink.
  int dir = dup(fd_);
  if (dir < 0) return RefuseErrno(errno);
  for (size_t i = 0; i + 1 < components.size(); ++i) {
    const int next = openat(dir, components[i].c_str(),
                            O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const int error = errno;
    close(dir);
    if (next < 0) return RefuseErrno(error == ENOTDIR ? ELOOP : error);
    dir = next;
  }
  const std::string& leaf = components.back();
  const int path_fd =
      openat(dir, leaf.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (path_fd < 0) {
    const int error = errno;
    close(dir);
    return RefuseErrno(error);
  }
  struct stat link_check;
  if (fstat(path_fd, &link_check) == 0 && S_ISLNK(link_check.st_mode)) {
    close(path_fd);
    close(dir);
    return Refuse(ErrorCode::kAccessViolation, "symlinks are not followed");
  }
  OpenedFile out = OpenRegular(
      path_fd, world_readable_only_, already_held,
      [&] { return openat(dir, leaf.c_str(), kReadFlags | O_NOFOLLOW); });
  close(dir);
  return out;
}

OpenedDirectory RootDirectory::OpenParentDirectory(
    absl::string_view name) const {
  OpenedDirectory out;
  auto refuse = [&out](const OpenedFile& why) {
    out.error = why.error;
    out.message = why.message;
    return out;
  };
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  const size_t slash = name.rfind('/');
  const std::string parent(slash == absl::string_view::npos
                               ? absl::string_view(".")
                               : name.substr(0, slash));
  out.leaf = std::string(
      slash == absl::string_view::npos ? name : name.substr(slash + 1));
  if (out.leaf.empty() || out.leaf == "." || out.leaf == "..") {
    return refuse(Refuse(ErrorCode::kAccessViolation, "not a file name"));
  }
  constexpr int kDirectoryFlags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  if (use_openat2_.load(std::memory_order_relaxed)) {
    const int fd = Openat2(fd_, parent.c_str(), kDirectoryFlags, kBeneath);
    if (fd >= 0) {
      out.fd = fd;
      return out;
    }
    if (errno != ENOSYS) return refuse(RefuseErrno(errno));
    use_openat2_ = false;
  }
  // The portable walk: no "..", no symlink followed.
  int dir = dup(fd_);
  if (dir < 0) return refuse(RefuseErrno(errno));
  for (absl::string_view part :
       absl::StrSplit(parent, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      close(dir);
      return refuse(
          Refuse(ErrorCode::kAccessViolation, "path leaves the root"));
    }
    const int next = openat(dir, std::string(part).c_str(),
                            O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const int error = errno;
    close(dir);
    if (next < 0) return refuse(RefuseErrno(error == ENOTDIR ? ELOOP : error));
    dir = next;
  }
  out.fd = openat(dir, ".", kDirectoryFlags);
  const int error = errno;
  close(dir);
  if (out.fd < 0) return refuse(RefuseErrno(error));
  return out;
}

}  // namespace tftpd
