#include <pwd.h>

#include <algorithm>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "server/api/log.h"
#include "server/daemon/flags.h"
#include "server/daemon/process.h"

namespace tftpd {

namespace {

// Where and how it listens: root, address, shards, backend, listener.
absl::Status ListeningFromFlags(ServerConfig& config) {
  config.root = FLAGS_root.empty() ? DefaultRoot() : FLAGS_root;
  if (config.root.empty()) {
    return absl::InvalidArgumentError(
        "no --root given and the bundled example root was not found");
  }
  if (FLAGS_port < 0 || FLAGS_port > 65535) {
    return absl::InvalidArgumentError("--port must be 0..65535");
  }
  std::optional<io::SocketAddress> address = io::SocketAddress::Parse(
      FLAGS_address, static_cast<uint16_t>(FLAGS_port));
  if (!address.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--address: not an IP address: ", FLAGS_address));
  }
  config.address = *address;
  config.threads = FLAGS_threads > 0
                       ? FLAGS_threads
                       : std::max(1u, std::thread::hardware_concurrency());
  std::optional<io::BackendKind> backend =
      io::ParseBackendKind(FLAGS_io_backend);
  if (!backend.has_value()) {
    return absl::InvalidArgumentError(
        "--io_backend must be auto, io_uring, epoll or kqueue");
  }
  config.io_backend = *backend;
  if (!FLAGS_inject_faults.empty()) {
    absl::StatusOr<io::FaultPlan> plan =
        io::ParseFaultPlan(FLAGS_inject_faults);
    if (!plan.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--inject_faults: ", plan.status().message()));
    }
    config.faults = *plan;
  }
  if (FLAGS_listener == "reuseport") {
    config.listener = ListenerMode::kReusePort;
  } else if (FLAGS_listener == "single") {
    config.listener = ListenerMode::kSingle;
  } else if (FLAGS_listener != "auto") {
    return absl::InvalidArgumentError(
        "--listener must be auto, reuseport or single");
  }
  config.single_port = FLAGS_single_port;
  config.single_port_uploads = FLAGS_single_port_uploads;
  return absl::OkStatus();
}

// What transfers may negotiate, and their timing.
absl::Status ProtocolFromFlags(ServerConfig& config) {
  if (FLAGS_blksize_max < tftp::kMinBlockSize ||
      FLAGS_blksize_max > tftp::kMaxBlockSize) {
    return absl::InvalidArgumentError("--blksize_max must be 8..65464");
  }
  if (FLAGS_windowsize_max < 1 ||
      FLAGS_windowsize_max > tftp::kMaxGrantedWindowSize) {
    // Larger windows let a late ACK alias a block of the current window.
    return absl::InvalidArgumentError(absl::StrCat(
        "--windowsize_max must be 1..", tftp::kMaxGrantedWindowSize,
        " (16-bit block numbers: a larger window lets a late ACK name a "
        "block of the current one)"));
  }
  config.limits.max_blksize = static_cast<uint16_t>(FLAGS_blksize_max);
  config.limits.max_windowsize = static_cast<uint16_t>(FLAGS_windowsize_max);
  if (!(FLAGS_timeout > 0) || !(FLAGS_max_timeout >= FLAGS_timeout)) {
    return absl::InvalidArgumentError(
        "--timeout must be positive and --max_timeout at least --timeout");
  }
  config.transfer.timeout = std::chrono::duration_cast<tftp::Duration>(
      std::chrono::duration<double>(FLAGS_timeout));
  config.transfer.max_timeout = std::chrono::duration_cast<tftp::Duration>(
      std::chrono::duration<double>(FLAGS_max_timeout));
  if (FLAGS_retries < 0) {
    return absl::InvalidArgumentError("--retries must not be negative");
  }
  config.transfer.max_retries = FLAGS_retries;
  config.transfer.resend_on_duplicate_ack = FLAGS_resend_on_duplicate_ack;
  return absl::OkStatus();
}

// The bounds on transfers and peers, and the process's own settings.
absl::Status LimitsFromFlags(ServerConfig& config) {
  if (FLAGS_max_sessions != 0) {
    TFTPD_LOG(kWarning, "--max_sessions is now --max_transfers");
    FLAGS_max_transfers = FLAGS_max_sessions;
  }
  if (FLAGS_max_sessions_per_address != -1) {
    TFTPD_LOG(kWarning,
              "--max_sessions_per_address is now --max_transfers_per_address");
    FLAGS_max_transfers_per_address = FLAGS_max_sessions_per_address;
  }
  if (FLAGS_max_transfers < 1) {
    return absl::InvalidArgumentError("--max_transfers must be at least 1");
  }
  config.max_transfers = static_cast<size_t>(FLAGS_max_transfers);
  if (FLAGS_max_transfers_per_address < 0 ||
      FLAGS_requests_per_second_per_address < 0 ||
      FLAGS_unverified_bytes_max < 0) {
    return absl::InvalidArgumentError(
        "--max_transfers_per_address, --requests_per_second_per_address and "
        "--unverified_bytes_max must not be negative");
  }
  config.address_limits.max_transfers =
      static_cast<uint32_t>(FLAGS_max_transfers_per_address);
  config.address_limits.requests_per_second =
      static_cast<uint32_t>(FLAGS_requests_per_second_per_address);
  config.address_limits.unverified_bytes =
      static_cast<uint32_t>(FLAGS_unverified_bytes_max);
  if (!(FLAGS_unanswered_timeout > 0)) {
    return absl::InvalidArgumentError("--unanswered_timeout must be positive");
  }
  config.unanswered_timeout = std::chrono::milliseconds(
      static_cast<int64_t>(FLAGS_unanswered_timeout * 1000));
  if (FLAGS_rcvbuf < 0) {
    return absl::InvalidArgumentError("--rcvbuf must not be negative");
  }
  config.receive_buffer = static_cast<size_t>(FLAGS_rcvbuf);
  if (FLAGS_spin_us < 0 || FLAGS_spin_us > 1'000'000) {
    return absl::InvalidArgumentError(
        "--spin_us must be between 0 and 1000000");
  }
  config.spin = std::chrono::microseconds(FLAGS_spin_us);
  config.shutdown_grace = std::chrono::milliseconds(
      static_cast<int64_t>(std::max(0.0, FLAGS_shutdown_grace) * 1000));
  if (FLAGS_portable_resolver) {
    config.resolver = RootDirectory::Resolver::kPortable;
  }
  config.permissive = FLAGS_permissive;
  if (!FLAGS_user.empty() && getpwnam(FLAGS_user.c_str()) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--user: no such user: ", FLAGS_user));
  }
  return absl::OkStatus();
}

// Statistics intervals and streaming sources' patience.
absl::Status TimingFromFlags(ServerConfig& config) {
  if (!(FLAGS_stats_interval >= 0) || !(FLAGS_source_timeout > 0)) {
    return absl::InvalidArgumentError(
        "--stats_interval must not be negative and --source_timeout must be "
        "positive");
  }
  if (FLAGS_stats_interval > 0) {  // 0 keeps the default for callbacks.
    config.stats_interval = std::chrono::milliseconds(std::max<int64_t>(
        1, static_cast<int64_t>(FLAGS_stats_interval * 1000)));
  }
  config.source_timeout = std::chrono::milliseconds(
      static_cast<int64_t>(FLAGS_source_timeout * 1000));
  return absl::OkStatus();
}

// Uploads: where, which, how large, with which permission bits.
absl::Status UploadsFromFlags(ServerConfig& config) {
  config.allow_write = FLAGS_allow_write;
  config.write_root = FLAGS_write_root;
  config.upload_policy.create = FLAGS_create;
  config.upload_policy.overwrite = FLAGS_overwrite;
  if (FLAGS_commit_queue < 1) {
    return absl::InvalidArgumentError("--commit_queue must be at least 1");
  }
  config.commit_queue = static_cast<size_t>(FLAGS_commit_queue);
  config.upload_policy.overwrite_any = FLAGS_permissive;
  unsigned umask_bits = 0;
  if (FLAGS_umask.empty() || FLAGS_umask.size() > 4 ||
      FLAGS_umask.find_first_not_of("01234567") != std::string::npos ||
      (umask_bits = std::stoul(FLAGS_umask, nullptr, 8)) > 0777) {
    return absl::InvalidArgumentError(
        "--umask must be octal permission bits, 000..777");
  }
  config.upload_policy.umask = static_cast<mode_t>(umask_bits);
  if (FLAGS_max_upload_bytes < 0) {
    return absl::InvalidArgumentError(
        "--max_upload_bytes must not be negative");
  }
  if (FLAGS_max_upload_bytes > 0) {
    config.limits.max_upload_size =
        static_cast<uint64_t>(FLAGS_max_upload_bytes);
  }
  if (FLAGS_single_port_uploads && !FLAGS_single_port) {
    return absl::InvalidArgumentError(
        "--single_port_uploads needs --single_port");
  }
  if ((FLAGS_create || FLAGS_overwrite || !FLAGS_write_root.empty()) &&
      !FLAGS_allow_write) {
    return absl::InvalidArgumentError(
        "--create, --overwrite and --write_root need --allow_write");
  }
  return absl::OkStatus();
}

// --map_file, loaded now so that a file with errors stops the start.
absl::Status MapFromFlags(ServerConfig& config) {
  if (!FLAGS_map_file.empty()) {
    absl::StatusOr<std::shared_ptr<const RemapRules>> rules =
        RemapRules::Load(FLAGS_map_file);
    if (!rules.ok()) return rules.status();
    config.remap = std::make_shared<RemapTable>();
    config.remap->set(*rules);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerConfig> ConfigFromFlags() {
  ServerConfig config;
  for (absl::Status (*step)(ServerConfig&) :
       {ListeningFromFlags, ProtocolFromFlags, LimitsFromFlags, TimingFromFlags,
        UploadsFromFlags, MapFromFlags}) {
    if (absl::Status s = step(config); !s.ok()) return s;
  }
  return config;
}

}  // namespace tftpd
