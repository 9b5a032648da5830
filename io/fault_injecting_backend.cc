#include "io/fault_injecting_backend.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace io {

absl::StatusOr<FaultPlan> ParseFaultPlan(absl::string_view text) {
  FaultPlan plan;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.first == "seed") {
      if (!absl::SimpleAtoi(kv.second, &plan.seed)) {
        return absl::InvalidArgumentError(
            absl::StrCat("fault plan: seed '", kv.second, "' is not a number"));
      }
      continue;
    }
    double* target = kv.first == "loss"        ? &plan.loss
                     : kv.first == "duplicate" ? &plan.duplicate
                     : kv.first == "reorder"   ? &plan.reorder
                                               : nullptr;
    if (target == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("fault plan: unknown item '", kv.first,
                       "' (expected loss, duplicate, reorder or seed)"));
    }
    if (!absl::SimpleAtod(kv.second, target) || !(*target >= 0) ||
        *target > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("fault plan: ", kv.first,
                       " must be a probability in "
                       "[0, 1], not '",
                       kv.second, "'"));
    }
  }
  if (plan.loss + plan.duplicate + plan.reorder > 1) {
    return absl::InvalidArgumentError(
        "fault plan: loss + duplicate + reorder is more than 1");
  }
  return plan;
}

namespace {

enum class Fate { kDeliver, kLose, kDuplicate, kDelay };

// The UDP_SEGMENT size a send asks for, 0 when it asks for none.
uint16_t SegmentSize(const msghdr* message) {
#ifdef UDP_SEGMENT
  if (message->msg_control == nullptr) return 0;
  msghdr copy = *message;  // CMSG_NXTHDR takes a non-const header.
  for (cmsghdr* c = CMSG_FIRSTHDR(&copy); c != nullptr;
       c = CMSG_NXTHDR(&copy, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT) {
      uint16_t size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof size);
      return size;
    }
  }
#else
  (void)message;
#endif
  return 0;
}

// The send's control messages but UDP_SEGMENT, for sending datagram by
// datagram (a source address from IP_PKTINFO must still apply).
std::vector<uint8_t> ControlWithoutSegmentation(const msghdr* message) {
  std::vector<uint8_t> out;
  if (message->msg_control == nullptr) return out;
  msghdr copy = *message;
  for (cmsghdr* c = CMSG_FIRSTHDR(&copy); c != nullptr;
       c = CMSG_NXTHDR(&copy, c)) {
#ifdef UDP_SEGMENT
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT) continue;
#endif
    const uint8_t* begin = reinterpret_cast<const uint8_t*>(c);
    out.insert(out.end(), begin, begin + CMSG_ALIGN(c->cmsg_len));
  }
  return out;
}

struct HeldReceive {
  uint64_t user_data;
  uint64_t release_poll;
  std::vector<uint8_t> bytes;
  SocketAddress source;
  SocketAddress destination;
  bool truncated;
};

struct HeldSend {
  int fd;  // A duplicate, so the datagram leaves from the right port even
           // if the caller has closed its socket meanwhile.
  uint64_t release_poll;
  std::vector<uint8_t> bytes;
  sockaddr_storage to;
  socklen_t to_length;
  std::vector<uint8_t> control;
};

struct CompletedSend {
  uint64_t user_data;
  int32_t result;
};

class FaultInjectingBackend : public EventBackend {
 public:
  FaultInjectingBackend(std::unique_ptr<EventBackend> inner,
                        const FaultPlan& plan)
      : inner_(std::move(inner)), plan_(plan), state_(plan.seed) {}

  ~FaultInjectingBackend() override {
    for (const HeldSend& held : held_sends_) close(held.fd);
  }

  absl::string_view name() const override { return inner_->name(); }
  void ReceiveLarge(int fd, uint64_t user_data) override {
    inner_->ReceiveLarge(fd, user_data);
  }
  void Receive(int fd, uint64_t user_data) override {
    inner_->Receive(fd, user_data);
  }
  void Read(int fd, uint64_t offset, absl::Span<uint8_t> buffer,
            uint64_t user_data) override {
    inner_->Read(fd, offset, buffer, user_data);
  }
  void Timer(TimePoint deadline, uint64_t user_data) override {
    inner_->Timer(deadline, user_data);
  }
  absl::Status RegisterBuffers(absl::Span<const iovec> regions) override {
    return inner_->RegisterBuffers(regions);
  }
  void Close(int fd) override { inner_->Close(fd); }
  void SpinBeforeSleeping(Clock::duration limit) override {
    inner_->SpinBeforeSleeping(limit);
  }
  BackendStats stats() const override { return inner_->stats(); }
  const FaultCounts& counts() const { return counts_; }

