#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/loadgen/load_generator.h"

namespace loadgen {

int64_t LoadReport::transfers_failed() const {
  int64_t failed = 0;
  for (const auto& [reason, count] : failures) failed += count;
  return failed;
}

double LoadReport::megabytes_per_second() const {
  return wall_seconds > 0 ? static_cast<double>(bytes) / 1e6 / wall_seconds : 0;
}

double LoadReport::transfers_per_second() const {
  return wall_seconds > 0 ? static_cast<double>(transfers_ok) / wall_seconds
                          : 0;
}

std::string LoadReport::ToTable() const {
  std::string failed = "none";
  if (!failures.empty()) {
    failed.clear();
    for (const auto& [reason, count] : failures) {
      absl::StrAppend(&failed, failed.empty() ? "" : ", ", reason, " ", count);
    }
  }
  return absl::StrFormat(
      "transfers      %d ok, %d failed\n"
      "failures       %s\n"
      "bytes          %d (%.1f MB)\n"
      "wall time      %.3f s\n"
      "throughput     %.1f MB/s, %.1f transfers/s\n"
      "latency        p50 %.4f s, p90 %.4f s, p99 %.4f s, max %.4f s\n"
      "retransmits    %d (by the clients)\n"
      "generator CPU  %.3f s (user + system)\n",
      transfers_ok, transfers_failed(), failed, bytes,
      static_cast<double>(bytes) / 1e6, wall_seconds, megabytes_per_second(),
      transfers_per_second(), latency_p50, latency_p90, latency_p99,
      latency_max, retransmits, cpu_seconds);
}

std::string LoadReport::ToJson() const {
  std::string failed = "{";
  for (const auto& [reason, count] : failures) {
    absl::StrAppend(&failed, failed.size() > 1 ? "," : "", "\"", reason,
                    "\":", count);
  }
  failed += "}";
  return absl::StrFormat(
      "{\"transfers_ok\":%d,\"transfers_failed\":%d,\"failures\":%s,"
      "\"bytes\":%d,\"wall_seconds\":%.6f,\"mb_per_second\":%.3f,"
      "\"transfers_per_second\":%.3f,\"latency_seconds\":{\"p50\":%.6f,"
      "\"p90\":%.6f,\"p99\":%.6f,\"max\":%.6f},\"retransmits\":%d,"
      "\"cpu_seconds\":%.6f}",
      transfers_ok, transfers_failed(), failed, bytes, wall_seconds,
      megabytes_per_second(), transfers_per_second(), latency_p50, latency_p90,
      latency_p99, latency_max, retransmits, cpu_seconds);
}

}  // namespace loadgen
