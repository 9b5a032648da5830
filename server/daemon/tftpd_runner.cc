#include "server/daemon/tftpd_runner.h"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "server/observability/log.h"
#include "server/observability/metrics_http.h"
#include "server/uploads/postgres_upload_sink.h"
#include "server/files/remap_rules.h"
#include "server/api/server.h"

DEFINE_string(root, "",
              "Directory to serve. Empty: the bundled example root "
              "(tftproot/ in the source tree).");
DEFINE_string(address, "::",
              "Address to listen on, IPv4 or IPv6. The default '::' is "
              "dual-stack (IPv4 too); it falls back to 0.0.0.0 on hosts "
              "without IPv6.");
DEFINE_int32(port, 69,
             "UDP port. When left at its default and port 69 cannot be bound "
             "(not root, or in use), tftpd uses 6969 instead. 0 picks a free "
             "port (see --port_file).");
DEFINE_string(port_file, "",
              "If set, write the bound port number to this file once serving.");
DEFINE_int32(threads, 0,
             "Worker threads (shards), each with its own io_uring and socket. "
             "0: one per CPU.");
DEFINE_int32(
    blksize_max, 65464,
    "Largest blksize granted (RFC 2348, 8..65464); larger requests are "
    "lowered to it.");
DEFINE_int32(windowsize_max, 64,
             "Largest windowsize granted (RFC 7440, 1..65535).");
DEFINE_double(timeout, 1.0,
              "Seconds before the first retransmission when the client "
              "negotiates no timeout.");
DEFINE_double(max_timeout, 8.0,
              "Cap in seconds for the exponential backoff between "
              "retransmissions.");
DEFINE_int32(retries, 5,
             "Retransmissions of one packet before a transfer is abandoned.");
DEFINE_bool(resend_on_duplicate_ack, false,
            "Resend unacknowledged data once when a duplicate ACK arrives "
            "(helps some U-Boot builds recover faster).");
DEFINE_int32(max_sessions, 10000, "Transfers open at once, over all shards.");
DEFINE_int32(max_sessions_per_address, 128,
             "Transfers open at once from one client address (any port); "
             "more are refused with ERROR 0. 0: no limit.");
DEFINE_int32(requests_per_second_per_address, 1000,
             "Requests accepted from one client address per second; more are "
             "refused with ERROR 0. 0: no limit.");
DEFINE_int32(unverified_bytes_max, 8192,
             "Bytes sent per minute to a client address that has not yet "
             "answered anything (retransmissions and ERRORs included): the "
             "bound on what a spoofed request can make tftpd send to its "
             "victim. An address that answers is exempt for 5 minutes. 0: no "
             "limit.");
DEFINE_int64(rcvbuf, 16 << 20,
             "SO_RCVBUF of each service socket in bytes: room for a burst of "
             "requests. The default holds more than 10,000 requests; the log "
             "says if the kernel grants less.");
DEFINE_double(shutdown_grace, 2.0,
              "Seconds transfers may run on after SIGINT or SIGTERM; a second "
              "signal stops at once.");
DEFINE_bool(portable_resolver, false,
            "Resolve names with the portable walk (no symlinks followed) "
            "instead of openat2(RESOLVE_BENEATH).");
DEFINE_string(user, "",
              "Once the port is bound and the workers run, switch to this "
              "user (and its group), dropping root. Files must then be "
              "readable by that user.");
DEFINE_bool(chroot, false,
            "Once serving, confine the process to --root with chroot(2) "
            "(tftpd-hpa's --secure); needs root. --map_file is then read "
            "from inside the root on SIGHUP.");
DEFINE_bool(secure, false, "The same as --chroot.");
DEFINE_bool(permissive, false,
            "Serve files that are not world-readable too. By default only "
            "files everyone may read are served, as tftpd-hpa does, even "
            "when tftpd runs as root.");
