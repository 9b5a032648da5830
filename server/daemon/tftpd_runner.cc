#include "server/daemon/tftpd_runner.h"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
#include "server/api/server.h"
#include "server/daemon/flags.h"
#include "server/daemon/help.h"
#include "server/daemon/process.h"
#include "server/files/remap_rules.h"
#include "server/observability/log.h"
#include "server/observability/metrics_http.h"
#include "server/observability/status_page.h"
#include "server/uploads/postgres_upload_sink.h"

namespace tftpd {
namespace {

constexpr int kFallbackPort = 6969;

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

StatusView StatusOf(const Server& server, const StatusBoard& board) {
  StatusView view;
  view.transfers = server.Transfers();
  view.shards = server.ShardTotals();
  view.failures = board.failures();
  view.unanswered_failures = board.unanswered_failures();
  view.files = board.top_files(10);
  view.now = std::chrono::system_clock::now();
  return view;
}

// How many transfers may be open at once, and what on this host bounds it,
// so that an operator planning for a hall of machines knows before they
// boot (the README's "A hall of machines at once" says what to raise).
void LogTransferLimits(const ServerConfig& c, const HostTransferLimits& host) {
  if (c.single_port) {
    TFTPD_LOG(kInfo,
              "up to %d transfers at once (--max_transfers); in single-port "
              "mode a transfer holds no socket",
              static_cast<int64_t>(c.max_transfers));
    return;
  }
  TFTPD_LOG(kInfo,
            "up to %d transfers at once (--max_transfers), each with a "
            "socket; this host allows %d by descriptors (RLIMIT_NOFILE) and "
            "%d by ephemeral ports per address (net.ipv4.ip_local_port_range)",
            static_cast<int64_t>(c.max_transfers),
            static_cast<int64_t>(host.descriptors),
            static_cast<int64_t>(host.ports));
  if (host.ports > 0 && static_cast<size_t>(c.max_transfers) > host.ports) {
    TFTPD_LOG(kWarning,
              "--max_transfers=%d exceeds the %d ephemeral ports of one "
              "local address: widen net.ipv4.ip_local_port_range or run "
              "with --single_port",
              static_cast<int64_t>(c.max_transfers),
              static_cast<int64_t>(host.ports));
  }
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
  // --help is tftpd's own (grouped, help.h); gflags keeps --helpfull and
  // the rest of its help flags.
  gflags::ParseCommandLineNonHelpFlags(&argc, &argv, true);
  if (PrintHelpIfAsked(gflags::ProgramInvocationShortName(),
                       gflags::ProgramUsage())) {
    return 0;
  }
  gflags::HandleCommandLineHelpFlags();
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
      options->spool_directory = FLAGS_upload_spool;
      options->statement_timeout =
          std::chrono::duration_cast<std::chrono::milliseconds>(
              config->source_timeout / 2);
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
      // An idle interval says nothing an operator needs: debug level.
      const LogLevel level =
          stats.totals.SawTraffic() ? LogLevel::kInfo : LogLevel::kDebug;
      if (!LogEnabled(level)) return;
      WriteLogLine(
          level, absl::StrCat("stats interval=",
                              std::chrono::duration_cast<std::chrono::seconds>(
                                  stats.interval_end - stats.interval_start)
                                  .count(),
                              "s ", stats.totals.ToString()));
    };
  }

  // The status page's memory of failures and requested files, fed by the
  // transfer records (chained after any callback the program set).
  auto board = std::make_shared<StatusBoard>();
  if (!FLAGS_metrics_address.empty()) {
    TransferStatsCallback program = config->on_transfer_end;
    config->on_transfer_end = [program, board](const TransferStats& stats) {
      if (program) program(stats);
      board->OnTransfer(stats);
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

  // Every transfer holds a socket (none in single-port mode); the rest is
  // a few per shard (service socket, ring, wake pipe), threads', the
  // metrics endpoint's connections and the files being mapped.
  const size_t reserved_descriptors =
      8 * static_cast<size_t>(config->threads) + 256;
  const size_t descriptors =
      (config->single_port ? 0 : config->max_transfers) + reserved_descriptors;
  if (absl::Status s = RaiseDescriptorLimit(
          descriptors, config->single_port ? "--threads" : "--max_transfers");
      !s.ok()) {
    TFTPD_LOG(kError, "cannot start: %s", s.message());
    return 1;
  }
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
          "max_transfers=%d rcvbuf=%d resolver=%s",
          (*server)->root().path(), (*server)->address().ToString(),
          (*server)->address().port(), c.threads, (*server)->backend_name(),
          c.listener == ListenerMode::kSingle ? "single" : "reuseport",
          c.single_port ? ", single port" : "", c.limits.max_blksize,
          c.limits.max_windowsize, FLAGS_timeout, c.transfer.max_retries,
          static_cast<int>(c.max_transfers),
          static_cast<int64_t>((*server)->receive_buffer()),
          (*server)->root().uses_openat2() ? "openat2" : "portable"));
  LogTransferLimits(c, ReadHostTransferLimits(reserved_descriptors));
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
  if ((*server)->receive_buffer() < (*server)->requested_receive_buffer()) {
    TFTPD_LOG(kWarning,
              "the kernel capped the service socket receive buffer at %d "
              "bytes (asked for %d); raise net.core.rmem_max or run with "
              "CAP_NET_ADMIN to hold larger bursts of requests (and, in "
              "single-port mode, of ACKs)",
              static_cast<int64_t>((*server)->receive_buffer()),
              static_cast<int64_t>((*server)->requested_receive_buffer()));
  }
  std::unique_ptr<MetricsServer> metrics;
  if (!FLAGS_metrics_address.empty()) {
    Server* raw = server->get();
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(
            FLAGS_metrics_address,
            {HttpRoute{"/metrics", "text/plain; version=0.0.4; charset=utf-8",
                       [raw] { return RenderPrometheus(raw->ShardTotals()); }},
             HttpRoute{"/", "text/html; charset=utf-8",
                       [raw, board] {
                         return RenderStatusHtml(StatusOf(*raw, *board));
                       }},
             HttpRoute{"/transfers", "application/json",
                       [raw, board] {
                         return RenderStatusJson(StatusOf(*raw, *board));
                       }}},
            HttpLimits{.connections = FLAGS_metrics_connections,
                       .connections_per_address =
                           std::min(8, FLAGS_metrics_connections),
                       .idle_timeout_seconds = FLAGS_metrics_timeout});
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
    TFTPD_LOG(kInfo, "status page at http://%s/ (JSON at /transfers)",
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
