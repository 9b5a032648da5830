#include "io/memory_backend.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "io/control_messages.h"

namespace io {

MemoryBackend::MemoryBackend(const BackendOptions& options,
                             std::function<TimePoint()> now)
    : options_(options), now_(std::move(now)) {}

void MemoryBackend::Deliver(int fd, const SocketAddress& source,
                            const SocketAddress& destination,
                            absl::Span<const uint8_t> payload) {
  auto held = std::make_unique<HeldDatagram>();
  held->bytes.assign(payload.begin(), payload.end());
  held->datagram.source = source;
  held->datagram.destination = destination;
  if (receives_.contains(fd)) {
    DeliverHeld(fd, std::move(held));
  } else {
    queued_[fd].push_back(std::move(held));
  }
}

void MemoryBackend::DeliverHeld(int fd, std::unique_ptr<HeldDatagram> held) {
  const Armed& armed = receives_.at(fd);
  // Cut to the receive's buffer, as a kernel cuts what does not fit.
  held->datagram.truncated = held->bytes.size() > armed.buffer_size;
  if (held->datagram.truncated) held->bytes.resize(armed.buffer_size);
  held->datagram.payload = absl::MakeConstSpan(held->bytes);
  Ready ready;
  ready.completion.user_data = armed.user_data;
  ready.completion.result = static_cast<int32_t>(held->bytes.size());
  ready.completion.more = true;
  ready.held = std::move(held);
  ready_.push_back(std::move(ready));
}

std::vector<SentDatagram> MemoryBackend::TakeSent() {
  std::vector<SentDatagram> sent;
  sent.swap(sent_);
  return sent;
}

void MemoryBackend::Receive(int fd, uint64_t user_data) {
  Arm(fd, user_data, options_.receive_buffer_size);
}

void MemoryBackend::ReceiveLarge(int fd, uint64_t user_data) {
  Arm(fd, user_data,
      options_.large_receive_buffers > 0 ? options_.large_receive_buffer_size
                                         : options_.receive_buffer_size);
}

void MemoryBackend::Arm(int fd, uint64_t user_data, size_t buffer_size) {
  ++stats_.operations;
  receives_[fd] = Armed{user_data, buffer_size};
  auto queued = queued_.find(fd);
  if (queued == queued_.end()) return;
  for (auto& held : queued->second) DeliverHeld(fd, std::move(held));
  queued_.erase(queued);
}

void MemoryBackend::Send(int fd, const msghdr* message, uint64_t user_data) {
  ++stats_.operations;
  ++sends_submitted_;
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < message->msg_iovlen; ++i) {
    const auto* base =
        static_cast<const uint8_t*>(message->msg_iov[i].iov_base);
    bytes.insert(bytes.end(), base, base + message->msg_iov[i].iov_len);
  }
  size_t segment = 0;
  Datagram control;
  SocketAddress ipv6_source;
  if (message->msg_control != nullptr) {
    for (const cmsghdr* c = CMSG_FIRSTHDR(message); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(message),
                         const_cast<cmsghdr*>(c))) {
#ifdef UDP_SEGMENT
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT) {
        uint16_t size;
        std::memcpy(&size, CMSG_DATA(c), sizeof size);
        segment = size;
        continue;
      }
#endif
      // A source chosen on send reads as a destination reported on receive.
      ReadControlMessage(c, &control, &ipv6_source);
    }
  }
  if (control.destination.family() == AF_UNSPEC) {
    control.destination = ipv6_source;
  }
  Ready ready;
  ready.completion.user_data = user_data;
  ready.completion.result =
      send_error_ != 0 ? -send_error_ : static_cast<int32_t>(bytes.size());
  ready_.push_back(std::move(ready));
  if (send_error_ != 0) return;
  const SocketAddress to(static_cast<const sockaddr*>(message->msg_name),
                         message->msg_namelen);
  const size_t step = segment > 0 ? segment : std::max<size_t>(bytes.size(), 1);
  for (size_t offset = 0; offset < bytes.size() || offset == 0;
       offset += step) {
    const size_t end = std::min(bytes.size(), offset + step);
    sent_.push_back(SentDatagram{
        fd, to, control.destination,
        std::vector<uint8_t>(bytes.begin() + offset, bytes.begin() + end),
        sends_submitted_});
    if (end == bytes.size()) break;
  }
}

