// Conformance suite for event backends: every backend runs the same typed
// tests, so the server can rely on identical semantics. The in-memory
// backend the engine's tests run on takes part (its sockets are numbers:
// the fixture delivers to them and reads what they sent); what only a
// kernel does (spinning, sleeping out a deadline, closing descriptors,
// dual-stack mapping, a bounded receive ring, GRO) is a second suite, for
// the backends over real sockets.
#include "io/event_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "io/memory_backend.h"
#include "io/udp_socket.h"
#include "io/user_data.h"

namespace io {
namespace {

using std::chrono::milliseconds;

struct IoUringFactory {
  static absl::StatusOr<std::unique_ptr<EventBackend>> Create(
      const BackendOptions& options) {
    return CreateIoUringBackend(options);
  }
};

struct EpollFactory {
  static absl::StatusOr<std::unique_ptr<EventBackend>> Create(
      const BackendOptions& options) {
    return CreateEpollBackend(options);
  }
};

// The kqueue backend, on Linux through the emulation in tests/kqueue/.
struct KqueueFactory {
  static absl::StatusOr<std::unique_ptr<EventBackend>> Create(
      const BackendOptions& options) {
    return CreateKqueueBackend(options);
  }
};

// The in-memory backend on the real clock, so that deadlines mean what they
// mean to the others.
struct MemoryFactory {
  static constexpr bool kInMemory = true;
  static absl::StatusOr<std::unique_ptr<EventBackend>> Create(
      const BackendOptions& options) {
    return std::make_unique<MemoryBackend>(options,
                                           [] { return Clock::now(); });
  }
};

template <typename Factory>
constexpr bool InMemory() {
  if constexpr (requires { Factory::kInMemory; }) {
    return Factory::kInMemory;
  } else {
    return false;
  }
}

template <typename Factory>
class EventBackendTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(BackendOptions{}); }

  void Make(const BackendOptions& options) {
    backend_.reset();
    auto created = Factory::Create(options);
    if (!created.ok()) {
      GTEST_SKIP() << "backend unavailable on this kernel: "
                   << created.status().message();
    }
    backend_ = std::move(*created);
  }

  void TearDown() override {
    backend_.reset();
    for (int fd : fds_) close(fd);
  }

  // A socket bound to `host` on a port of its own: the kernel's, or for the
  // in-memory backend a number and an address the fixture makes up.
  OpenedSocket Open(const char* host) {
    if constexpr (InMemory<Factory>()) {
      const int fd = 1000 + static_cast<int>(memory_sockets_.size());
      OpenedSocket opened;
      opened.fd = fd;
      opened.bound = *SocketAddress::Parse(host, static_cast<uint16_t>(fd));
      memory_sockets_.push_back(opened);
      return opened;
    }
    auto address = SocketAddress::Parse(host, 0);
    EXPECT_TRUE(address.has_value());
    auto opened = OpenServiceSocket(*address, {});
    EXPECT_TRUE(opened.ok()) << opened.status();
    fds_.push_back(opened->fd);
    return *opened;
  }

  // Polls until `count` completions arrived or a second passed.
  std::vector<Completion> Collect(size_t count,
                                  std::vector<std::string>* payloads = nullptr,
                                  std::vector<Datagram>* datagrams = nullptr) {
    std::vector<Completion> out;
    const TimePoint give_up = Clock::now() + std::chrono::seconds(2);
    while (out.size() < count && Clock::now() < give_up) {
      auto polled = backend_->Poll(
          Clock::now() + milliseconds(50), [&](const Completion& c) {
            out.push_back(c);
            if (c.datagram != nullptr) {
              if (payloads != nullptr) {
                payloads->emplace_back(
                    reinterpret_cast<const char*>(c.datagram->payload.data()),
                    c.datagram->payload.size());
              }
              if (datagrams != nullptr) {
                datagrams->push_back(*c.datagram);
              }
              out.back().datagram = nullptr;
            }
          });
      EXPECT_TRUE(polled.ok()) << polled.status();
    }
    return out;
  }

