#include "tests/integration/tftpd_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace tftpd::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool WaitForExit(pid_t pid, std::chrono::milliseconds limit, int* status) {
  const auto give_up = Clock::now() + limit;
  while (Clock::now() < give_up) {
    const pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& output) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int r =
      posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return r == 0 ? pid : -1;
}

// Like Spawn, but the child first installs a seccomp filter that makes
// io_uring_setup fail with EPERM.
pid_t SpawnWithoutIoUring(const std::vector<std::string>& argv,
                          const std::string& output) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int out = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(out, STDOUT_FILENO);
  dup2(out, STDERR_FILENO);
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    _exit(126);
  }
  execv(args[0], args.data());
  _exit(127);
}

}  // namespace

std::string FindProgram(const std::string& name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    const std::string path = dir + name;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::seconds limit) {
  TempDir dir;
  const std::string output = dir.Join("output");
  CommandResult result;
  const pid_t pid = Spawn(argv, output);
  if (pid < 0) {
    result.output = "cannot start " + argv[0];
    return result;
  }
  int status = 0;
  if (!WaitForExit(pid, limit, &status)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    result.output = ReadFile(output) + "\n[killed: ran too long]";
    return result;
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  result.output = ReadFile(output);
  return result;
}

TftpdProcess::~TftpdProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
}

bool MakeRootWithEscapes(const TempDir& dir, const std::string& outside,
                         std::string* root) {
  dir.Write("secret", outside);
  dir.Write("outside/inner", outside);
  *root = dir.Join("root");
  mkdir(root->c_str(), 0755);
  return symlink(dir.Join("secret").c_str(), (*root + "/escape").c_str()) ==
             0 &&
         symlink("../secret", (*root + "/relative_escape").c_str()) == 0 &&
         symlink(dir.Join("outside").c_str(),
                 (*root + "/escape_dir").c_str()) == 0 &&
         mkfifo((*root + "/fifo").c_str(), 0644) == 0;
}

