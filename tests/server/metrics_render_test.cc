// The Prometheus text format of the counters.
#include "gtest/gtest.h"
#include "server/observability/metrics_http.h"

namespace tftpd {
namespace {

TEST(MetricsRender, OneFamilyPerCounterWithShardLabels) {
  std::vector<ServerTotals> shards(2);
  shards[0].transfers_completed = 7;
  shards[1].transfers_completed = 3;
  shards[1].failed_by_code[1] = 2;
  shards[0].refused_by_reason[static_cast<size_t>(RefusalReason::k_busy)] = 4;
  shards[1].transfers_active = 5;
  const std::string text = RenderPrometheus(shards);
  EXPECT_NE(text.find("# TYPE tftpd_transfers_completed_total counter\n"
                      "tftpd_transfers_completed_total{shard=\"0\"} 7\n"
                      "tftpd_transfers_completed_total{shard=\"1\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tftpd_transfers_failed_total{shard=\"1\",code=\"1\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("tftpd_requests_refused_by_reason_total{shard=\"0\","
                      "reason=\"busy\"} 4"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE tftpd_transfers_active gauge\n"),
            std::string::npos);
  // Each family is declared once.
  size_t declarations = 0;
  for (size_t at = text.find("# TYPE tftpd_transfers_failed_total");
       at != std::string::npos;
       at = text.find("# TYPE tftpd_transfers_failed_total", at + 1)) {
    ++declarations;
  }
  EXPECT_EQ(declarations, 1u);
}

}  // namespace
}  // namespace tftpd
