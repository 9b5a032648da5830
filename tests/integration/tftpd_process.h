// Test support for running the real tftpd binary and real clients: a
// temporary served root, the server process on a port it picks itself, a
// command runner with a time limit, and a raw UDP client for hostile or
// hand-built packets.
#ifndef TFTPD_TESTS_INTEGRATION_TFTPD_PROCESS_H_
#define TFTPD_TESTS_INTEGRATION_TFTPD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "io/socket_address.h"
#include "tests/testing/files.h"
#include "tests/testing/packets.h"

namespace tftpd::testing {

// Files outside a served root and ways out of it: writes `outside` into
// <dir>/secret and <dir>/outside/inner, and in <dir>/root the links escape
// (absolute, to secret), relative_escape (../secret) and escape_dir (to
// outside/), and a FIFO named fifo. Returns <dir>/root; false on failure.
bool MakeRootWithEscapes(const TempDir& dir, const std::string& outside,
                         std::string* root);

// What a process holds, from /proc: open descriptors and resident memory.
struct ProcessResources {
  int fds = -1;
  int64_t rss_kib = -1;       // VmRSS.
  int64_t rss_anon_kib = -1;  // RssAnon: the heap and stacks, not mappings
                              // of served files.
  int64_t peak_rss_kib = -1;  // VmHWM: the most VmRSS ever was.
};
ProcessResources ReadProcessResources(pid_t pid);
std::string Describe(const ProcessResources& resources);

// How many times `needle` occurs in `haystack` (overlaps counted).
size_t CountOccurrences(const std::string& haystack, const std::string& needle);

// Waits until `done` holds (checking it every few milliseconds) or `limit`
// passes; whether it holds. For events only visible from outside: a file
// appearing, a process's descriptors, a log line.
bool WaitUntil(const std::function<bool()>& done,
               std::chrono::milliseconds limit = std::chrono::seconds(5));

// The path of an installed program, looked for in sbin too (which a test's
// PATH may lack: iproute2's ip and tc live there); empty when absent.
std::string FindProgram(const std::string& name);

struct CommandResult {
  int exit_code = -1;  // -1 when killed for running too long.
  std::string output;  // stdout and stderr together.
};
CommandResult RunCommand(
    const std::vector<std::string>& argv,
    std::chrono::seconds limit = std::chrono::seconds(120));

class TftpdProcess {
 public:
  ~TftpdProcess();
  // Starts server/tftpd serving `root` on an ephemeral port of `address`.
  // Returns an error carrying the server's log when it does not come up;
  // `io_uring_refused()` then says whether the kernel refused io_uring.
  // TFTPD_TEST_FLAGS (space-separated) adds flags to every server a test
  // starts: the *_epoll, *_kqueue and *_single_listener targets use it.
  absl::Status Start(const std::string& root,
                     std::vector<std::string> extra_flags = {},
                     const std::string& address = "::");
  // Before Start: run the server under a seccomp filter that refuses
  // io_uring_setup with EPERM, as container runtimes' default profiles do.
  void DenyIoUring() { deny_io_uring_ = true; }
  // Before Start: run another program built on the runner (an example)
  // instead of server/tftpd; a path relative to the runfiles root.
  void set_binary(std::string path) { binary_ = std::move(path); }
  // SIGTERM, then the exit code.
  int Stop();
  // Sends `signal` (SIGHUP: reload the map file).
  void Signal(int signal);
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const;
  // The log once it contains `text`, or as it is after `limit`: a
  // transfer's line is written when the server reads the client's last
  // packet, which may be after the client has exited.
  std::string LogOnceItContains(
      const std::string& text,
      std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) const;
  bool io_uring_refused() const;
  // The number of shards its first log line announces (0 before it).
  int shards() const;
  // Waits until every shard has logged that it is stopping.
  bool WaitForEveryShardToStop() const;

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  bool deny_io_uring_ = false;
  std::string binary_ = "server/tftpd";
};

// Any other program run in the background for a test (an HTTP origin),
// killed at destruction; its stdout and stderr go to log().
class BackgroundProcess {
 public:
  ~BackgroundProcess();
  absl::Status Start(const std::vector<std::string>& argv);
  std::string log() const;
  pid_t pid() const { return pid_; }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
};

// A UDP socket for hand-made packets.
class RawClient {
 public:
  explicit RawClient(const std::string& host = "127.0.0.1");
  ~RawClient();
  void SendTo(const io::SocketAddress& to, const std::string& bytes);
  // All of `datagrams` in one sendmmsg call, so that they reach the server
  // together and are likely read in one batch.
  void SendBatch(const io::SocketAddress& to,
                 const std::vector<std::string>& datagrams);
  // The next datagram within `limit`, with its source.
  std::optional<std::pair<std::string, io::SocketAddress>> Receive(
      std::chrono::milliseconds limit = std::chrono::milliseconds(2000));
  const io::SocketAddress& address() const { return address_; }
  // Room for `bytes` of datagrams not yet read (beyond net.core.rmem_max
  // when root): for a socket that counts what a flood sends it.
  void SetReceiveBuffer(int bytes);

 private:
  int fd_ = -1;
  io::SocketAddress address_;
};

// A read transfer done by hand with lock-step ACKs: its bytes, or the ERROR
// that ended it, or a timeout (nothing for `first_wait`, then for 5 s).
struct HandRead {
  std::string bytes;
  int error_code = -1;  // -1: no ERROR came.
  std::string error_message;
  bool timed_out = false;
};
HandRead ReadTransferByHand(const io::SocketAddress& service,
                            const std::string& name,
                            std::chrono::milliseconds first_wait,
                            const std::vector<std::string>& options = {},
                            const std::string& client_host = "");

// The number after " name=" in `text` from `*from` on; `*from` moves past
// it.
std::optional<uint64_t> NumberAfter(const std::string& text,
                                    const std::string& name, size_t* from);
// A counter from the "tftpd stopped" line of a server's log.
std::optional<uint64_t> CounterAtStop(const std::string& log,
                                      const std::string& name);

}  // namespace tftpd::testing

// Starts `server` (a TftpdProcess) with Start's arguments; skips the test
// with a message where the kernel refuses io_uring, fails it otherwise.
#define TFTPD_START_OR_SKIP(server, ...)                                 \
  do {                                                                   \
    const absl::Status started_ = (server).Start(__VA_ARGS__);           \
    if (!started_.ok() && (server).io_uring_refused()) {                 \
      GTEST_SKIP() << "the kernel refuses io_uring: " << (server).log(); \
    }                                                                    \
    ASSERT_TRUE(started_.ok()) << started_;                              \
  } while (0)

#endif  // TFTPD_TESTS_INTEGRATION_TFTPD_PROCESS_H_