  // A datagram from `from` to `to`, as a peer's socket would send it.
  void SendTo(const OpenedSocket& from, const SocketAddress& to,
              const std::string& payload) {
    if constexpr (InMemory<Factory>()) {
      for (const OpenedSocket& socket : memory_sockets_) {
        if (socket.bound != to) continue;
        SocketAddress destination = to;
        destination.set_port(0);
        static_cast<MemoryBackend&>(*backend_).Deliver(
            socket.fd, from.bound, destination,
            absl::MakeConstSpan(
                reinterpret_cast<const uint8_t*>(payload.data()),
                payload.size()));
        return;
      }
      ADD_FAILURE() << "no socket at " << to.ToString();
      return;
    }
    ASSERT_EQ(sendto(from.fd, payload.data(), payload.size(), 0, to.get(),
                     to.length()),
              static_cast<ssize_t>(payload.size()));
  }

  // The next datagram `peer` received, waiting up to a second for it.
  std::optional<std::string> ReceivedBy(const OpenedSocket& peer) {
    if constexpr (InMemory<Factory>()) {
      for (SentDatagram& sent :
           static_cast<MemoryBackend&>(*backend_).TakeSent()) {
        if (sent.to == peer.bound) {
          return std::string(sent.payload.begin(), sent.payload.end());
        }
      }
      return std::nullopt;
    }
    pollfd readable{peer.fd, POLLIN, 0};
    if (poll(&readable, 1, 1000) != 1) return std::nullopt;
    char buffer[2048];
    const ssize_t n = recv(peer.fd, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<size_t>(n));
  }

  std::unique_ptr<EventBackend> backend_;
  std::vector<int> fds_;
  std::vector<OpenedSocket> memory_sockets_;
};

using Backends = ::testing::Types<IoUringFactory, EpollFactory, KqueueFactory,
                                  MemoryFactory>;
TYPED_TEST_SUITE(EventBackendTest, Backends);

// What only a backend over the kernel's sockets does.
template <typename Factory>
class KernelBackendTest : public EventBackendTest<Factory> {};
using KernelBackends =
    ::testing::Types<IoUringFactory, EpollFactory, KqueueFactory>;
TYPED_TEST_SUITE(KernelBackendTest, KernelBackends);

TYPED_TEST(EventBackendTest, MultishotReceiveDeliversEveryDatagram) {
  OpenedSocket server = this->Open("127.0.0.1");
  OpenedSocket client = this->Open("127.0.0.1");
  const uint64_t tag = UserData{1, 7, 3}.Pack();
  this->backend_->Receive(server.fd, tag);
  for (int i = 0; i < 3; ++i) {
    this->SendTo(client, server.bound, "datagram " + std::to_string(i));
  }
  std::vector<std::string> payloads;
  std::vector<Datagram> datagrams;
  std::vector<Completion> got = this->Collect(3, &payloads, &datagrams);
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].user_data, tag);
    EXPECT_TRUE(got[i].more);
    EXPECT_EQ(payloads[i], "datagram " + std::to_string(i));
    EXPECT_EQ(datagrams[i].source, client.bound);
    EXPECT_EQ(datagrams[i].destination.HostString(), "127.0.0.1");
    EXPECT_FALSE(datagrams[i].truncated);
  }
}

TYPED_TEST(KernelBackendTest, ASpinFindsAWaitingDatagramWithoutSleeping) {
  OpenedSocket server = this->Open("127.0.0.1");
  OpenedSocket client = this->Open("127.0.0.1");
  this->SendTo(client, server.bound, "already here");
  this->backend_->SpinBeforeSleeping(std::chrono::seconds(1));
  this->backend_->Receive(server.fd, 5);
  std::vector<std::string> payloads;
  ASSERT_EQ(this->Collect(1, &payloads).size(), 1u);
  EXPECT_EQ(payloads[0], "already here");
  const BackendStats stats = this->backend_->stats();
  EXPECT_EQ(stats.spins, 1u);
  EXPECT_EQ(stats.spins_found, 1u);
}

