// The kinds of operation a shard submits, carried in each completion's user
// data (io/user_data.h) with a slot index and generation.
#ifndef TFTPD_SERVER_ENGINE_COMPLETION_KIND_H_
#define TFTPD_SERVER_ENGINE_COMPLETION_KIND_H_

#include <cstdint>

#include "io/user_data.h"

namespace tftpd {

enum CompletionKind : uint8_t {
  kServiceReceive = 1,
  kTransferReceive = 2,  // index: the transfer
  kSend = 3,             // index: the send slot
  kWake = 4,
};

inline uint64_t CompletionTag(CompletionKind kind, uint32_t index,
                              uint32_t generation) {
  return io::UserData{kind, index, generation}.Pack();
}

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_COMPLETION_KIND_H_