  void Cancel(uint64_t user_data) override {
    // A held datagram of a cancelled receive is simply never delivered.
    std::erase_if(held_receives_, [user_data](const HeldReceive& held) {
      return held.user_data == user_data;
    });
    inner_->Cancel(user_data);
  }

  void Send(int fd, const msghdr* message, uint64_t user_data) override;

  absl::StatusOr<int> Poll(
      std::optional<TimePoint> deadline,
      absl::FunctionRef<void(const Completion&)> handler) override;

 private:
  // splitmix64: tiny, and the same sequence on every platform and library.
  uint64_t NextRandom() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  Fate Judge() {
    ++counts_.datagrams;
    const double r = static_cast<double>(NextRandom() >> 11) * 0x1.0p-53;
    if (r < plan_.loss) {
      ++counts_.lost;
      return Fate::kLose;
    }
    if (r < plan_.loss + plan_.duplicate) {
      ++counts_.duplicated;
      return Fate::kDuplicate;
    }
    if (r < plan_.loss + plan_.duplicate + plan_.reorder) {
      ++counts_.delayed;
      return Fate::kDelay;
    }
    return Fate::kDeliver;
  }

  void OnReceive(const Completion& completion,
                 absl::FunctionRef<void(const Completion&)> handler);
  void ReleaseHeld(absl::FunctionRef<void(const Completion&)> handler);

  std::unique_ptr<EventBackend> inner_;
  const FaultPlan plan_;
  uint64_t state_;
  uint64_t poll_count_ = 0;
  FaultCounts counts_;
  std::vector<HeldReceive> held_receives_;
  std::vector<HeldSend> held_sends_;
  std::vector<CompletedSend> completed_sends_;
};