TYPED_TEST(KernelBackendTest, ASpinThatFindsNothingBacksOff) {
  this->backend_->SpinBeforeSleeping(milliseconds(1));
  auto poll = [&] {
    auto polled = this->backend_->Poll(Clock::now() + milliseconds(2),
                                       [](const Completion&) {});
    ASSERT_TRUE(polled.ok()) << polled.status();
    EXPECT_EQ(*polled, 0);
  };
  poll();  // Spins in vain, then sleeps out the deadline...
  EXPECT_EQ(this->backend_->stats().spins, 1u);
  EXPECT_EQ(this->backend_->stats().spins_found, 0u);
  poll();  // ...so the next wait sleeps at once...
  EXPECT_EQ(this->backend_->stats().spins, 1u);
  poll();  // ...and the one after spins again.
  EXPECT_EQ(this->backend_->stats().spins, 2u);
  this->backend_->SpinBeforeSleeping(Clock::duration::zero());
  for (int i = 0; i < 3; ++i) poll();
  EXPECT_EQ(this->backend_->stats().spins, 2u);
}

TYPED_TEST(KernelBackendTest, DualStackReportsIpv4DestinationAndMappedSource) {
  OpenedSocket server = this->Open("::");
  OpenedSocket client = this->Open("127.0.0.1");
  this->backend_->Receive(server.fd, 1);
  SocketAddress target =
      *SocketAddress::Parse("127.0.0.1", server.bound.port());
  this->SendTo(client, target, "v4 over dual stack");
  std::vector<Datagram> datagrams;
  ASSERT_EQ(this->Collect(1, nullptr, &datagrams).size(), 1u);
  EXPECT_EQ(datagrams[0].source.Unmapped(), client.bound);
  EXPECT_EQ(datagrams[0].destination.family(), AF_INET);
  EXPECT_EQ(datagrams[0].destination.HostString(), "127.0.0.1");
}

TYPED_TEST(EventBackendTest, Ipv6LoopbackWorks) {
  OpenedSocket server = this->Open("::1");
  OpenedSocket client = this->Open("::1");
  this->backend_->Receive(server.fd, 1);
  this->SendTo(client, server.bound, "six");
  std::vector<Datagram> datagrams;
  std::vector<std::string> payloads;
  ASSERT_EQ(this->Collect(1, &payloads, &datagrams).size(), 1u);
  EXPECT_EQ(payloads[0], "six");
  EXPECT_EQ(datagrams[0].destination.HostString(), "::1");
}

TYPED_TEST(EventBackendTest, SendGathersIovecs) {
  OpenedSocket a = this->Open("127.0.0.1");
  OpenedSocket b = this->Open("127.0.0.1");
  char header[] = "head:";
  char body[] = "body";
  iovec iov[2] = {{header, 5}, {body, 4}};
  msghdr message{};
  message.msg_name = const_cast<sockaddr*>(b.bound.get());
  message.msg_namelen = b.bound.length();
  message.msg_iov = iov;
  message.msg_iovlen = 2;
  this->backend_->Send(a.fd, &message, 42);
  std::vector<Completion> got = this->Collect(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].user_data, 42u);
  EXPECT_EQ(got[0].result, 9);
  EXPECT_EQ(this->ReceivedBy(b), "head:body");
}

