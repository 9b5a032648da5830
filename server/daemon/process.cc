#include "server/daemon/process.h"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/api/log.h"
#include "server/daemon/flags.h"

namespace tftpd {

// systemd's socket activation, by its documented protocol (sd_listen_fds(3),
// without libsystemd): passed sockets start at descriptor 3, LISTEN_FDS says
// how many, LISTEN_PID that they are for this process. -1 when none.
absl::StatusOr<int> SocketFromSystemd() {
  const char* pid_text = getenv("LISTEN_PID");
  const char* count_text = getenv("LISTEN_FDS");
  if (pid_text == nullptr || count_text == nullptr) return -1;
  int pid = 0;
  int count = 0;
  const bool parsed =
      absl::SimpleAtoi(pid_text, &pid) && absl::SimpleAtoi(count_text, &count);
  // Not for the programs this one might start.
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  if (!parsed || pid != getpid()) return -1;
  if (count != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "systemd passed ", count,
        " sockets; tftpd serves one (a socket unit with one ListenDatagram=)"));
  }
  return 3;
}

// The bundled example root: in the workspace under `bazel run`, else in the
// binary's runfiles, else ./tftproot. Runfiles are symlinks into the source
// tree, which the root confinement would refuse to follow out of the root,
// so the real directory is used.
std::string DefaultRoot() {
  std::vector<std::string> markers;
  if (const char* workspace = getenv("BUILD_WORKSPACE_DIRECTORY")) {
    markers.push_back(absl::StrCat(workspace, "/tftproot/hello.txt"));
  }
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    markers.push_back(absl::StrCat(exe, ".runfiles/tftpd/tftproot/hello.txt"));
  }
  markers.push_back("tftproot/hello.txt");
  for (const std::string& marker : markers) {
    char real[PATH_MAX];
    if (realpath(marker.c_str(), real) != nullptr) {
      const std::string path(real);
      return path.substr(0, path.rfind('/'));
    }
  }
  return "";
}

// The next of `signals` (blocked in every thread), or -1 after `limit`.
int WaitForSignal(const sigset_t& signals, std::chrono::milliseconds limit) {
#ifdef __APPLE__
  // macOS has no sigtimedwait: look for a pending signal, then take it.
  sigset_t pending;
  sigpending(&pending);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    if (sigismember(&signals, sig) && sigismember(&pending, sig)) {
      int taken = -1;
      sigwait(&signals, &taken);
      return taken;
    }
  }
  std::this_thread::sleep_for(limit);
  return -1;
#else
  timespec tick{0, static_cast<long>(std::chrono::nanoseconds(limit).count())};
  return sigtimedwait(&signals, nullptr, &tick);
#endif
}

// --chroot/--secure, then --user. setgid and setuid apply to every thread
// (glibc signals the others), so the shards started meanwhile drop too.
namespace {

// Who tftpd runs as when started as root without --user: a user of its
// own when the package made one, tftpd-hpa's, or nobody.
std::string DefaultUser() {
  for (const char* name : {"tftpd", "tftp", "nobody"}) {
    if (getpwnam(name) != nullptr) return name;
  }
  return "";
}

}  // namespace

absl::Status DropPrivileges(const std::string& root) {
  std::string user = FLAGS_user;
  std::string why;
  if (user.empty() && geteuid() == 0) {
    user = DefaultUser();
    why = " (started as root without --user)";
    if (user.empty()) {
      return absl::NotFoundError(
          "started as root without --user, and none of the users tftpd, "
          "tftp and nobody exists: name one with --user (--user=root keeps "
          "root)");
    }
  }
  if (user == "root") {
    TFTPD_LOG(kWarning,
              "running as root (--user=root): a flaw in tftpd "
              "would be a flaw with every privilege");
    user.clear();
  }
  uid_t uid = 0;
  gid_t gid = 0;
  if (!user.empty()) {
    errno = 0;
    const passwd* entry = getpwnam(user.c_str());
    if (entry == nullptr) {
      return absl::NotFoundError(absl::StrCat("--user: no such user: ", user));
    }
    uid = entry->pw_uid;
    gid = entry->pw_gid;
  }
  if (FLAGS_chroot || FLAGS_secure) {
    if (chroot(root.c_str()) != 0 || chdir("/") != 0) {
      return absl::ErrnoToStatus(errno, "--chroot: chroot " + root);
    }
    TFTPD_LOG(kInfo, "confined to %s", root);
  }
  if (!user.empty()) {
    if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
      return absl::ErrnoToStatus(errno, "--user: cannot switch to " + user);
    }
    if (uid != 0 && setuid(0) == 0) {
      return absl::PermissionDeniedError("--user: root could be regained");
    }
    TFTPD_LOG(kInfo, "running as %s (uid %d, gid %d)%s", user,
              static_cast<int>(uid), static_cast<int>(gid), why);
  }
  return absl::OkStatus();
}

HostTransferLimits ReadHostTransferLimits(size_t reserved) {
  HostTransferLimits limits;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    const size_t hard = limit.rlim_max == RLIM_INFINITY
                            ? SIZE_MAX
                            : static_cast<size_t>(limit.rlim_max);
    limits.descriptors = hard > reserved ? hard - reserved : 0;
  }
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  size_t low = 0;
  size_t high = 0;
  if (range >> low >> high && high >= low) limits.ports = high - low + 1;
  return limits;
}

absl::Status RaiseDescriptorLimit(size_t needed, const std::string& what) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::ErrnoToStatus(errno, "getrlimit(RLIMIT_NOFILE)");
  }
  const rlim_t want = static_cast<rlim_t>(needed);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur >= want) {
    return absl::OkStatus();
  }
  const rlim_t before = limit.rlim_cur;
  rlimit raised = limit;
  raised.rlim_cur = want;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < want) {
    raised.rlim_max = want;  // Root may raise the hard limit too.
  }
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what, " needs ", needed, " descriptors, and RLIMIT_NOFILE allows ",
        limit.rlim_max,
        " (hard limit): raise it (LimitNOFILE= in the systemd unit, "
        "ulimit -Hn, or fs.nr_open) or lower ",
        what));
  }
  TFTPD_LOG(kInfo, "descriptor limit raised from %d to %d for %s",
            static_cast<int64_t>(before), static_cast<int64_t>(want), what);
  return absl::OkStatus();
}

}  // namespace tftpd