void MemoryBackend::Read(int fd, uint64_t offset, absl::Span<uint8_t> buffer,
                         uint64_t user_data) {
  ++stats_.operations;
  reads_.push_back(PendingRead{fd, offset, buffer, user_data});
}

void MemoryBackend::Timer(TimePoint deadline, uint64_t user_data) {
  ++stats_.operations;
  timers_.push_back(PendingTimer{deadline, user_data});
}

void MemoryBackend::Cancel(uint64_t user_data) {
  auto cancelled = [&](uint64_t data) {
    Ready ready;
    ready.completion.user_data = data;
    ready.completion.result = -ECANCELED;
    ready_.push_back(std::move(ready));
  };
  for (auto it = receives_.begin(); it != receives_.end();) {
    if (it->second.user_data == user_data) {
      cancelled(user_data);
      receives_.erase(it++);
    } else {
      ++it;
    }
  }
  auto end_reads =
      std::remove_if(reads_.begin(), reads_.end(), [&](const PendingRead& r) {
        if (r.user_data != user_data) return false;
        cancelled(user_data);
        return true;
      });
  reads_.erase(end_reads, reads_.end());
  auto end_timers = std::remove_if(timers_.begin(), timers_.end(),
                                   [&](const PendingTimer& t) {
                                     if (t.user_data != user_data) return false;
                                     cancelled(user_data);
                                     return true;
                                   });
  timers_.erase(end_timers, timers_.end());
}

void MemoryBackend::CollectReads(int timeout_ms) {
  if (reads_.empty()) return;
  std::vector<pollfd> fds;
  for (const PendingRead& r : reads_) fds.push_back({r.fd, POLLIN, 0});
  if (poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
  std::vector<PendingRead> still;
  for (size_t i = 0; i < reads_.size(); ++i) {
    const PendingRead& r = reads_[i];
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      still.push_back(r);
      continue;
    }
    // At the read's offset, as the other backends read files; a pipe has
    // no offset.
    ssize_t n = pread(r.fd, r.buffer.data(), r.buffer.size(),
                      static_cast<off_t>(r.offset));
    if (n < 0 && errno == ESPIPE) {
      n = read(r.fd, r.buffer.data(), r.buffer.size());
    }
    if (n < 0 && errno == EAGAIN) {
      still.push_back(r);
      continue;
    }
    Ready ready;
    ready.completion.user_data = r.user_data;
    ready.completion.result = n < 0 ? -errno : static_cast<int32_t>(n);
    ready_.push_back(std::move(ready));
  }
  reads_.swap(still);
}

void MemoryBackend::CollectTimers() {
  const TimePoint now = now_();
  auto end = std::remove_if(timers_.begin(), timers_.end(),
                            [&](const PendingTimer& t) {
                              if (t.deadline > now) return false;
                              Ready ready;
                              ready.completion.user_data = t.user_data;
                              ready_.push_back(std::move(ready));
                              return true;
                            });
  timers_.erase(end, timers_.end());
}

absl::StatusOr<int> MemoryBackend::Poll(
    std::optional<TimePoint> deadline,
    absl::FunctionRef<void(const Completion&)> handler) {
  ++stats_.enter_calls;
  CollectReads(0);
  CollectTimers();
  if (ready_.empty() && wait_for_descriptors_) {
    CollectReads(static_cast<int>(wait_limit_.count()));
  }
  // What the handler queues now completes in the next Poll, as a ring's
  // submissions do.
  std::deque<Ready> batch;
  batch.swap(ready_);
  for (Ready& r : batch) {
    if (r.held != nullptr) r.completion.datagram = &r.held->datagram;
    ++stats_.completions;
    handler(r.completion);
  }
  return static_cast<int>(batch.size());
}

}  // namespace io
