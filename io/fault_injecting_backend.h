// A bad network on demand, for tests: a decorator for any EventBackend that
// loses, duplicates and delays datagrams, the ones it receives and the ones it
// sends, each one decided by a seeded generator. With the same seed and the
// same traffic it makes the same decisions, so a failure can be replayed.
//
// Datagrams are judged one by one: a UDP_SEGMENT send (a window handed to
// the kernel at once) and a UDP_GRO train are split into their datagrams
// first, and only the survivors go out, without segmentation offload. A
// delayed datagram is let through at the end of the next Poll, after what
// arrived or was sent in between, which is how reordering looks to a peer.
// The operation that carried a lost datagram still completes as if it had
// gone out, as a send lost on the wire does.
#ifndef TFTPD_IO_FAULT_INJECTING_BACKEND_H_
#define TFTPD_IO_FAULT_INJECTING_BACKEND_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "io/event_backend.h"

namespace io {

struct FaultPlan {
  uint64_t seed = 1;
  // Probabilities per datagram, each direction; their sum is at most 1.
  double loss = 0;
  double duplicate = 0;
  double reorder = 0;
};

// "loss=0.1,duplicate=0.05,reorder=0.05,seed=7" (any order, any subset;
// probabilities in [0, 1] with a sum of at most 1).
absl::StatusOr<FaultPlan> ParseFaultPlan(absl::string_view text);

struct FaultCounts {
  uint64_t datagrams = 0;  // Judged, in both directions.
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t delayed = 0;
};

// Wraps `inner`; the result has `inner`'s name and threading rules.
std::unique_ptr<EventBackend> InjectFaults(std::unique_ptr<EventBackend> inner,
                                           const FaultPlan& plan);

// What a backend returned by InjectFaults has done so far; zeros for any
// other backend.
FaultCounts CountFaults(const EventBackend& backend);

}  // namespace io

#endif  // TFTPD_IO_FAULT_INJECTING_BACKEND_H_
