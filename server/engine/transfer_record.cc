#include "server/engine/transfer_record.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/api/log.h"

namespace tftpd {
namespace {

double Seconds(io::Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

void CountOutcome(tftp::TransferOutcome outcome, ShardCounters& counters) {
  switch (outcome) {
    case tftp::TransferOutcome::kCompleted:
      Bump(counters.transfers_completed);
      break;
    case tftp::TransferOutcome::kPeerError:
      Bump(counters.transfers_peer_error);
      break;
    case tftp::TransferOutcome::kTimedOut:
      Bump(counters.transfers_timed_out);
      break;
    case tftp::TransferOutcome::kProtocolError:
      Bump(counters.transfers_protocol_error);
      break;
    case tftp::TransferOutcome::kSuperseded:
      Bump(counters.transfers_superseded);
      break;
    default:
      Bump(counters.transfers_aborted);
      break;
  }
}

void WriteTransferLine(const Transfer& t, io::TimePoint now) {
  const tftp::TransferResult& result = t.protocol()->result();
  const tftp::TransferCounters& counters = t.protocol()->counters();
  std::string error;
  if (EndedByError(result.outcome)) {
    error = absl::StrCat(" error=", result.error_code,
                         " message=", LogValue(result.error_message));
  }
  const tftp::NegotiatedOptions& options = t.protocol()->options();
  const uint64_t size = t.upload() != nullptr ? counters.bytes_transferred
                        : t.stream != nullptr ? t.stream->state().available
                                              : t.response.size();
  WriteLogLine(
      LogLevel::kInfo,
      absl::StrFormat(
          "transfer peer=%s file=%s outcome=%s bytes=%d "
          "size=%d duration=%.3fs blksize=%d windowsize=%d "
          "retransmits=%d%s%s",
          t.peer.ToString(), LogValue(t.context.requested_path),
          tftp::TransferOutcomeName(result.outcome), counters.bytes_transferred,
          size, Seconds(now - t.started), options.blksize, options.windowsize,
          counters.retransmits, error, t.upload() != nullptr ? " upload" : ""));
}

TransferStats MakeStats(Transfer& t, int shard, io::TimePoint now) {
  const tftp::TransferResult& result = t.protocol()->result();
  const tftp::TransferCounters& counters = t.protocol()->counters();
  const tftp::NegotiatedOptions& options = t.protocol()->options();
  TransferStats stats;
  stats.peer = t.key;
  stats.server_address = t.context.server_address;
  stats.upload = t.upload() != nullptr;
  stats.requested_path = t.context.requested_path;
  stats.path = t.context.path;
  stats.shard = shard;
  stats.request_id = t.context.request_id;
  stats.client_answered = t.peer_answered;
  stats.session = TakeSession(t);
  // In progress: the server gave up on a client that never answered.
  stats.outcome = result.outcome == tftp::TransferOutcome::kInProgress
                      ? "unanswered"
                      : std::string(tftp::TransferOutcomeName(result.outcome));
  if (EndedByError(result.outcome)) {
    stats.error_code = result.error_code;
    stats.error_message = result.error_message;
  }
  stats.options_requested = t.context.options;
  for (tftp::OptionId id : options.accepted_options()) {
    uint64_t value = 0;
    switch (id) {
      case tftp::OptionId::kBlksize:
        value = options.blksize;
        break;
      case tftp::OptionId::kTimeout:
        value = options.timeout_seconds;
        break;
      case tftp::OptionId::kTsize:
        value = options.tsize.value_or(0);
        break;
      case tftp::OptionId::kWindowsize:
        value = options.windowsize;
        break;
    }
    stats.options_acknowledged.emplace_back(tftp::OptionName(id),
                                            absl::StrCat(value));
  }
  stats.start_time = t.started_wall;
  stats.duration = now - t.started;
  stats.packets_sent = counters.packets_sent;
  stats.packets_received = counters.packets_received;
  stats.blocks_acknowledged = counters.blocks_acknowledged;
  stats.bytes_sent = counters.payload_bytes_sent;
  stats.bytes_acknowledged = counters.bytes_transferred;
  stats.retransmits = counters.retransmits;
  stats.response_size = options.tsize;
  stats.blksize = options.blksize;
  stats.windowsize = options.windowsize;
  return stats;
}

}  // namespace

bool EndedByError(tftp::TransferOutcome outcome) {
  return outcome != tftp::TransferOutcome::kCompleted &&
         outcome != tftp::TransferOutcome::kTimedOut &&
         outcome != tftp::TransferOutcome::kSuperseded;
}

namespace {

// What every record of a request that never became a transfer carries.
TransferStats RequestRecord(const RequestContext& context,
                            std::chrono::system_clock::time_point start,
                            io::Clock::duration waited) {
  TransferStats record;
  record.peer = context.peer;
  record.server_address = context.server_address;
  record.requested_path = context.requested_path;
  record.path = context.path;
  record.shard = context.shard;
  record.request_id = context.request_id;
  record.options_requested = context.options;
  record.start_time = start;
  record.duration = waited;
  return record;
}

void Post(TransferStats record, ShardCounters& counters,
          StatsDispatcher* stats) {
  if (!stats->Post(std::move(record))) Bump(counters.stats_dropped);
}

}  // namespace

void RecordRefusal(const RequestContext& context, const Refusal& refusal,
                   std::chrono::system_clock::time_point start,
                   io::Clock::duration waited, ShardCounters& counters,
                   StatsDispatcher* stats) {
  if (stats == nullptr || !stats->wants_transfers()) return;
  TransferStats record = RequestRecord(context, start, waited);
  record.outcome = refusal.dropped ? "dropped" : "refused";
  if (!refusal.dropped) {
    record.error_code = static_cast<uint16_t>(refusal.code);
    record.error_message = refusal.message;
  }
  record.session = refusal.session;
  Post(std::move(record), counters, stats);
}

void RecordUnanswered(const RequestContext& context,
                      std::shared_ptr<void> session,
                      std::chrono::system_clock::time_point start,
                      io::Clock::duration waited, ShardCounters& counters,
                      StatsDispatcher* stats) {
  if (stats == nullptr || !stats->wants_transfers()) return;
  TransferStats record = RequestRecord(context, start, waited);
  record.outcome = "unanswered";
  record.session = std::move(session);
  Post(std::move(record), counters, stats);
}

void RecordTransfer(Transfer& t, int shard, io::TimePoint now,
                    ShardCounters& counters, StatsDispatcher* stats) {
  const tftp::TransferResult& result = t.protocol()->result();
  Bump(counters.transfers_finished);
  if (EndedByError(result.outcome)) {
    Bump(counters.failed_by_code[ErrorCodeBucket(result.error_code)]);
  }
  PostTransferRecord(t, shard, now, counters, stats);
  CountOutcome(result.outcome, counters);
  if (LogEnabled(LogLevel::kInfo)) WriteTransferLine(t, now);
}

void PostTransferRecord(Transfer& t, int shard, io::TimePoint now,
                        ShardCounters& counters, StatsDispatcher* stats) {
  if (stats != nullptr && stats->wants_transfers()) {
    Post(MakeStats(t, shard, now), counters, stats);
  }
}

}  // namespace tftpd
