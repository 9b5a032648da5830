// tftp_loadgen: simulates many booting clients against a TFTP server and
// reports what they saw. Exit status: 0 when every transfer succeeded, 1 when
// any failed, 2 for bad flags.
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gflags/gflags.h"
#include "tools/loadgen/load_generator.h"

DEFINE_string(host, "127.0.0.1", "Server address (IPv4 or IPv6).");
DEFINE_int32(port, 69, "Server port.");
DEFINE_string(files, "",
              "Comma-separated files to request, round-robin (required).");
DEFINE_string(
    verify_dir, "",
    "Directory with local copies of the files: every download is "
    "compared byte for byte. Empty: sizes are checked against tsize.");
DEFINE_int32(concurrency, 100, "Clients transferring at once.");
DEFINE_int64(transfers, 1000, "Transfers in all.");
DEFINE_int32(blksize, 0, "blksize to ask for (0: do not ask).");
DEFINE_int32(windowsize, 0, "windowsize to ask for (0: do not ask).");
DEFINE_bool(tsize, true, "Ask for tsize.");
DEFINE_bool(uefi_probe, false,
            "UEFI's shape: an RRQ with tsize ended by ERROR 8 after the OACK, "
            "then the real download.");
DEFINE_double(timeout, 1.0, "Client retransmission timeout in seconds.");
DEFINE_int32(retries, 5, "Client retransmissions before giving up.");
DEFINE_double(ramp_up, 0, "Seconds over which the first clients start.");
DEFINE_double(time_limit, 300, "Seconds before the run is cut short.");
DEFINE_int32(threads, 1, "Generator threads, each with its own io_uring.");
DEFINE_bool(distinct_sources, true,
            "Against a server on 127.x.y.z: each simulated client sends from "
            "its own loopback address (127.1.0.0 onwards), as machines in a "
            "rack do, so that per-address limits see many clients.");
DEFINE_bool(shared_socket, false,
            "No socket per client: one socket per thread, each client sending "
            "from a loopback address of its own (IP_PKTINFO), told apart by "
            "where replies are sent. For more clients than the descriptor "
            "limit allows; the server must be on 127.0.0.0/8.");
DEFINE_string(inject_faults, "",
              "A bad network on the clients' side, the same for every server: "
              "lose, duplicate and delay datagrams in both directions, e.g. "
              "loss=0.01,seed=7 (the syntax of tftpd's --inject_faults).");
DEFINE_bool(busy_poll, false,
            "Spin instead of sleeping while waiting for packets: the lowest "
            "latency per packet (single-client measurements), a busy core.");
DEFINE_string(io_backend, "auto",
              "Event backend: auto (io_uring, else epoll), io_uring or epoll.");
DEFINE_bool(json, false, "Print one JSON object instead of the table.");
DEFINE_bool(log_failures, false,
            "Print a line on stderr for each failed transfer: the client's "
            "address, the server's, how far it got and how it ended.");
DEFINE_bool(progress, true, "Print a progress line every second (stderr).");

namespace {

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

int Main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "simulates many booting TFTP clients\n"
      "usage: tftp_loadgen --host=H --port=P --files=a,b [flags]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  loadgen::LoadConfig config;
  std::optional<io::SocketAddress> server =
      io::SocketAddress::Parse(FLAGS_host, static_cast<uint16_t>(FLAGS_port));
  if (!server.has_value() || FLAGS_port < 1 || FLAGS_port > 65535) {
    std::fprintf(stderr, "tftp_loadgen: --host/--port: not an address\n");
    return 2;
  }
  config.server = *server;
  config.files = absl::StrSplit(FLAGS_files, ',', absl::SkipEmpty());
  if (config.files.empty()) {
    std::fprintf(stderr, "tftp_loadgen: --files is required\n");
    return 2;
  }
  if (FLAGS_blksize != 0 && (FLAGS_blksize < 8 || FLAGS_blksize > 65464)) {
    std::fprintf(stderr, "tftp_loadgen: --blksize must be 8..65464\n");
    return 2;
  }
  if (FLAGS_windowsize < 0 || FLAGS_windowsize > 65535) {
    std::fprintf(stderr, "tftp_loadgen: --windowsize must be 0..65535\n");
    return 2;
  }
  config.verify_dir = FLAGS_verify_dir;
  config.concurrency = FLAGS_concurrency;
  config.transfers = FLAGS_transfers;
  config.blksize = static_cast<uint16_t>(FLAGS_blksize);
  config.windowsize = static_cast<uint16_t>(FLAGS_windowsize);
  config.tsize = FLAGS_tsize;
  config.uefi_probe = FLAGS_uefi_probe;
  config.timeout = Millis(FLAGS_timeout);
  config.retries = FLAGS_retries;
  config.ramp_up = Millis(FLAGS_ramp_up);
  config.time_limit = Millis(FLAGS_time_limit);
  config.threads = FLAGS_threads;
  config.busy_poll = FLAGS_busy_poll;
  config.log_failures = FLAGS_log_failures;
  config.distinct_sources = FLAGS_distinct_sources;
  config.shared_socket = FLAGS_shared_socket;
  if (!FLAGS_inject_faults.empty()) {
    absl::StatusOr<io::FaultPlan> plan =
        io::ParseFaultPlan(FLAGS_inject_faults);
    if (!plan.ok()) {
      std::fprintf(stderr, "tftp_loadgen: --inject_faults: %s\n",
                   std::string(plan.status().message()).c_str());
      return 2;
    }
    config.faults = *plan;
  }
  std::optional<io::BackendKind> backend =
      io::ParseBackendKind(FLAGS_io_backend);
  if (!backend.has_value()) {
    std::fprintf(stderr,
                 "tftp_loadgen: --io_backend must be auto, io_uring, "
                 "epoll or kqueue\n");
    return 2;
  }
  config.io_backend = *backend;
  const bool tty = isatty(STDERR_FILENO);
  bool printed = false;
  auto progress = [&](const loadgen::LoadProgress& p) {
    printed = true;
    std::fprintf(stderr,
                 "%s[%5.0f s] %lld/%lld done, %lld ok, %lld active, %.1f MB%s",
                 tty ? "\r" : "", p.seconds, static_cast<long long>(p.done),
                 static_cast<long long>(FLAGS_transfers),
                 static_cast<long long>(p.ok), static_cast<long long>(p.active),
                 static_cast<double>(p.bytes) / 1e6, tty ? "" : "\n");
  };
  absl::StatusOr<loadgen::LoadReport> report = loadgen::RunLoad(
      config, FLAGS_progress
                  ? std::function<void(const loadgen::LoadProgress&)>(progress)
                  : nullptr);
  if (tty && printed) std::fprintf(stderr, "\n");
  if (!report.ok()) {
    std::fprintf(stderr, "tftp_loadgen: %s\n",
                 std::string(report.status().message()).c_str());
    return 2;
  }
  const std::string out =
      FLAGS_json ? report->ToJson() + "\n" : report->ToTable();
  std::fputs(out.c_str(), stdout);
  return report->transfers_failed() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