DEFINE_string(io_backend, "auto",
              "Event backend: auto (io_uring when the kernel allows it, else "
              "epoll, with a log line saying why), io_uring, epoll, or kqueue "
              "(FreeBSD, macOS). A backend that cannot run is a start-up "
              "error.");
DEFINE_string(listener, "auto",
              "How requests reach the shards: reuseport (each shard its own "
              "SO_REUSEPORT socket; the kernel spreads clients), single (one "
              "socket, read by shard 0, which hands each request to a shard "
              "by client), or auto (reuseport on Linux and FreeBSD, single "
              "elsewhere).");
DEFINE_bool(single_port, false,
            "Answer every transfer from the service port itself (sessions "
            "told apart by the client's address and port), for clients behind "
            "NAT or firewalls that let only the service port through. Off: "
            "each transfer has a port of its own, as RFC 1350 intends.");
DEFINE_bool(allow_write, false,
            "Accept uploads (WRQ) into --write_root. Off by default. Each "
            "upload goes to a temporary file in its directory and is renamed "
            "into place only once complete; directories are never created.");
DEFINE_string(write_root, "",
              "Directory uploads are written beneath (default: --root), "
              "confined as reads are.");
DEFINE_bool(create, false, "With --allow_write: uploads may create new files.");
DEFINE_bool(overwrite, false,
            "With --allow_write: uploads may replace existing files.");
DEFINE_string(upload_database, "",
              "With --allow_write: keep each completed upload as a row in "
              "PostgreSQL instead of a file; a libpq connection string, e.g. "
              "'host=db dbname=backups user=tftpd'. See --upload_table.");
DEFINE_string(upload_table, "tftp_uploads",
              "The table --upload_database writes (created if missing).");
DEFINE_int64(max_upload_bytes, 0,
             "Largest upload accepted, checked against tsize up front and "
             "while receiving (ERROR 3). 0: no limit.");
DEFINE_string(inject_faults, "",
              "For testing only: lose, duplicate and delay datagrams in both "
              "directions, decided by a seeded generator, e.g. "
              "loss=0.1,duplicate=0.05,reorder=0.05,seed=7. Off when empty.");
DEFINE_string(log_level, "info", "debug, info, warning or error.");
DEFINE_string(map_file, "",
              "Rules rewriting requested names, in tftpd-hpa's --map-file "
              "syntax (operations r g i e s a ~ G P 4 6; \\0-\\9, \\i, "
              "\\x). Reloaded on SIGHUP; a file with errors is refused at "
              "start and, on reload, leaves the rules in force unchanged.");
DEFINE_string(metrics_address, "",
              "Serve Prometheus metrics over HTTP at host:port (path "
              "/metrics); port 0 picks a free one (logged). Off when empty.");
DEFINE_double(stats_interval, 60,
              "Seconds between server statistics: the callbacks of programs "
              "built on the library, and tftpd's own 'stats' log line "
              "(0: no log line).");
DEFINE_double(source_timeout, 30,
              "Seconds a streaming response source may take to begin, or "
              "pause between bytes, before its transfer ends with ERROR 0.");

namespace tftpd {
namespace {

constexpr int kFallbackPort = 6969;

// systemd's socket activation, by its documented protocol (sd_listen_fds(3),
// without libsystemd): passed sockets start at descriptor 3, LISTEN_FDS says
// how many, LISTEN_PID that they are for this process. -1 when none.
absl::StatusOr<int> SocketFromSystemd() {
  const char* pid_text = getenv("LISTEN_PID");
  const char* count_text = getenv("LISTEN_FDS");
  if (pid_text == nullptr || count_text == nullptr) return -1;
  int pid = 0;
  int count = 0;
  const bool parsed =
      absl::SimpleAtoi(pid_text, &pid) && absl::SimpleAtoi(count_text, &count);
  // Not for the programs this one might start.
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  if (!parsed || pid != getpid()) return -1;
  if (count != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "systemd passed ", count,
        " sockets; tftpd serves one (a socket unit with one ListenDatagram=)"));
  }
  return 3;
}

