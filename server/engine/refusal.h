// A request answered with an ERROR instead of a transfer, as a value: the
// parts of the engine that decide return one, and the shard's Refuse is
// the one place that sends it.
#ifndef TFTPD_SERVER_ENGINE_REFUSAL_H_
#define TFTPD_SERVER_ENGINE_REFUSAL_H_

#include <memory>
#include <string>

#include "protocol/tftp.h"
#include "server/api/server_stats.h"

namespace tftpd {

struct Refusal {
  tftp::ErrorCode code = tftp::ErrorCode::kNotDefined;
  std::string message;
  RefusalReason reason = RefusalReason::k_malformed;
  // Logged with the file's name; refusals a flood can cause by the
  // thousand (busy, rate limits, malformed) are only counted.
  bool logged = true;
  // No ERROR at all: the handler dropped the request (Response::Drop).
  bool dropped = false;
  // What the handler attached to the refused stream, for the record.
  std::shared_ptr<void> session = nullptr;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_REFUSAL_H_
