#include "server/daemon/tftpd_runner.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "server/api/log.h"
#include "server/api/server.h"
#include "server/daemon/flags.h"
#include "server/daemon/help.h"
#include "server/daemon/process.h"
#include "server/daemon/startup_log.h"
#include "server/files/remap_rules.h"
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

// Parses the command line; a value when the program should exit at once
// (help printed, or a bad --log_level).
std::optional<int> ParseCommandLine(int& argc, char**& argv) {
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
  return std::nullopt;
}

// --upload_database: the PostgreSQL sink in front of the program's handler
// (or the file handler).
absl::Status AddUploadDatabase(ServerConfig& config) {
  if (FLAGS_upload_database.empty()) return absl::OkStatus();
  if (!FLAGS_allow_write) {
    return absl::InvalidArgumentError("--upload_database needs --allow_write");
  }
  auto options = std::make_shared<PostgresUploadOptions>();
  options->connection = FLAGS_upload_database;
  options->table = FLAGS_upload_table;
  options->spool_directory = FLAGS_upload_spool;
  options->statement_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          config.source_timeout / 2);
  config.handler = PostgresUploadHandler(config.handler != nullptr
                                             ? config.handler
                                             : std::make_shared<FileHandler>(),
                                         std::move(options));
  return absl::OkStatus();
}

// The configuration the flags, systemd's socket and the program make.
absl::StatusOr<ServerConfig> MakeConfig(const ConfigureServer& configure) {
  absl::StatusOr<ServerConfig> config = ConfigFromFlags();
  if (!config.ok()) return config;
  absl::StatusOr<int> inherited = SocketFromSystemd();
  if (!inherited.ok()) return inherited.status();
  config->inherited_socket = *inherited;
  if (configure) {
    if (absl::Status s = configure(*config); !s.ok()) return s;
  }
  if (absl::Status s = AddUploadDatabase(*config); !s.ok()) return s;
  return config;
}