// The bundled example root: in the workspace under `bazel run`, else in the
// binary's runfiles, else ./tftproot. Runfiles are symlinks into the source
// tree, which the root confinement would refuse to follow out of the root,
// so the real directory is used.
std::string DefaultRoot() {
  std::vector<std::string> markers;
  if (const char* workspace = getenv("BUILD_WORKSPACE_DIRECTORY")) {
    markers.push_back(absl::StrCat(workspace, "/tftproot/hello.txt"));
  }
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    markers.push_back(absl::StrCat(exe, ".runfiles/tftpd/tftproot/hello.txt"));
  }
  markers.push_back("tftproot/hello.txt");
  for (const std::string& marker : markers) {
    char real[PATH_MAX];
    if (realpath(marker.c_str(), real) != nullptr) {
      const std::string path(real);
      return path.substr(0, path.rfind('/'));
    }
  }
  return "";
}

// The next of `signals` (blocked in every thread), or -1 after `limit`.
int WaitForSignal(const sigset_t& signals, std::chrono::milliseconds limit) {
#ifdef __APPLE__
  // macOS has no sigtimedwait: look for a pending signal, then take it.
  sigset_t pending;
  sigpending(&pending);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    if (sigismember(&signals, sig) && sigismember(&pending, sig)) {
      int taken = -1;
      sigwait(&signals, &taken);
      return taken;
    }
  }
  std::this_thread::sleep_for(limit);
  return -1;
#else
  timespec tick{0, static_cast<long>(std::chrono::nanoseconds(limit).count())};
  return sigtimedwait(&signals, nullptr, &tick);
#endif
}

absl::StatusOr<ServerConfig> ConfigFromFlags() {
  ServerConfig config;
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
  if (FLAGS_blksize_max < tftp::kMinBlockSize ||
      FLAGS_blksize_max > tftp::kMaxBlockSize) {
    return absl::InvalidArgumentError("--blksize_max must be 8..65464");
  }
  if (FLAGS_windowsize_max < 1 || FLAGS_windowsize_max > 65535) {
    return absl::InvalidArgumentError("--windowsize_max must be 1..65535");
  }
  config.limits.max_blksize = static_cast<uint16_t>(FLAGS_blksize_max);
  config.limits.max_windowsize = static_cast<uint16_t>(FLAGS_windowsize_max);
  if (!(FLAGS_timeout > 0) || !(FLAGS_max_timeout >= FLAGS_timeout)) {
    return absl::InvalidArgumentError(
        "--timeout must be positive and --max_timeout at least --timeout");
  }
  config.session.timeout = std::chrono::duration_cast<tftp::Duration>(
      std::chrono::duration<double>(FLAGS_timeout));
  config.session.max_timeout = std::chrono::duration_cast<tftp::Duration>(
      std::chrono::duration<double>(FLAGS_max_timeout));
  if (FLAGS_retries < 0) {
    return absl::InvalidArgumentError("--retries must not be negative");
  }
  config.session.max_retries = FLAGS_retries;
  config.session.resend_on_duplicate_ack = FLAGS_resend_on_duplicate_ack;
  if (FLAGS_max_sessions < 1) {
    return absl::InvalidArgumentError("--max_sessions must be at least 1");
  }
  config.max_sessions = static_cast<size_t>(FLAGS_max_sessions);
  if (FLAGS_max_sessions_per_address < 0 ||
      FLAGS_requests_per_second_per_address < 0 ||
      FLAGS_unverified_bytes_max < 0) {
    return absl::InvalidArgumentError(
        "--max_sessions_per_address, --requests_per_second_per_address and "
        "--unverified_bytes_max must not be negative");
  }
  config.address_limits.max_sessions =
      static_cast<uint32_t>(FLAGS_max_sessions_per_address);
  config.address_limits.requests_per_second =
      static_cast<uint32_t>(FLAGS_requests_per_second_per_address);
  config.address_limits.unverified_bytes =
      static_cast<uint32_t>(FLAGS_unverified_bytes_max);
  if (FLAGS_rcvbuf < 0) {
    return absl::InvalidArgumentError("--rcvbuf must not be negative");
  }
  config.receive_buffer = static_cast<size_t>(FLAGS_rcvbuf);
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
  config.allow_write = FLAGS_allow_write;
  config.write_root = FLAGS_write_root;
  config.upload_policy.create = FLAGS_create;
  config.upload_policy.overwrite = FLAGS_overwrite;
  if (FLAGS_max_upload_bytes < 0) {
    return absl::InvalidArgumentError(
        "--max_upload_bytes must not be negative");
  }
  if (FLAGS_max_upload_bytes > 0) {
    config.limits.max_upload_size =
        static_cast<uint64_t>(FLAGS_max_upload_bytes);
  }
  if ((FLAGS_create || FLAGS_overwrite || !FLAGS_write_root.empty()) &&
      !FLAGS_allow_write) {
    return absl::InvalidArgumentError(
        "--create, --overwrite and --write_root need --allow_write");
  }
  if (!FLAGS_map_file.empty()) {
    absl::StatusOr<std::shared_ptr<const RemapRules>> rules =
        RemapRules::Load(FLAGS_map_file);
    if (!rules.ok()) return rules.status();
    config.remap = std::make_shared<RemapTable>();
    config.remap->set(*rules);
  }
  return config;
}

