#include "tests/integration/concurrent_downloads.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "protocol/packet.h"
#include "protocol/transfer.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Compares what arrives with the expected file (rotated), keeping nothing.
class VerifyingSink : public tftp::WriteSink {
 public:
  VerifyingSink(const std::string* expected, size_t rotation)
      : expected_(expected), rotation_(rotation) {}
  tftp::ProtocolStatus Write(uint64_t offset,
                             absl::Span<const uint8_t> bytes) override {
    const size_t size = expected_->size();
    if (offset + bytes.size() > size) {
      mismatch = true;
      return tftp::ProtocolStatus::Ok();
    }
    // At most two pieces: up to the end of the expected bytes, then from
    // their start.
    size_t done = 0;
    while (done < bytes.size()) {
      const size_t at = (offset + done + rotation_) % size;
      const size_t n = std::min(bytes.size() - done, size - at);
      if (std::memcmp(expected_->data() + at, bytes.data() + done, n) != 0) {
        mismatch = true;
      }
      done += n;
    }
    return tftp::ProtocolStatus::Ok();
  }
  tftp::ProtocolStatus Finish(uint64_t total) override {
    if (total != expected_->size()) mismatch = true;
    return tftp::ProtocolStatus::Ok();
  }
  bool mismatch = false;

 private:
  const std::string* expected_;
  const size_t rotation_;
};

struct Client {
  int fd = -1;
  std::unique_ptr<VerifyingSink> sink;
  std::unique_ptr<tftp::DownloadTransfer> transfer;
  std::optional<io::SocketAddress> server_tid;
  tftp::DownloadRequest request;
  bool counted = false;    // Its outcome is in the report.
  bool requested = false;  // Its request was sent.
  std::chrono::microseconds first_reply{0};
  // The first reply's opcode and first two bytes after it (a block number
  // or error code), for the report of a failed job.
  std::string first_reply_kind;
  // Datagrams from another port than the server's TID, answered ERROR 5.
  int strays = 0;
  bool done = false;  // Its socket is closed.
};

std::string Describe(const Client& c, const std::string& reason) {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  getsockname(c.fd, reinterpret_cast<sockaddr*>(&local), &length);
  return "client=" +
         io::SocketAddress(reinterpret_cast<sockaddr*>(&local), length)
             .ToString() +
         " file=" + c.request.filename +
         " blksize=" + std::to_string(c.request.blksize) +
         " windowsize=" + std::to_string(c.request.windowsize) +
         " packets_received=" +
         std::to_string(c.transfer->counters().packets_received) +
         " first_reply=" +
         (c.server_tid.has_value()
              ? c.server_tid->ToString() + " " + c.first_reply_kind
              : std::string("none")) +
         " strays=" + std::to_string(c.strays) + " reason=" + reason;
}

}  // namespace