TYPED_TEST(EventBackendTest, ManySendsGoOutInOneSubmission) {
  OpenedSocket a = this->Open("127.0.0.1");
  OpenedSocket b = this->Open("127.0.0.1");
  char payload[] = "x";
  iovec iov{payload, 1};
  msghdr message{};
  message.msg_name = const_cast<sockaddr*>(b.bound.get());
  message.msg_namelen = b.bound.length();
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  const BackendStats before = this->backend_->stats();
  for (int i = 0; i < 64; ++i) this->backend_->Send(a.fd, &message, i);
  std::vector<Completion> got = this->Collect(64);
  ASSERT_EQ(got.size(), 64u);
  for (const Completion& c : got) EXPECT_EQ(c.result, 1);
  const BackendStats after = this->backend_->stats();
  EXPECT_EQ(after.operations - before.operations, 64u);
  // io_uring submits all 64 with the first wait; readiness backends may need
  // one system call per send but must still report every completion.
  if (this->backend_->name() == "io_uring") {
    EXPECT_LE(after.enter_calls - before.enter_calls, 2u);
  }
}

TYPED_TEST(EventBackendTest, ReadsFilesIntoPlainAndRegisteredBuffers) {
  char path[] = "/tmp/event_backend_test_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  this->fds_.push_back(fd);
  std::string content(10000, '\0');
  for (size_t i = 0; i < content.size(); ++i)
    content[i] = static_cast<char>(i * 7);
  ASSERT_EQ(write(fd, content.data(), content.size()),
            static_cast<ssize_t>(content.size()));

  std::vector<uint8_t> plain(100);
  this->backend_->Read(fd, 1234, absl::MakeSpan(plain), 1);
  std::vector<Completion> got = this->Collect(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].result, 100);
  EXPECT_EQ(std::memcmp(plain.data(), content.data() + 1234, 100), 0);

  std::vector<uint8_t> region(8192);
  iovec registered{region.data(), region.size()};
  ASSERT_TRUE(this->backend_->RegisterBuffers({&registered, 1}).ok());
  this->backend_->Read(fd, 9000, absl::MakeSpan(region.data() + 4, 4000), 2);
  got = this->Collect(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].result, 1000);  // Short read at the end of the file.
  EXPECT_EQ(std::memcmp(region.data() + 4, content.data() + 9000, 1000), 0);
}

TYPED_TEST(EventBackendTest, ReadOnAPipeWaitsForData) {
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC), 0);
  this->fds_.push_back(pipe_fds[0]);
  this->fds_.push_back(pipe_fds[1]);
  uint64_t value = 0;
  this->backend_->Read(
      pipe_fds[0], 0,
      absl::MakeSpan(reinterpret_cast<uint8_t*>(&value), sizeof value), 9);
  // Nothing to read yet: no completion, and no busy loop of failures.
  int early = 0;
  for (int i = 0; i < 3; ++i) {
    auto polled = this->backend_->Poll(Clock::now() + milliseconds(10),
                                       [&](const Completion&) { ++early; });
    ASSERT_TRUE(polled.ok());
  }
  EXPECT_EQ(early, 0);
  const uint64_t written = 42;
  ASSERT_EQ(write(pipe_fds[1], &written, sizeof written), 8);
  std::vector<Completion> got = this->Collect(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].user_data, 9u);
  EXPECT_EQ(got[0].result, 8);
  EXPECT_EQ(value, 42u);
}

TYPED_TEST(EventBackendTest, TimerFiresAtItsDeadlineNotBefore) {
  const TimePoint start = Clock::now();
  this->backend_->Timer(start + milliseconds(30), 5);
  std::vector<Completion> got = this->Collect(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].user_data, 5u);
  EXPECT_EQ(got[0].result, 0);
  EXPECT_GE(Clock::now() - start, milliseconds(30));
}

TYPED_TEST(KernelBackendTest, PollReturnsAtTheDeadlineWithNothingToDo) {
  const TimePoint start = Clock::now();
  auto polled =
      this->backend_->Poll(start + milliseconds(20), [](const Completion&) {});
  ASSERT_TRUE(polled.ok());
  EXPECT_EQ(*polled, 0);
  EXPECT_GE(Clock::now() - start, milliseconds(20));
}