// --chroot/--secure, then --user. setgid and setuid apply to every thread
// (glibc signals the others), so the shards started meanwhile drop too.
absl::Status DropPrivileges(const std::string& root) {
  uid_t uid = 0;
  gid_t gid = 0;
  if (!FLAGS_user.empty()) {
    errno = 0;
    const passwd* entry = getpwnam(FLAGS_user.c_str());
    if (entry == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("--user: no such user: ", FLAGS_user));
    }
    uid = entry->pw_uid;
    gid = entry->pw_gid;
  }
  if (FLAGS_chroot || FLAGS_secure) {
    if (chroot(root.c_str()) != 0 || chdir("/") != 0) {
      return absl::ErrnoToStatus(errno, "--chroot: chroot " + root);
    }
    TFTPD_LOG(kInfo, "confined to %s", root);
  }
  if (!FLAGS_user.empty()) {
    if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
      return absl::ErrnoToStatus(errno,
                                 "--user: cannot switch to " + FLAGS_user);
    }
    if (uid != 0 && setuid(0) == 0) {
      return absl::PermissionDeniedError("--user: root could be regained");
    }
    TFTPD_LOG(kInfo, "running as %s (uid %d, gid %d)", FLAGS_user,
              static_cast<int>(uid), static_cast<int>(gid));
  }
  return absl::OkStatus();
}

void ReloadMapFile(RemapTable* table) {
  if (table == nullptr) return;
  absl::StatusOr<std::shared_ptr<const RemapRules>> rules =
      RemapRules::Load(FLAGS_map_file);
  if (!rules.ok()) {
    TFTPD_LOG(kError, "SIGHUP: %s; the previous rules stay in force",
              rules.status().message());
    return;
  }
  TFTPD_LOG(kInfo, "SIGHUP: %d rules loaded from %s",
            static_cast<int>((*rules)->size()), FLAGS_map_file);
  table->set(*rules);
}

absl::StatusOr<std::unique_ptr<Server>> CreateServer(ServerConfig config) {
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(config);
  if (!server.ok() && config.address.family() == AF_INET6 &&
      FLAGS_address == "::" &&
      absl::StrContains(server.status().message(), "family")) {
    TFTPD_LOG(kWarning, "no IPv6 on this host (%s); listening on 0.0.0.0",
              server.status().message());
    io::SocketAddress v4 = *io::SocketAddress::Parse("0.0.0.0", 0);
    v4.set_port(config.address.port());
    config.address = v4;
    server = Server::Create(config);
  }
  return server;
}

}  // namespace