DownloadReport RunConcurrentDownloads(const io::SocketAddress& server,
                                      const std::vector<DownloadJob>& jobs,
                                      const DownloadOptions& options) {
  DownloadReport report;
  const int epoll = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Client> clients(jobs.size());
  const auto start = Clock::now();
  for (size_t i = 0; i < jobs.size(); ++i) {
    Client& c = clients[i];
    // Each client from an address of its own, as machines are: the server's
    // per-address limits see a rack, not one host.
    const io::SocketAddress local =
        ClientAddress(options.first_address + i, server.family());
    c.fd = socket(local.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    bind(c.fd, local.get(), local.length());
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = i;
    epoll_ctl(epoll, EPOLL_CTL_ADD, c.fd, &event);
    c.sink =
        std::make_unique<VerifyingSink>(jobs[i].expected, jobs[i].rotation);
    c.request = jobs[i].request;
    c.transfer = std::make_unique<tftp::DownloadTransfer>(
        options.client, jobs[i].request, c.sink.get());
    c.transfer->Start(start);
  }
  std::vector<uint8_t> buffer(70000);
  size_t remaining = clients.size();
  auto count = [&](Client& c) {
    c.counted = true;
    if (c.transfer->transfer_complete() && !c.sink->mismatch) {
      ++report.completed;
      report.first_reply.push_back(c.first_reply);
      report.duration.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() -
                                                                start));
    } else if (c.sink->mismatch) {
      ++report.failures["content mismatch"];
      report.failed_jobs.push_back(Describe(c, "content mismatch"));
    } else {
      const tftp::TransferResult& r = c.transfer->result();
      std::string reason = tftp::TransferOutcomeName(r.outcome);
      if (r.error_code != 0 || !r.error_message.empty()) {
        reason += " " + std::to_string(r.error_code) + " " + r.error_message;
      }
      ++report.failures[reason];
      report.failed_jobs.push_back(Describe(c, reason));
    }
  };
  auto flush = [&](Client& c) {
    while (c.transfer->HasOutgoing()) {
      const tftp::Outgoing out =
          c.transfer->NextOutgoing(absl::MakeSpan(buffer));
      const io::SocketAddress& to =
          c.server_tid.has_value() ? *c.server_tid : server;
      const int copies = !c.requested && options.repeat_request ? 2 : 1;
      for (int copy = 0; copy < copies; ++copy) {
        sendto(c.fd, buffer.data(), out.header_size, 0, to.get(), to.length());
      }
      c.requested = true;
    }
    const bool complete = c.transfer->transfer_complete();
    if (!c.counted && (complete || c.transfer->finished())) count(c);
    if (c.transfer->finished() || (complete && !options.dally)) {
      c.done = true;
      --remaining;
      close(c.fd);
    }
  };
  for (Client& c : clients) flush(c);
  std::vector<epoll_event> events(256);
  while (remaining > 0 && Clock::now() - start < options.limit) {
    const int n =
        epoll_wait(epoll, events.data(), static_cast<int>(events.size()), 10);
    const auto now = Clock::now();
    for (int e = 0; e < n; ++e) {
      Client& c = clients[events[e].data.u64];
      if (c.done) continue;
      while (!c.done) {
        sockaddr_storage from{};
        socklen_t length = sizeof from;
        const ssize_t got =
            recvfrom(c.fd, buffer.data(), buffer.size(), 0,
                     reinterpret_cast<sockaddr*>(&from), &length);
        if (got < 0) break;
        const io::SocketAddress source(reinterpret_cast<sockaddr*>(&from),
                                       length);
        if (!c.server_tid.has_value()) {
          c.server_tid = source;  // The first reply fixes the server's TID.
          c.first_reply_kind =
              got >= 4 ? "opcode " + std::to_string(buffer[1]) + " number " +
                             std::to_string(buffer[2] << 8 | buffer[3])
                       : "short";
          c.first_reply = std::chrono::duration_cast<std::chrono::microseconds>(
              now - start);
        } else if (source != *c.server_tid) {
          ++c.strays;
          uint8_t error[64];
          const size_t size = tftp::EncodeUnknownTransferIdError(error);
          sendto(c.fd, error, size, 0, source.get(), source.length());
          continue;
        }
        c.transfer->OnDatagram(
            absl::MakeConstSpan(buffer.data(), static_cast<size_t>(got)), now);
        flush(c);
      }
    }
    for (Client& c : clients) {
      if (c.done) continue;
      const std::optional<tftp::TimePoint> deadline = c.transfer->deadline();
      if (deadline.has_value() && *deadline <= now) {
        c.transfer->OnDeadline(now);
        flush(c);
      }
    }
  }
  for (Client& c : clients) {
    if (c.done) continue;
    if (!c.counted) {
      ++report.failures["still running at the time limit"];
      report.failed_jobs.push_back(
          Describe(c, "still running at the time limit"));
    }
    close(c.fd);
  }
  close(epoll);
  return report;
}

std::chrono::microseconds Quantile(
    std::vector<std::chrono::microseconds>& samples, double q) {
  if (samples.empty()) return std::chrono::microseconds(0);
  std::sort(samples.begin(), samples.end());
  const size_t at =
      std::min(samples.size() - 1,
               static_cast<size_t>(q * static_cast<double>(samples.size())));
  return samples[at];
}

}  // namespace tftpd::testing
