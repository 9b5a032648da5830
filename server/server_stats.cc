#include "server/server_stats.h"

#include "absl/strings/str_cat.h"

namespace tftpd {

void ServerTotals::Add(const ShardCounters& shard) {
#define TFTPD_ADD(name, help) \
  name += shard.name.load(std::memory_order_relaxed);
  TFTPD_SERVER_COUNTERS(TFTPD_ADD)
#undef TFTPD_ADD
  sessions_active += shard.sessions_active.load(std::memory_order_relaxed);
}

std::string ServerTotals::ToString() const {
  std::string out;
#define TFTPD_PRINT(name, help) absl::StrAppend(&out, #name "=", name, " ");
  TFTPD_SERVER_COUNTERS(TFTPD_PRINT)
#undef TFTPD_PRINT
  absl::StrAppend(&out, "sessions_active=", sessions_active);
  return out;
}

}  // namespace tftpd