// tftpd's own uses of the callbacks, chained after any the program set: a
// line per --stats_interval, and the status page's memory of failures and
// requested files.
void ChainCallbacks(ServerConfig& config, std::shared_ptr<StatusBoard> board) {
  if (FLAGS_stats_interval > 0) {
    ServerStatsCallback program = config.on_server_stats;
    config.on_server_stats = [program](const ServerStats& stats) {
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
  if (!FLAGS_metrics_address.empty()) {
    TransferStatsCallback program = config.on_transfer_end;
    config.on_transfer_end = [program, board](const TransferStats& stats) {
      if (program) program(stats);
      board->OnTransfer(stats);
    };
  }
}

// Signals are taken by the main thread alone, with sigtimedwait: blocked
// before any shard thread starts so that every thread inherits the mask.
sigset_t BlockSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

// Descriptors beside the transfers' sockets: a few per shard (service
// socket, ring, wake pipe), threads', the metrics endpoint's connections
// and the files being mapped.
size_t ReservedDescriptors(const ServerConfig& config) {
  return 8 * static_cast<size_t>(config.threads) + 256;
}

absl::Status RaiseDescriptorLimitFor(const ServerConfig& config) {
  // Every transfer holds a socket (none in single-port mode).
  const size_t descriptors = (config.single_port ? 0 : config.max_transfers) +
                             ReservedDescriptors(config);
  return RaiseDescriptorLimit(
      descriptors, config.single_port ? "--threads" : "--max_transfers");
}

// Created and started; on port 69's refusal, when --port was not given and
// systemd passed no socket, port 6969.
absl::StatusOr<std::unique_ptr<Server>> StartServer(ServerConfig config) {
  gflags::CommandLineFlagInfo port_flag;
  gflags::GetCommandLineFlagInfo("port", &port_flag);
  absl::StatusOr<std::unique_ptr<Server>> server = CreateServer(config);
  if (!server.ok() && port_flag.is_default && config.inherited_socket < 0) {
    TFTPD_LOG(kInfo, "cannot use port 69 (%s); using port %d",
              server.status().message(), kFallbackPort);
    config.address.set_port(kFallbackPort);
    server = CreateServer(config);
  }
  if (!server.ok()) return server;
  if (absl::Status s = (*server)->Start(); !s.ok()) return s;
  return server;
}

// --metrics_address: Prometheus metrics, the status page and its JSON.
// Null without the flag.
absl::StatusOr<std::unique_ptr<MetricsServer>> StartMetrics(
    Server* server, std::shared_ptr<StatusBoard> board) {
  if (FLAGS_metrics_address.empty()) return nullptr;
  absl::StatusOr<std::unique_ptr<MetricsServer>> metrics = MetricsServer::Start(
      FLAGS_metrics_address,
      {HttpRoute{"/metrics", "text/plain; version=0.0.4; charset=utf-8",
                 [server] { return RenderPrometheus(server->ShardTotals()); }},
       HttpRoute{"/", "text/html; charset=utf-8",
                 [server, board] {
                   return RenderStatusHtml(StatusOf(*server, *board));
                 }},
       HttpRoute{"/transfers", "application/json",
                 [server, board] {
                   return RenderStatusJson(StatusOf(*server, *board));
                 }}},
      HttpLimits{
          .connections = FLAGS_metrics_connections,
          .connections_per_address = std::min(8, FLAGS_metrics_connections),
          .idle_timeout_seconds = FLAGS_metrics_timeout});
  if (!metrics.ok()) {
    return absl::Status(
        metrics.status().code(),
        absl::StrCat("--metrics_address: ", metrics.status().message()));
  }
  TFTPD_LOG(kInfo, "metrics at http://%s/metrics",
            (*metrics)->address().ToString());
  TFTPD_LOG(kInfo, "status page at http://%s/ (JSON at /transfers)",
            (*metrics)->address().ToString());
  return metrics;
}

// --port_file: the bound port, written whole or not at all.
void WritePortFile(const Server& server) {
  if (FLAGS_port_file.empty()) return;
  const std::string tmp = FLAGS_port_file + ".tmp";
  std::ofstream(tmp) << server.address().port() << "\n";
  std::rename(tmp.c_str(), FLAGS_port_file.c_str());
}

// Serving ends before it began: the shards stop at once. Exit code 1.
int StopAtStart(Server& server, const absl::Status& why) {
  TFTPD_LOG(kError, "cannot start: %s", why.message());
  server.Stop(/*immediate=*/true);
  server.Wait();
  return 1;
}

// The shards run until a signal stops them (or one fails on its own):
// SIGHUP reloads the map file, a first SIGINT or SIGTERM lets transfers in
// progress finish, a second stops at once.
void ServeUntilStopped(Server& server, const sigset_t& signals) {
  int stops = 0;
  while (!server.Done()) {
    const int sig = WaitForSignal(signals, std::chrono::milliseconds(100));
    if (sig == SIGHUP) {
      ReloadMapFile(server.config().remap.get());
      continue;
    }
    if (sig != SIGINT && sig != SIGTERM) continue;
    ++stops;
    TFTPD_LOG(kInfo, "signal %d: %s", sig,
              stops == 1 ? "stopping after the transfers in progress"
                         : "stopping now");
    server.Stop(/*immediate=*/stops > 1);
  }
  server.Wait();
}

}  // namespace

int RunTftpd(int argc, char** argv, const ConfigureServer& configure) {
  if (std::optional<int> exit_code = ParseCommandLine(argc, argv)) {
    return *exit_code;
  }
  absl::StatusOr<ServerConfig> config = MakeConfig(configure);
  if (!config.ok()) {
    std::fprintf(stderr, "%s: %s\n", gflags::ProgramInvocationShortName(),
                 std::string(config.status().message()).c_str());
    return 2;
  }
  auto board = std::make_shared<StatusBoard>();
  ChainCallbacks(*config, board);
  const sigset_t signals = BlockSignals();
  if (absl::Status s = RaiseDescriptorLimitFor(*config); !s.ok()) {
    TFTPD_LOG(kError, "cannot start: %s", s.message());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<Server>> server = StartServer(*config);
  if (!server.ok()) {
    TFTPD_LOG(kError, "cannot start: %s", server.status().message());
    return 1;
  }
  LogServing(**server, ReservedDescriptors(*config));
  absl::StatusOr<std::unique_ptr<MetricsServer>> metrics =
      StartMetrics(server->get(), board);
  if (!metrics.ok()) return StopAtStart(**server, metrics.status());
  WritePortFile(**server);
  // Last, with everything that needs privileges done: sockets bound, rings
  // created (their memory is pinned as root), the port file written.
  if (absl::Status s = DropPrivileges((*server)->root().path()); !s.ok()) {
    return StopAtStart(**server, s);
  }
  ServeUntilStopped(**server, signals);
  metrics->reset();
  // The first line and the final counters are printed at every log level.
  WriteLogLine(LogLevel::kInfo,
               absl::StrCat("tftpd stopped: ", (*server)->Totals().ToString()));
  return 0;
}

}  // namespace tftpd