// A generator that busy-polls, or a shard whose timers are due, polls with a
// deadline already past: one look, which still submits and delivers.
TYPED_TEST(EventBackendTest, APastDeadlineSubmitsAndDeliversWhatIsReady) {
  OpenedSocket server = this->Open("127.0.0.1");
  OpenedSocket client = this->Open("127.0.0.1");
  this->SendTo(client, server.bound, "waiting");
  this->backend_->Receive(server.fd, 6);
  std::vector<std::string> payloads;
  auto polled = this->backend_->Poll(
      Clock::now() - milliseconds(1), [&](const Completion& c) {
        ASSERT_NE(c.datagram, nullptr);
        payloads.emplace_back(
            reinterpret_cast<const char*>(c.datagram->payload.data()),
            c.datagram->payload.size());
      });
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_EQ(*polled, 1);
  EXPECT_EQ(payloads, std::vector<std::string>{"waiting"});
  polled = this->backend_->Poll(Clock::now(), [](const Completion&) {});
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_EQ(*polled, 0);
}

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) >= 0 || errno != EBADF; }

// A socket whose receive was cancelled is closed behind the cancellation:
// by the next Poll at the latest, whatever the backend queues.
TYPED_TEST(KernelBackendTest, CloseEndsTheDescriptorByTheNextPoll) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(fd, 0);
  this->backend_->Receive(fd, 12);
  this->backend_->Cancel(12);
  this->backend_->Close(fd);
  EXPECT_EQ(this->Collect(1).size(), 1u);  // The receive's last completion.
  EXPECT_FALSE(IsOpen(fd));
}

// A close still queued when the backend goes is not lost with it.
TYPED_TEST(KernelBackendTest, AQueuedCloseIsDoneWhenTheBackendEnds) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(fd, 0);
  this->backend_->Close(fd);
  this->backend_.reset();
  EXPECT_FALSE(IsOpen(fd));
}

TYPED_TEST(EventBackendTest, CancelEndsReceivesAndTimers) {
  OpenedSocket server = this->Open("127.0.0.1");
  this->backend_->Receive(server.fd, 10);
  this->backend_->Timer(Clock::now() + std::chrono::seconds(60), 11);
  this->backend_->Poll(Clock::now(), [](const Completion&) {}).IgnoreError();
  this->backend_->Cancel(10);
  this->backend_->Cancel(11);
  this->backend_->Cancel(12);  // Nothing carries it: no completion.
  std::vector<Completion> got = this->Collect(2);
  ASSERT_EQ(got.size(), 2u);
  for (const Completion& c : got) {
    EXPECT_TRUE(c.user_data == 10 || c.user_data == 11);
    EXPECT_EQ(c.result, -ECANCELED);
    EXPECT_FALSE(c.more);
  }
}

TYPED_TEST(KernelBackendTest, ReceiveMemoryIsBoundedAndNothingIsLost) {
  BackendOptions options;
  options.receive_buffers = 8;
  this->Make(options);
  if (this->backend_ == nullptr) return;
  OpenedSocket server = this->Open("127.0.0.1");
  OpenedSocket client = this->Open("127.0.0.1");
  this->backend_->Receive(server.fd, 1);
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i) this->SendTo(client, server.bound, "d");
  int received = 0;
  const TimePoint give_up = Clock::now() + std::chrono::seconds(3);
  while (received < kCount && Clock::now() < give_up) {
    auto polled = this->backend_->Poll(
        Clock::now() + milliseconds(50), [&](const Completion& c) {
          if (c.datagram != nullptr) ++received;
          // Out of buffers ends the multishot receive; the datagrams wait
          // in the socket until it is armed again.
          if (!c.more) this->backend_->Receive(server.fd, 1);
        });
    ASSERT_TRUE(polled.ok());
  }
  EXPECT_EQ(received, kCount);
}

