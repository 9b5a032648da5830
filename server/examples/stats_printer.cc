// Example 3: tftpd with statistics callbacks, printing a line per ended
// transfer and per interval (--stats_interval), as fbtftp's example does.
// A real deployment would send these to its monitoring instead.
//
//   bazel run //server/examples:stats_printer -- --stats_interval=10
#include <cstdio>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "server/daemon/tftpd_runner.h"

namespace {

std::string Options(const tftpd::OptionPairs& options) {
  return absl::StrJoin(options, ",", absl::PairFormatter("="));
}

}  // namespace

int main(int argc, char** argv) {
  return tftpd::RunTftpd(argc, argv, [](tftpd::ServerConfig& config) {
    // Both callbacks run on the statistics thread, one at a time.
    config.on_transfer_end = [](const tftpd::TransferStats& s) {
      std::printf(
          "transfer peer=%s server=%s path=%s requested=%s outcome=%s "
          "error=%d message=\"%s\" asked=[%s] acked=[%s] start=%s "
          "duration_ms=%.3f packets_sent=%llu blocks_acked=%llu "
          "bytes_sent=%llu retransmits=%llu blksize=%d windowsize=%d\n",
          s.peer.ToString().c_str(), s.server_address.HostString().c_str(),
          s.path.c_str(), s.requested_path.c_str(), s.outcome.c_str(),
          s.error_code, s.error_message.c_str(),
          Options(s.options_requested).c_str(),
          Options(s.options_acknowledged).c_str(),
          absl::FormatTime(absl::FromChrono(s.start_time)).c_str(),
          std::chrono::duration<double, std::milli>(s.duration).count(),
          static_cast<unsigned long long>(s.packets_sent),
          static_cast<unsigned long long>(s.blocks_acknowledged),
          static_cast<unsigned long long>(s.bytes_sent),
          static_cast<unsigned long long>(s.retransmits), s.blksize,
          s.windowsize);
      std::fflush(stdout);
    };
    config.on_server_stats = [](const tftpd::ServerStats& stats) {
      std::printf("server %s\n", stats.totals.ToString().c_str());
      for (size_t i = 0; i < stats.shards.size(); ++i) {
        std::printf(
            "server shard=%zu transfers_started=%llu bytes_sent=%llu\n", i,
            static_cast<unsigned long long>(stats.shards[i].transfers_started),
            static_cast<unsigned long long>(stats.shards[i].bytes_sent));
      }
      std::fflush(stdout);
    };
    return absl::OkStatus();
  });
}
