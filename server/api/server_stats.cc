#include "server/api/server_stats.h"

#include "absl/strings/str_cat.h"

namespace tftpd {

absl::string_view RefusalReasonName(RefusalReason reason) {
  switch (reason) {
#define TFTPD_NAME(name, help)  \
  case RefusalReason::k_##name: \
    return #name;
    TFTPD_REFUSAL_REASONS(TFTPD_NAME)
#undef TFTPD_NAME
    default:
      return "unknown";
  }
}

void ServerTotals::Add(const ShardCounters& shard) {
#define TFTPD_ADD(name, help) \
  name += shard.name.load(std::memory_order_relaxed);
  TFTPD_SERVER_COUNTERS(TFTPD_ADD)
#undef TFTPD_ADD
  for (size_t i = 0; i < failed_by_code.size(); ++i) {
    failed_by_code[i] +=
        shard.failed_by_code[i].load(std::memory_order_relaxed);
  }
  for (size_t i = 0; i < refused_by_reason.size(); ++i) {
    refused_by_reason[i] +=
        shard.refused_by_reason[i].load(std::memory_order_relaxed);
  }
  transfers_active += shard.transfers_active.load(std::memory_order_relaxed);
}

void ServerTotals::Add(const ServerTotals& other) {
#define TFTPD_ADD(name, help) name += other.name;
  TFTPD_SERVER_COUNTERS(TFTPD_ADD)
#undef TFTPD_ADD
  for (size_t i = 0; i < failed_by_code.size(); ++i) {
    failed_by_code[i] += other.failed_by_code[i];
  }
  for (size_t i = 0; i < refused_by_reason.size(); ++i) {
    refused_by_reason[i] += other.refused_by_reason[i];
  }
  transfers_active += other.transfers_active;
}

ServerTotals ServerTotals::Minus(const ServerTotals& earlier) const {
  ServerTotals d = *this;
#define TFTPD_SUB(name, help) d.name -= earlier.name;
  TFTPD_SERVER_COUNTERS(TFTPD_SUB)
#undef TFTPD_SUB
  for (size_t i = 0; i < failed_by_code.size(); ++i) {
    d.failed_by_code[i] -= earlier.failed_by_code[i];
  }
  for (size_t i = 0; i < refused_by_reason.size(); ++i) {
    d.refused_by_reason[i] -= earlier.refused_by_reason[i];
  }
  return d;
}

std::string ServerTotals::ToString() const {
  std::string out;
#define TFTPD_PRINT(name, help) absl::StrAppend(&out, #name "=", name, " ");
  TFTPD_SERVER_COUNTERS(TFTPD_PRINT)
#undef TFTPD_PRINT
  for (size_t i = 0; i < refused_by_reason.size(); ++i) {
    if (refused_by_reason[i] == 0) continue;
    absl::StrAppend(&out, "refused_",
                    RefusalReasonName(static_cast<RefusalReason>(i)), "=",
                    refused_by_reason[i], " ");
  }
  for (size_t i = 0; i < failed_by_code.size(); ++i) {
    if (failed_by_code[i] == 0) continue;
    absl::StrAppend(&out, "failed_error_", i, "=", failed_by_code[i], " ");
  }
  absl::StrAppend(&out, "transfers_active=", transfers_active);
  return out;
}

void ServerTotals::ForEach(
    const std::function<void(absl::string_view, absl::string_view,
                             absl::string_view, absl::string_view, uint64_t,
                             bool)>& fn) const {
#define TFTPD_EACH(name, help) fn(#name, help, "", "", name, false);
  TFTPD_SERVER_COUNTERS(TFTPD_EACH)
#undef TFTPD_EACH
  for (size_t i = 0; i < failed_by_code.size(); ++i) {
    fn("transfers_failed", "transfers ended with an ERROR, by its code", "code",
       absl::StrCat(i), failed_by_code[i], false);
  }
  for (size_t i = 0; i < refused_by_reason.size(); ++i) {
    fn("requests_refused_by_reason", "requests refused, by reason", "reason",
       RefusalReasonName(static_cast<RefusalReason>(i)), refused_by_reason[i],
       false);
  }
  fn("transfers_active", "transfers open now", "", "", transfers_active, true);
}

}  // namespace tftpd