int RunTftpd(int argc, char** argv, const ConfigureServer& configure) {
  if (gflags::ProgramUsage() == nullptr ||
      std::string(gflags::ProgramUsage()).empty() ||
      absl::StartsWith(gflags::ProgramUsage(), "Warning:")) {
    gflags::SetUsageMessage(
        "serves files over TFTP (RFC 1350, 2347, 2348, 2349, 7440)\n"
        "usage: tftpd [--root=DIR] [--port=N] [flags]");
  }
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  std::optional<LogLevel> level = ParseLogLevel(FLAGS_log_level);
  if (!level.has_value()) {
    std::fprintf(stderr,
                 "tftpd: --log_level must be debug, info, warning or "
                 "error\n");
    return 2;
  }
  SetLogLevel(*level);
  absl::StatusOr<ServerConfig> config = ConfigFromFlags();
  if (config.ok()) {
    absl::StatusOr<int> inherited = SocketFromSystemd();
    if (inherited.ok()) {
      config->inherited_socket = *inherited;
    } else {
      config = inherited.status();
    }
  }
  if (config.ok() && configure) {
    if (absl::Status s = configure(*config); !s.ok()) config = s;
  }
  if (config.ok() && !FLAGS_upload_database.empty()) {
    if (!FLAGS_allow_write) {
      config =
          absl::InvalidArgumentError("--upload_database needs --allow_write");
    } else {
      auto options = std::make_shared<PostgresUploadOptions>();
      options->connection = FLAGS_upload_database;
      options->table = FLAGS_upload_table;
      config->handler = PostgresUploadHandler(
          config->handler != nullptr ? config->handler
                                     : std::make_shared<FileHandler>(),
          std::move(options));
    }
  }
  if (!config.ok()) {
    std::fprintf(stderr, "%s: %s\n", gflags::ProgramInvocationShortName(),
                 std::string(config.status().message()).c_str());
    return 2;
  }
  if (FLAGS_stats_interval > 0) {
    // tftpd's own use of the callback: a line per interval, chained after
    // any callback the program set.
    ServerStatsCallback program = config->on_server_stats;
    config->on_server_stats = [program](const ServerStats& stats) {
      if (program) program(stats);
      WriteLogLine(
          LogLevel::kInfo,
          absl::StrCat("stats interval=",
                       std::chrono::duration_cast<std::chrono::seconds>(
                           stats.interval_end - stats.interval_start)
                           .count(),
                       "s ", stats.totals.ToString()));
    };
  }

  // Signals are taken by this thread alone, with sigtimedwait: block them
  // before any shard thread starts so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  gflags::CommandLineFlagInfo port_flag;
  gflags::GetCommandLineFlagInfo("port", &port_flag);
  absl::StatusOr<std::unique_ptr<Server>> server = CreateServer(*config);
  if (!server.ok() && port_flag.is_default && config->inherited_socket < 0) {
    TFTPD_LOG(kInfo, "cannot use port 69 (%s); using port %d",
              server.status().message(), kFallbackPort);
    config->address.set_port(kFallbackPort);
    server = CreateServer(*config);
  }
  if (!server.ok()) {
    TFTPD_LOG(kError, "cannot start: %s", server.status().message());
    return 1;
  }
  if (absl::Status s = (*server)->Start(); !s.ok()) {
    TFTPD_LOG(kError, "cannot start: %s", s.message());
    return 1;
  }
  const ServerConfig& c = (*server)->config();
  if (!(*server)->fallback_reason().empty()) {
    TFTPD_LOG(kWarning, "io_uring is unavailable (%s); using %s",
              (*server)->fallback_reason(), (*server)->backend_name());
  }
  // The first line and the final counters are printed at every log level.
  WriteLogLine(
      LogLevel::kInfo,
      absl::StrFormat(
          "tftpd serving %s on %s (UDP port %d) with %d shards on %s, %s "
          "listener%s; "
          "blksize_max=%d windowsize_max=%d timeout=%.1fs retries=%d "
          "max_sessions=%d resolver=%s",
          (*server)->root().path(), (*server)->address().ToString(),
          (*server)->address().port(), c.threads, (*server)->backend_name(),
          c.listener == ListenerMode::kSingle ? "single" : "reuseport",
          c.single_port ? ", single port" : "", c.limits.max_blksize,
          c.limits.max_windowsize, FLAGS_timeout, c.session.max_retries,
          static_cast<int>(c.max_sessions),
          (*server)->root().uses_openat2() ? "openat2" : "portable"));
  if (c.inherited_socket >= 0) {
    TFTPD_LOG(kInfo,
              "serving on the socket systemd passed (--address and "
              "--port do not apply)");
  }
  if (c.allow_write) {
    TFTPD_LOG(kInfo,
              "uploads on into %s: create=%s overwrite=%s max_upload_bytes=%s",
              c.write_root.empty() ? c.root : c.write_root,
              c.upload_policy.create ? "yes" : "no",
              c.upload_policy.overwrite ? "yes" : "no",
              FLAGS_max_upload_bytes > 0 ? absl::StrCat(FLAGS_max_upload_bytes)
                                         : std::string("unlimited"));
    if (FLAGS_upload_database.empty() && !c.upload_policy.create &&
        !c.upload_policy.overwrite) {
      TFTPD_LOG(kWarning,
                "--allow_write without --create or --overwrite: every upload "
                "will be refused");
    }
  }
  if ((*server)->receive_buffer() < c.receive_buffer) {
    TFTPD_LOG(kWarning,
              "the kernel capped the service socket receive buffer at %d "
              "bytes (asked for %d); raise net.core.rmem_max or run with "
              "CAP_NET_ADMIN to hold larger request bursts",
              static_cast<int64_t>((*server)->receive_buffer()),
              static_cast<int64_t>(c.receive_buffer));
  }
  std::unique_ptr<MetricsServer> metrics;
  if (!FLAGS_metrics_address.empty()) {
    Server* raw = server->get();
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(FLAGS_metrics_address, [raw] {
          return RenderPrometheus(raw->ShardTotals());
        });
    if (!started.ok()) {
      TFTPD_LOG(kError, "cannot start: --metrics_address: %s",
                started.status().message());
      (*server)->Stop(/*immediate=*/true);
      (*server)->Wait();
      return 1;
    }
    metrics = std::move(*started);
    TFTPD_LOG(kInfo, "metrics at http://%s/metrics",
              metrics->address().ToString());
  }
  if (!FLAGS_port_file.empty()) {
    const std::string tmp = FLAGS_port_file + ".tmp";
    std::ofstream(tmp) << (*server)->address().port() << "\n";
    std::rename(tmp.c_str(), FLAGS_port_file.c_str());
  }
  // Last, with everything that needs privileges done: sockets bound, rings
  // created (their memory is pinned as root), the port file written.
  if (absl::Status s = DropPrivileges((*server)->root().path()); !s.ok()) {
    TFTPD_LOG(kError, "cannot start: %s", s.message());
    (*server)->Stop(/*immediate=*/true);
    (*server)->Wait();
    return 1;
  }

  // The shards run until a signal stops them (or one fails on its own).
  int stops = 0;
  while (!(*server)->Done()) {
    const int sig = WaitForSignal(signals, std::chrono::milliseconds(100));
    if (sig == SIGHUP) {
      ReloadMapFile(c.remap.get());
      continue;
    }
    if (sig != SIGINT && sig != SIGTERM) continue;
    ++stops;
    TFTPD_LOG(kInfo, "signal %d: %s", sig,
              stops == 1 ? "stopping after the transfers in progress"
                         : "stopping now");
    (*server)->Stop(/*immediate=*/stops > 1);
  }
  (*server)->Wait();
  metrics.reset();
  WriteLogLine(LogLevel::kInfo,
               absl::StrCat("tftpd stopped: ", (*server)->Totals().ToString()));
  return 0;
}

}  // namespace tftpd