bool WaitUntil(const std::function<bool()>& done,
               std::chrono::milliseconds limit) {
  const auto give_up = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

size_t CountOccurrences(const std::string& haystack,
                        const std::string& needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

HandRead ReadTransferByHand(const io::SocketAddress& service,
                            const std::string& name,
                            std::chrono::milliseconds first_wait,
                            const std::vector<std::string>& options,
                            const std::string& client_host) {
  HandRead result;
  RawClient client(!client_host.empty()           ? client_host
                   : service.family() == AF_INET6 ? "::1"
                                                  : "127.0.0.1");
  client.SendTo(service, RequestPacket(1, name, "octet", options));
  size_t blksize = 512;
  for (size_t i = 0; i + 1 < options.size(); i += 2) {
    if (options[i] == "blksize") blksize = std::stoul(options[i + 1]);
  }
  auto limit = first_wait;
  uint16_t expected = 1;
  while (true) {
    auto reply = client.Receive(limit);
    limit = std::chrono::milliseconds(5000);
    if (!reply.has_value()) {
      result.timed_out = true;
      return result;
    }
    const std::string& d = reply->first;
    const int opcode = OpcodeOf(d);
    if (opcode == 5) {
      result.error_code = ErrorCodeOf(d);
      result.error_message = d.size() > 5 ? d.substr(4, d.size() - 5) : "";
      return result;
    }
    if (opcode == 6) {  // OACK: acknowledge it with ACK 0.
      client.SendTo(reply->second, AckPacket(0));
      continue;
    }
    if (opcode != 3) return result;
    const uint16_t block = static_cast<uint16_t>(
        (static_cast<uint8_t>(d[2]) << 8) | static_cast<uint8_t>(d[3]));
    client.SendTo(reply->second, AckPacket(block));
    if (block != expected) continue;  // A retransmission: ACKed again.
    ++expected;
    result.bytes += d.substr(4);
    if (d.size() < 4 + blksize) return result;
  }
}

std::optional<uint64_t> NumberAfter(const std::string& text,
                                    const std::string& name, size_t* from) {
  const size_t at = text.find(" " + name + "=", *from);
  if (at == std::string::npos) return std::nullopt;
  const size_t begin = at + name.size() + 2;
  size_t end = begin;
  while (end < text.size() && absl::ascii_isdigit(text[end])) ++end;
  uint64_t value = 0;
  if (!absl::SimpleAtoi(absl::string_view(text).substr(begin, end - begin),
                        &value)) {
    return std::nullopt;
  }
  *from = end;
  return value;
}

std::optional<uint64_t> CounterAtStop(const std::string& log,
                                      const std::string& name) {
  size_t from = log.find("tftpd stopped:");
  if (from == std::string::npos) return std::nullopt;
  return NumberAfter(log, name, &from);
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
}

absl::Status BackgroundProcess::Start(const std::vector<std::string>& argv) {
  pid_ = Spawn(argv, dir_.Join("log"));
  if (pid_ < 0) return absl::InternalError("cannot spawn " + argv[0]);
  return absl::OkStatus();
}

std::string BackgroundProcess::log() const {
  return ReadFile(dir_.Join("log"));
}

absl::Status TftpdProcess::Start(const std::string& root,
                                 std::vector<std::string> extra_flags,
                                 const std::string& address) {
  const std::string port_file = dir_.Join("port");
  std::vector<std::string> argv = {binary_};
  if (!root.empty()) argv.push_back("--root=" + root);
  argv.insert(argv.end(), {
                              "--address=" + address,
                              "--port=0",
                              "--port_file=" + port_file,
                              "--threads=2",
                              // The tests' roots are private temporary
                              // directories: stay root unless a test names
                              // a user (a later --user wins).
                              "--user=root",
                          });
  // The *_epoll, *_kqueue and *_single_listener test targets run the same
  // suites with more flags.
  if (const char* flags = getenv("TFTPD_TEST_FLAGS")) {
    for (absl::string_view flag :
         absl::StrSplit(flags, ' ', absl::SkipEmpty())) {
      argv.emplace_back(flag);
    }
  }
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  pid_ = deny_io_uring_ ? SpawnWithoutIoUring(argv, dir_.Join("log"))
                        : Spawn(argv, dir_.Join("log"));
  if (pid_ < 0) return absl::InternalError("cannot spawn " + binary_);
  const auto give_up = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < give_up) {
    int port = 0;
    std::string text = ReadFile(port_file);
    if (!text.empty() && absl::SimpleAtoi(text, &port) && port > 0) {
      port_ = static_cast<uint16_t>(port);
      return absl::OkStatus();
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError("tftpd exited:\n" + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::DeadlineExceededError("tftpd did not start:\n" + log());
}

void TftpdProcess::Signal(int signal) {
  if (pid_ > 0) kill(pid_, signal);
}

int TftpdProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  if (!WaitForExit(pid_, std::chrono::seconds(15), &status)) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string TftpdProcess::log() const { return ReadFile(dir_.Join("log")); }

int TftpdProcess::shards() const {
  const std::string text = log();
  const size_t with = text.find(" with ");
  const size_t end = text.find(" shards", with);
  int shards = 0;
  if (with == std::string::npos || end == std::string::npos ||
      !absl::SimpleAtoi(text.substr(with + 6, end - with - 6), &shards)) {
    return 0;
  }
  return shards;
}

bool TftpdProcess::WaitForEveryShardToStop() const {
  const int expected = shards();
  return expected > 0 && WaitUntil([&] {
           return CountOccurrences(log(), " stopping: ") ==
                  static_cast<size_t>(expected);
         });
}

std::string TftpdProcess::LogOnceItContains(
    const std::string& text, std::chrono::milliseconds limit) const {
  const auto give_up = Clock::now() + limit;
  std::string current = log();
  while (!absl::StrContains(current, text) && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    current = log();
  }
  return current;
}

bool TftpdProcess::io_uring_refused() const {
  return absl::StrContains(log(), "io_uring:");
}

ProcessResources ReadProcessResources(pid_t pid) {
  ProcessResources out;
  const std::string proc = "/proc/" + std::to_string(pid);
  if (DIR* dir = opendir((proc + "/fd").c_str()); dir != nullptr) {
    out.fds = 0;
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++out.fds;
    }
    closedir(dir);
  }
  std::istringstream status(ReadFile(proc + "/status"));
  std::string key;
  int64_t value = 0;
  while (status >> key) {
    if (key == "VmRSS:" && status >> value) out.rss_kib = value;
    if (key == "RssAnon:" && status >> value) out.rss_anon_kib = value;
    if (key == "VmHWM:" && status >> value) out.peak_rss_kib = value;
  }
  return out;
}

std::string Describe(const ProcessResources& r) {
  return "fds=" + std::to_string(r.fds) + " rss=" + std::to_string(r.rss_kib) +
         "KiB rss_anon=" + std::to_string(r.rss_anon_kib) + "KiB";
}

RawClient::RawClient(const std::string& host) {
  address_ = *io::SocketAddress::Parse(host, 0);
  fd_ = socket(address_.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  bind(fd_, address_.get(), address_.length());
  socklen_t length = io::SocketAddress::kCapacity;
  getsockname(fd_, address_.mutable_get(), &length);
}

RawClient::~RawClient() { close(fd_); }

void RawClient::SetReceiveBuffer(int bytes) {
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
}

void RawClient::SendTo(const io::SocketAddress& to, const std::string& bytes) {
  sendto(fd_, bytes.data(), bytes.size(), 0, to.get(), to.length());
}

void RawClient::SendBatch(const io::SocketAddress& to,
                          const std::vector<std::string>& datagrams) {
  std::vector<iovec> iovs(datagrams.size());
  std::vector<mmsghdr> messages(datagrams.size());
  for (size_t i = 0; i < datagrams.size(); ++i) {
    iovs[i] = {const_cast<char*>(datagrams[i].data()), datagrams[i].size()};
    messages[i] = {};
    messages[i].msg_hdr.msg_name = const_cast<sockaddr*>(to.get());
    messages[i].msg_hdr.msg_namelen = to.length();
    messages[i].msg_hdr.msg_iov = &iovs[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  sendmmsg(fd_, messages.data(), static_cast<unsigned>(messages.size()), 0);
}

std::optional<std::pair<std::string, io::SocketAddress>> RawClient::Receive(
    std::chrono::milliseconds limit) {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(limit.count())) != 1) return std::nullopt;
  std::string buffer(70000, '\0');
  sockaddr_storage from{};
  socklen_t length = sizeof from;
  const ssize_t n = recvfrom(fd_, buffer.data(), buffer.size(), 0,
                             reinterpret_cast<sockaddr*>(&from), &length);
  if (n < 0) return std::nullopt;
  buffer.resize(static_cast<size_t>(n));
  return std::make_pair(
      buffer, io::SocketAddress(reinterpret_cast<sockaddr*>(&from), length));
}

}  // namespace tftpd::testing
