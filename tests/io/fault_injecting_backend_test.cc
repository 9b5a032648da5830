// The fault injector: its rates, its determinism, and that faults are
// judged per datagram even for segmented sends.
#include "io/fault_injecting_backend.h"

#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "io/udp_socket.h"

namespace io {
namespace {

using std::chrono::milliseconds;

OpenedSocket Open() {
  auto opened = OpenServiceSocket(*SocketAddress::Parse("127.0.0.1", 0),
                                  {.reuse_port = false, .receive_buffer = 0});
  EXPECT_TRUE(opened.ok()) << opened.status();
  return *opened;
}

std::unique_ptr<EventBackend> Faulty(const FaultPlan& plan) {
  auto inner = CreateEpollBackend({});
  EXPECT_TRUE(inner.ok()) << inner.status();
  return InjectFaults(std::move(*inner), plan);
}

// Every datagram waiting on `fd` (non-blocking), as strings, in order.
std::vector<std::string> Drain(int fd) {
  std::vector<std::string> out;
  char buffer[2048];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0) break;
    out.emplace_back(buffer, static_cast<size_t>(n));
  }
  return out;
}

// Polls until `count` completions came or half a second passed.
std::vector<Completion> PollFor(EventBackend& backend, size_t count,
                                std::vector<std::string>* payloads = nullptr) {
  std::vector<Completion> out;
  const TimePoint give_up = Clock::now() + milliseconds(500);
  while (out.size() < count && Clock::now() < give_up) {
    EXPECT_TRUE(backend
                    .Poll(Clock::now() + milliseconds(20),
                          [&](const Completion& c) {
                            out.push_back(c);
                            if (c.datagram != nullptr && payloads != nullptr) {
                              payloads->emplace_back(
                                  reinterpret_cast<const char*>(
                                      c.datagram->payload.data()),
                                  c.datagram->payload.size());
                            }
                            out.back().datagram = nullptr;
                          })
                    .ok());
  }
  return out;
}

// Receives `sent` numbered datagrams through a faulty backend and returns
// the numbers delivered, in delivery order (which depends on how arrivals
// fall into polls; the fate of each datagram does not).
std::vector<int> ReceiveThrough(const FaultPlan& plan, int sent) {
  std::unique_ptr<EventBackend> backend = Faulty(plan);
  OpenedSocket server = Open();
  OpenedSocket client = Open();
  backend->Receive(server.fd, 1);
  std::vector<int> delivered;
  for (int i = 0; i < sent; ++i) {
    const std::string payload = std::to_string(i);
    sendto(client.fd, payload.data(), payload.size(), 0, server.bound.get(),
           server.bound.length());
    // A few at a time, so that held datagrams are released among others.
    if (i % 8 == 7 || i == sent - 1) {
      std::vector<std::string> payloads;
      PollFor(*backend, 1, &payloads);
      for (const std::string& p : payloads) delivered.push_back(std::stoi(p));
    }
  }
  std::vector<std::string> rest;
  PollFor(*backend, static_cast<size_t>(sent), &rest);  // Until quiet.
  for (const std::string& p : rest) delivered.push_back(std::stoi(p));
  close(server.fd);
  close(client.fd);
  return delivered;
}

TEST(FaultInjectingBackend, ReceivedDatagramsAreLostDuplicatedAndReordered) {
  const FaultPlan plan{
      .seed = 5, .loss = 0.1, .duplicate = 0.05, .reorder = 0.05};
  constexpr int kSent = 4000;
  const std::vector<int> delivered = ReceiveThrough(plan, kSent);
  std::vector<int> copies(kSent, 0);
  int out_of_order = 0;
  for (size_t i = 0; i < delivered.size(); ++i) {
    ++copies[delivered[i]];
    if (i > 0 && delivered[i] < delivered[i - 1]) ++out_of_order;
  }
  int lost = 0, doubled = 0;
  for (int c : copies) {
    lost += c == 0;
    doubled += c == 2;
    EXPECT_LE(c, 2);
  }
  EXPECT_NEAR(lost, kSent * 0.10, kSent * 0.02);
  EXPECT_NEAR(doubled, kSent * 0.05, kSent * 0.015);
  EXPECT_NEAR(out_of_order, kSent * 0.05, kSent * 0.02);
  // The same seed makes the same decisions.
  auto copies_of = [&](const std::vector<int>& numbers) {
    std::vector<int> out(kSent, 0);
    for (int n : numbers) ++out[n];
    return out;
  };
  EXPECT_EQ(copies_of(ReceiveThrough(plan, kSent)), copies);
  FaultPlan other = plan;
  other.seed = 6;
  EXPECT_NE(copies_of(ReceiveThrough(other, kSent)), copies);
}