void SendNow(int fd, const void* to, socklen_t to_length,
             const std::vector<uint8_t>& control, const uint8_t* bytes,
             size_t size) {
  iovec iov{const_cast<uint8_t*>(bytes), size};
  msghdr message{};
  message.msg_name = const_cast<void*>(to);
  message.msg_namelen = to_length;
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  if (!control.empty()) {
    message.msg_control = const_cast<uint8_t*>(control.data());
    message.msg_controllen = control.size();
  }
  // A datagram the socket cannot take now is lost, as on a real network.
  (void)sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void FaultInjectingBackend::Send(int fd, const msghdr* message,
                                 uint64_t user_data) {
  size_t total = 0;
  for (size_t i = 0; i < message->msg_iovlen; ++i) {
    total += message->msg_iov[i].iov_len;
  }
  const size_t segment = SegmentSize(message) != 0 ? SegmentSize(message)
                         : total != 0              ? total
                                                   : 1;
  const size_t datagrams = total == 0 ? 1 : (total + segment - 1) / segment;
  std::vector<Fate> fates(datagrams);
  bool all_delivered = true;
  for (Fate& fate : fates) {
    fate = Judge();
    all_delivered = all_delivered && fate == Fate::kDeliver;
  }
  if (all_delivered) {
    inner_->Send(fd, message, user_data);
    return;
  }
  std::vector<uint8_t> bytes;
  bytes.reserve(total);
  for (size_t i = 0; i < message->msg_iovlen; ++i) {
    const uint8_t* base =
        static_cast<const uint8_t*>(message->msg_iov[i].iov_base);
    bytes.insert(bytes.end(), base, base + message->msg_iov[i].iov_len);
  }
  const std::vector<uint8_t> control = ControlWithoutSegmentation(message);
  for (size_t i = 0; i < datagrams; ++i) {
    const size_t offset = i * segment;
    const size_t size = std::min(segment, total - std::min(offset, total));
    const uint8_t* piece = bytes.data() + offset;
    switch (fates[i]) {
      case Fate::kLose:
        break;
      case Fate::kDuplicate:
        SendNow(fd, message->msg_name, message->msg_namelen, control, piece,
                size);
        [[fallthrough]];
      case Fate::kDeliver:
        SendNow(fd, message->msg_name, message->msg_namelen, control, piece,
                size);
        break;
      case Fate::kDelay: {
        const int copy = dup(fd);
        if (copy < 0) break;  // Out of descriptors: call it lost.
        HeldSend held{copy, poll_count_ + 1, {piece, piece + size}, {},
                      0,    control};
        held.to_length =
            std::min<socklen_t>(message->msg_namelen, sizeof held.to);
        if (message->msg_name != nullptr) {
          std::memcpy(&held.to, message->msg_name, held.to_length);
        }
        held_sends_.push_back(std::move(held));
        break;
      }
    }
  }
  completed_sends_.push_back({user_data, static_cast<int32_t>(total)});
}

void FaultInjectingBackend::OnReceive(
    const Completion& completion,
    absl::FunctionRef<void(const Completion&)> handler) {
  const Datagram& whole = *completion.datagram;
  // A final completion (more == false) tells the caller to re-arm: it is
  // always delivered, so that faults never stop a socket's receiving.
  if (!completion.more) {
    handler(completion);
    return;
  }
  const size_t size = whole.payload.size();
  const size_t segment =
      whole.segment_size != 0 ? whole.segment_size : std::max<size_t>(size, 1);
  size_t offset = 0;
  do {
    const size_t length = std::min(segment, size - offset);
    Datagram piece = whole;
    piece.payload = whole.payload.subspan(offset, length);
    piece.segment_size = 0;
    piece.truncated = whole.truncated && offset + length == size;
    Completion one = completion;
    one.result = static_cast<int32_t>(length);
    one.datagram = &piece;
    switch (Judge()) {
      case Fate::kLose:
        break;
      case Fate::kDuplicate:
        handler(one);
        handler(one);
        break;
      case Fate::kDeliver:
        handler(one);
        break;
      case Fate::kDelay:
        held_receives_.push_back({completion.user_data,
                                  poll_count_ + 1,
                                  {piece.payload.begin(), piece.payload.end()},
                                  piece.source,
                                  piece.destination,
                                  piece.truncated});
        break;
    }
    offset += length;
  } while (offset < size);
}

void FaultInjectingBackend::ReleaseHeld(
    absl::FunctionRef<void(const Completion&)> handler) {
  std::vector<HeldSend> sends;
  std::swap(sends, held_sends_);
  for (HeldSend& held : sends) {
    if (held.release_poll > poll_count_) {
      held_sends_.push_back(std::move(held));
      continue;
    }
    SendNow(held.fd, &held.to, held.to_length, held.control, held.bytes.data(),
            held.bytes.size());
    close(held.fd);
  }
  std::vector<HeldReceive> receives;
  std::swap(receives, held_receives_);
  for (HeldReceive& held : receives) {
    if (held.release_poll > poll_count_) {
      held_receives_.push_back(std::move(held));
      continue;
    }
    Datagram datagram;
    datagram.payload = absl::MakeConstSpan(held.bytes);
    datagram.source = held.source;
    datagram.destination = held.destination;
    datagram.truncated = held.truncated;
    Completion completion;
    completion.user_data = held.user_data;
    completion.result = static_cast<int32_t>(held.bytes.size());
    completion.more = true;
    completion.datagram = &datagram;
    handler(completion);
  }
}

absl::StatusOr<int> FaultInjectingBackend::Poll(
    std::optional<TimePoint> deadline,
    absl::FunctionRef<void(const Completion&)> handler) {
  ++poll_count_;
  // Sends that were judged already count as done; held datagrams are due
  // at the end of this call. Neither may wait for the caller's deadline.
  std::vector<CompletedSend> due;
  std::swap(due, completed_sends_);
  if (!due.empty()) {
    deadline = Clock::now();
  } else if (!held_receives_.empty() || !held_sends_.empty()) {
    const TimePoint soon = Clock::now() + std::chrono::milliseconds(1);
    if (!deadline.has_value() || soon < *deadline) deadline = soon;
  }
  int handled = 0;
  auto counting = [&](const Completion& c) {
    ++handled;
    handler(c);
  };
  absl::StatusOr<int> polled = inner_->Poll(deadline, [&](const Completion& c) {
    if (c.datagram != nullptr && c.result >= 0) {
      OnReceive(c, counting);
    } else {
      counting(c);
    }
  });
  if (!polled.ok()) return polled.status();
  for (const CompletedSend& send : due) {
    Completion completion;
    completion.user_data = send.user_data;
    completion.result = send.result;
    counting(completion);
  }
  ReleaseHeld(counting);
  return handled;
}

}  // namespace

std::unique_ptr<EventBackend> InjectFaults(std::unique_ptr<EventBackend> inner,
                                           const FaultPlan& plan) {
  return std::make_unique<FaultInjectingBackend>(std::move(inner), plan);
}

FaultCounts CountFaults(const EventBackend& backend) {
  const auto* faulty = dynamic_cast<const FaultInjectingBackend*>(&backend);
  return faulty != nullptr ? faulty->counts() : FaultCounts{};
}

}  // namespace io
