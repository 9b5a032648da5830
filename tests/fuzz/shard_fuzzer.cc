// Fuzz target: a whole shard over the in-memory backend (no socket, a clock
// that moves only when the input says), driven by a sequence decoded from
// the input: requests and raw datagrams from several peers to the service
// port, ACKs, DATA (some longer than any receive buffer), ERRORs and junk
// from the right or a wrong peer to transfers' sockets, clock steps, and a
// stop. After every step it checks that nothing crashed, that the transfer
// table and send slots are consistent (each slot free or owned once), that
// nothing leaves a socket after it was closed, and that what goes to an
// address that never answered stays within what its datagrams earned (a
// request's first answer and a repeat; in single-port mode 32 KiB a
// datagram) and its unverified budget.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/api/log.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/server/engine/memory_shard.h"

namespace {

using tftpd::testing::MemoryShard;

#define Check(condition)                                      \
  do {                                                        \
    if (!(condition)) {                                       \
      std::fprintf(stderr, "shard fuzzer: %s\n", #condition); \
      std::abort();                                           \
    }                                                         \
  } while (0)

// Responses by the first letter of the name; uploads go nowhere.
class FuzzHandler : public tftpd::RequestHandler {
 public:
  tftpd::Response Handle(const tftpd::RequestContext& request) override {
    const char first = request.path.empty() ? 'x' : request.path[0];
    switch (first) {
      case 'f':
        return tftpd::Response::File("f");
      case 'r':
        return tftpd::Response::Refuse(tftp::ErrorCode::kAccessViolation, "no");
      case 'e':
        return tftpd::Response::Bytes("");
      default:
        return tftpd::Response::Bytes(
            std::string(request.path.size() * 700, 'b'));
    }
  }
  tftpd::UploadResponse HandleUpload(
      const tftpd::RequestContext& request) override {
    if (!request.path.empty() && request.path[0] == 'r') {
      return tftpd::UploadResponse::Refuse(tftp::ErrorCode::kDiskFull, "full");
    }
    return tftpd::UploadResponse::Sink(std::make_shared<NullSink>());
  }

 private:
  class NullSink : public tftpd::UploadSink {
   public:
    absl::Status Write(uint64_t, absl::Span<const uint8_t>) override {
      return absl::OkStatus();
    }
    absl::Status Commit(uint64_t) override { return absl::OkStatus(); }
    void Abandon() override {}
  };
};

const std::string& Root() {
  static const std::string* root = [] {
    char dir[] = "/tmp/tftpd-shard-fuzz-XXXXXX";
    Check(mkdtemp(dir) != nullptr);
    const std::string path = std::string(dir) + "/f";
    FILE* f = fopen(path.c_str(), "w");
    Check(f != nullptr);
    const std::string bytes(3000, 'f');
    fwrite(bytes.data(), 1, bytes.size(), f);
    fclose(f);
    chmod(path.c_str(), 0644);
    return new std::string(dir);
  }();
  return *root;
}

std::string Request(FuzzInput& in) {
  static const char* const kNames[] = {"f", "bb", "e", "r", "bbbbbbbb", "x"};
  const uint8_t shape = in.Byte();
  std::string packet = {0, static_cast<char>((shape & 1) ? 2 : 1)};
  packet += kNames[(shape >> 1) % 6];
  packet += '\0';
  packet += (shape & 0x10) ? "netascii" : "octet";
  packet += '\0';
  if (shape & 0x20)
    packet += absl::StrCat("blksize", std::string(1, '\0'),
                           8 + in.U16() % 65460, std::string(1, '\0'));
  if (shape & 0x40)
    packet += absl::StrCat("windowsize", std::string(1, '\0'), in.Byte() % 70,
                           std::string(1, '\0'));
  if (shape & 0x80)
    packet += absl::StrCat("tsize", std::string(1, '\0'), in.U16(),
                           std::string(1, '\0'));
  return packet;
}

std::string ToTransfer(FuzzInput& in) {
  const uint8_t kind = in.Byte() % 5;
  const uint16_t block = in.U16();
  std::string packet = {0,
                        static_cast<char>(kind == 0   ? 4
                                          : kind == 1 ? 3
                                                      : 5),
                        static_cast<char>(block >> 8),
                        static_cast<char>(block & 0xff)};
  switch (kind) {
    case 0:  // ACK
      return packet;
    case 1:  // DATA, sometimes longer than any receive buffer.
      return packet + std::string(in.Byte() & 1 ? 70000 : in.U16() % 2000, 'd');
    case 2:  // ERROR
      return packet + "bye" + std::string(1, '\0');
    default:
      const absl::Span<const uint8_t> raw = in.Bytes(in.Byte() % 16);
      return std::string(raw.begin(), raw.end());
  }
}

io::SocketAddress Peer(uint8_t p) {
  io::SocketAddress a =
      *io::SocketAddress::Parse(absl::StrCat("127.0.3.", 1 + (p % 8) / 2), 0);
  a.set_port(static_cast<uint16_t>(1000 + p % 2));
  return a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Thousands of inputs would flood the log: errors only.
  static const bool quiet = [] {
    tftpd::SetLogLevel(tftpd::LogLevel::kError);
    return true;
  }();
  (void)quiet;
  FuzzInput in(data, size);
  tftpd::ServerConfig config;
  config.root = Root();
  config.threads = 1;
  const uint8_t mode = in.Byte();
  config.single_port = (mode & 1) != 0;
  config.allow_write = (mode & 2) != 0;
  config.single_port_uploads = (mode & 4) != 0;
  config.max_transfers = 1 + (mode >> 4) % 6;
  config.address_limits.requests_per_second = 20;
  config.transfer.timeout = std::chrono::seconds(1);
  config.transfer.max_timeout = std::chrono::seconds(2);
  config.transfer.max_retries = 2;
  config.source_timeout = std::chrono::seconds(3);
  config.shutdown_grace = std::chrono::seconds(2);
  config.max_netascii_size = 2000;
  // Few send slots: windows and ERRORs meet a full pool.
  config.send_slots = 16;
  MemoryShard m(config, std::make_shared<FuzzHandler>());
  Check(m.status().ok());

  std::map<int, io::SocketAddress> peer_of;  // Transfer socket -> client.
  std::set<std::string> answered;            // Addresses that answered.
  // Per address: datagrams it sent, and bytes sent to it.
  std::map<std::string, size_t> datagrams_from;
  std::map<std::string, size_t> sent_to;
  const auto started = m.now();
  auto deliver = [&](int fd, const io::SocketAddress& from,
                     absl::Span<const uint8_t> bytes) {
    ++datagrams_from[from.Unmapped().HostString()];
    m.Deliver(fd, from, bytes);
  };
  auto settle = [&] {
    std::vector<io::SentDatagram> sent;
    const bool running = m.TurnUntilIdle(&sent, 5000);
    const absl::Status invariants = m.shard().CheckInvariants();
    if (!invariants.ok())
      std::fprintf(stderr, "%s\n", invariants.ToString().c_str());
    Check(invariants.ok());
    Check(m.bad_close() == -1);
    Check(m.sent_after_close() == -1);
    for (const io::SentDatagram& d : sent) {
      if (d.fd != MemoryShard::kServiceFd) {
        peer_of.emplace(d.fd, d.to);
      }
      const std::string host = d.to.Unmapped().HostString();
      if (answered.contains(host)) continue;
      // Each datagram earns a bounded answer; beyond, the budget (whose
      // windows open with their first count: a run of n minutes sees at
      // most n + 1 of them).
      const size_t earned =
          config.single_port ? tftpd::kDatagramCredit : tftpd::kRequestCredit;
      const size_t minutes = static_cast<size_t>(
          std::chrono::duration_cast<std::chrono::minutes>(m.now() - started)
              .count());
      size_t& bytes = sent_to[host];
      bytes += d.payload.size();
      Check(bytes <=
            datagrams_from[host] * earned +
                (minutes + 2) * config.address_limits.unverified_bytes);
    }
    return running;
  };

  bool running = true;
  for (int step = 0; running && step < 300 && !in.empty(); ++step) {
    const uint8_t op = in.Byte();
    const io::SocketAddress peer = Peer(op >> 3);
    switch (op % 6) {
      case 0:
      case 1: {
        const std::string packet = Request(in);
        deliver(
            MemoryShard::kServiceFd, peer,
            absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(packet.data()),
                                packet.size()));
        break;
      }
      case 2: {
        if (peer_of.empty()) break;
        auto it = peer_of.begin();
        std::advance(it, in.Byte() % peer_of.size());
        const bool own = (in.Byte() & 3) != 0;
        const io::SocketAddress from = own ? it->second : peer;
        if (own) answered.insert(from.Unmapped().HostString());
        const std::string packet = ToTransfer(in);
        deliver(
            config.single_port ? MemoryShard::kServiceFd : it->first, from,
            absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(packet.data()),
                                packet.size()));
        break;
      }
      case 3: {
        deliver(MemoryShard::kServiceFd, peer, in.Bytes(in.Byte() % 32));
        break;
      }
      case 4:
        m.Advance(std::chrono::milliseconds(in.U16() % 4000));
        break;
      case 5:
        if ((in.Byte() & 7) == 0) m.shard().RequestStop(in.Byte() & 1);
        break;
    }
    running = settle();
  }
  // A stop ends everything within the grace period and the drain after it.
  m.shard().RequestStop(/*immediate=*/false);
  for (int i = 0; running && i < 10; ++i) {
    running = settle();
    m.Advance(std::chrono::seconds(1));
  }
  Check(!running);
  Check(m.shard().open_transfers() == 0);
  return 0;
}