TEST(FaultInjectingBackend, SegmentedSendsAreJudgedDatagramByDatagram) {
  std::unique_ptr<EventBackend> backend =
      Faulty({.seed = 11, .loss = 0.5, .duplicate = 0, .reorder = 0});
  OpenedSocket a = Open();
  OpenedSocket b = Open();
  constexpr size_t kSegment = 100;
  constexpr int kSegments = 40;
  std::string train;
  for (int i = 0; i < kSegments; ++i) {
    std::string segment(kSegment, static_cast<char>('A' + i % 26));
    std::memcpy(segment.data(), &i, sizeof i);
    train += segment;
  }
  iovec iov{train.data(), train.size()};
  msghdr message{};
  message.msg_name = const_cast<sockaddr*>(b.bound.get());
  message.msg_namelen = b.bound.length();
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))] = {};
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&message);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  const uint16_t size = kSegment;
  std::memcpy(CMSG_DATA(c), &size, sizeof size);
  backend->Send(a.fd, &message, 77);
  // The send completes whole, as if every datagram had left.
  const std::vector<Completion> done = PollFor(*backend, 1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].user_data, 77u);
  EXPECT_EQ(done[0].result, static_cast<int32_t>(train.size()));
  const std::vector<std::string> received = Drain(b.fd);
  // About half the segments arrived, each a whole datagram of its own.
  EXPECT_GT(received.size(), 10u);
  EXPECT_LT(received.size(), 30u);
  int previous = -1;
  for (const std::string& d : received) {
    ASSERT_EQ(d.size(), kSegment);
    int index = -1;
    std::memcpy(&index, d.data(), sizeof index);
    EXPECT_GT(index, previous);
    previous = index;
    EXPECT_EQ(
        d.substr(sizeof index),
        train.substr(index * kSegment + sizeof index, kSegment - sizeof index));
  }
  const FaultCounts counts = CountFaults(*backend);
  EXPECT_EQ(counts.datagrams, static_cast<uint64_t>(kSegments));
  EXPECT_EQ(counts.lost + received.size(), static_cast<uint64_t>(kSegments));
  close(a.fd);
  close(b.fd);
}

TEST(FaultInjectingBackend, DelayedSendsLeaveAfterLaterOnes) {
  std::unique_ptr<EventBackend> backend =
      Faulty({.seed = 3, .loss = 0, .duplicate = 0.2, .reorder = 0.3});
  OpenedSocket a = Open();
  OpenedSocket b = Open();
  constexpr int kSends = 200;
  std::vector<std::string> payloads(kSends);
  std::vector<iovec> iovs(kSends);
  std::vector<msghdr> messages(kSends);
  for (int i = 0; i < kSends; ++i) {
    payloads[i] = std::to_string(i);
    iovs[i] = {payloads[i].data(), payloads[i].size()};
    messages[i] = {};
    messages[i].msg_name = const_cast<sockaddr*>(b.bound.get());
    messages[i].msg_namelen = b.bound.length();
    messages[i].msg_iov = &iovs[i];
    messages[i].msg_iovlen = 1;
    backend->Send(a.fd, &messages[i], static_cast<uint64_t>(i));
    if (i % 10 == 9) PollFor(*backend, 1);
  }
  const std::vector<Completion> rest = PollFor(*backend, kSends);
  std::vector<int> arrived;
  for (const std::string& d : Drain(b.fd)) arrived.push_back(std::stoi(d));
  // Nothing lost: each sent at least once, some twice, some late.
  std::vector<int> copies(kSends, 0);
  int out_of_order = 0;
  for (size_t i = 0; i < arrived.size(); ++i) {
    ++copies[arrived[i]];
    if (i > 0 && arrived[i] < arrived[i - 1]) ++out_of_order;
  }
  for (int c : copies) EXPECT_GE(c, 1);
  EXPECT_GT(arrived.size(), static_cast<size_t>(kSends));
  EXPECT_GT(out_of_order, 0);
  const FaultCounts counts = CountFaults(*backend);
  EXPECT_EQ(arrived.size(), kSends + counts.duplicated);
  close(a.fd);
  close(b.fd);
}

TEST(FaultPlan, ParsesAndRefusesClearly) {
  absl::StatusOr<FaultPlan> plan =
      ParseFaultPlan("loss=0.1,duplicate=0.05,reorder=0.02,seed=9");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_DOUBLE_EQ(plan->loss, 0.1);
  EXPECT_DOUBLE_EQ(plan->duplicate, 0.05);
  EXPECT_DOUBLE_EQ(plan->reorder, 0.02);
  EXPECT_EQ(plan->seed, 9u);
  EXPECT_FALSE(ParseFaultPlan("loss=2").ok());
  EXPECT_FALSE(ParseFaultPlan("loss=-0.1").ok());
  EXPECT_FALSE(ParseFaultPlan("loss=nan").ok());
  EXPECT_FALSE(ParseFaultPlan("jitter=0.1").ok());
  EXPECT_FALSE(ParseFaultPlan("seed=x").ok());
  EXPECT_FALSE(ParseFaultPlan("loss=0.6,duplicate=0.6").ok());
  EXPECT_NE(ParseFaultPlan("jitter=1").status().message().find("jitter"),
            std::string::npos);
}

}  // namespace
}  // namespace io
