// What stays of a transfer once it ends: its outcome counted, its log
// line, and its statistics record for the callback (stats_callbacks.h).
#ifndef TFTPD_SERVER_ENGINE_TRANSFER_RECORD_H_
#define TFTPD_SERVER_ENGINE_TRANSFER_RECORD_H_

#include <memory>

#include "io/event_backend.h"
#include "protocol/transfer.h"
#include "server/api/server_stats.h"
#include "server/engine/refusal.h"
#include "server/engine/transfer.h"
#include "server/observability/stats_dispatcher.h"

namespace tftpd {

// An ERROR (sent or received) ended the transfer; otherwise it completed,
// its client stopped answering, or its client moved on to another transfer.
bool EndedByError(tftp::TransferOutcome outcome);

// `t`'s protocol side has finished at `now`: counted, logged and its
// statistics record posted. `stats` may be null.
void RecordTransfer(Transfer& t, int shard, io::TimePoint now,
                    ShardCounters& counters, StatsDispatcher* stats);

// Only `t`'s statistics record. `stats` may be null.
void PostTransferRecord(Transfer& t, int shard, io::TimePoint now,
                        ShardCounters& counters, StatsDispatcher* stats);

// A request the handler (or the response it gave) refused or dropped: its
// statistics record, outcome "refused" or "dropped". `stats` may be null.
void RecordRefusal(const RequestContext& context, const Refusal& refusal,
                   std::chrono::system_clock::time_point start,
                   io::Clock::duration waited, ShardCounters& counters,
                   StatsDispatcher* stats);

// A request whose response had not begun when the shard gave up on it
// (evicted for a newer one, or the server stopping): its statistics record,
// outcome "unanswered", carrying the handler's `session`. `stats` may be
// null.
void RecordUnanswered(const RequestContext& context,
                      std::shared_ptr<void> session,
                      std::chrono::system_clock::time_point start,
                      io::Clock::duration waited, ShardCounters& counters,
                      StatsDispatcher* stats);

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_TRANSFER_RECORD_H_