TYPED_TEST(EventBackendTest, OversizedDatagramIsMarkedTruncated) {
  BackendOptions options;
  options.receive_buffer_size = 512;
  this->Make(options);
  if (this->backend_ == nullptr) return;
  OpenedSocket server = this->Open("127.0.0.1");
  OpenedSocket client = this->Open("127.0.0.1");
  this->backend_->Receive(server.fd, 1);
  this->SendTo(client, server.bound, std::string(2000, 'z'));
  std::vector<Datagram> datagrams;
  ASSERT_EQ(this->Collect(1, nullptr, &datagrams).size(), 1u);
  EXPECT_TRUE(datagrams[0].truncated);
  EXPECT_LT(datagrams[0].payload.size(), 2000u);
}

// One sendmsg with UDP_SEGMENT carries three datagrams (the last one short),
// as tftpd sends a window.
ssize_t SendSegmented(int fd, const SocketAddress& to, size_t segment) {
  std::string payload(segment * 2 + 7, 'g');
  iovec iov{payload.data(), payload.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))] = {};
  msghdr message{};
  message.msg_name = const_cast<sockaddr*>(to.get());
  message.msg_namelen = to.length();
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&message);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  const uint16_t size = static_cast<uint16_t>(segment);
  std::memcpy(CMSG_DATA(c), &size, sizeof size);
  return sendmsg(fd, &message, 0);
}

TYPED_TEST(KernelBackendTest, SegmentedSendsArriveAsDatagramsOrCoalesced) {
  OpenedSocket plain = this->Open("127.0.0.1");
  OpenedSocket gro = this->Open("127.0.0.1");
  OpenedSocket sender = this->Open("127.0.0.1");
  const int on = 1;
  if (setsockopt(gro.fd, SOL_UDP, UDP_GRO, &on, sizeof on) != 0) {
    GTEST_SKIP() << "the kernel lacks UDP_GRO (Linux 5.0)";
  }
  if (SendSegmented(sender.fd, plain.bound, 100) < 0) {
    GTEST_SKIP() << "the kernel lacks UDP GSO (Linux 4.18): "
                 << std::strerror(errno);
  }
  ASSERT_EQ(SendSegmented(sender.fd, gro.bound, 100), 207);
  this->backend_->Receive(plain.fd, 1);
  this->backend_->Receive(gro.fd, 2);
  std::vector<Datagram> datagrams;
  std::vector<std::string> payloads;
  std::vector<Completion> got = this->Collect(4, &payloads, &datagrams);
  ASSERT_EQ(got.size(), 4u);
  std::vector<size_t> plain_sizes;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].user_data == 1) {
      // A socket without UDP_GRO gets ordinary datagrams, as clients do.
      plain_sizes.push_back(payloads[i].size());
      EXPECT_EQ(datagrams[i].segment_size, 0);
    } else {
      EXPECT_EQ(payloads[i].size(), 207u);
      EXPECT_EQ(datagrams[i].segment_size, 100);
    }
  }
  EXPECT_EQ(plain_sizes, (std::vector<size_t>{100, 100, 7}));
}

TEST(UserData, PacksKindIndexAndGeneration) {
  const UserData d{3, 0xfffffff0u, 0x123456};
  const UserData back = UserData::Unpack(d.Pack());
  EXPECT_EQ(back.kind, 3);
  EXPECT_EQ(back.index, 0xfffffff0u);
  EXPECT_EQ(back.generation, 0x123456u);
  EXPECT_EQ(UserData::Unpack(UserData{1, 2, 0x1000001}.Pack()).generation, 1u);
}

TEST(SocketAddress, ParsesPrintsAndCompares) {
  auto v4 = SocketAddress::Parse("192.0.2.1", 69);
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->ToString(), "192.0.2.1:69");
  auto v6 = SocketAddress::Parse("[2001:db8::1]", 6969);
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->ToString(), "[2001:db8::1]:6969");
  auto mapped = SocketAddress::Parse("::ffff:192.0.2.1", 69);
  EXPECT_EQ(mapped->ToString(), "192.0.2.1:69");
  EXPECT_EQ(mapped->Unmapped(), *v4);
  EXPECT_NE(*mapped, *v4);
  EXPECT_FALSE(SocketAddress::Parse("not an address", 1).has_value());
}

}  // namespace
}  // namespace io
