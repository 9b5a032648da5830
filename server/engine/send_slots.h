// The datagram sends a shard has in flight: each slot holds a message, its
// headers and control data until the kernel completes the send, and pins
// the file mapping its iovecs point into. A fixed number per shard; a
// transfer with packets to send waits for a free slot.
#ifndef TFTPD_SERVER_ENGINE_SEND_SLOTS_H_
#define TFTPD_SERVER_ENGINE_SEND_SLOTS_H_

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "io/control_messages.h"
#include "io/socket_address.h"
#include "protocol/packet.h"
#include "protocol/transfer.h"
#include "server/files/file_cache.h"

namespace tftpd {

// A window of DATA goes out as one UDP GSO send of at most this many
// datagrams and bytes (the kernel's limits are 64 segments and 64 KiB).
inline constexpr size_t kMaxSegments = 16;
inline constexpr size_t kMaxGsoBytes = 65000;
inline constexpr uint32_t kNoTransfer = ~uint32_t{0};

struct SendSlot {
  uint32_t generation = 0;
  msghdr message{};
  // A header and its block per datagram; several datagrams with GSO.
  iovec iov[2 * kMaxSegments]{};
  io::SocketAddress to;
  SharedFile* file = nullptr;  // Pinned while the send is in flight.
  uint32_t transfer = kNoTransfer;
  uint32_t transfer_generation = 0;
  bool segmented = false;
  uint8_t header[tftp::kMinOutgoingBuffer];
  uint8_t more_headers[kMaxSegments - 1][tftp::kDataHeaderSize];
  alignas(cmsghdr) uint8_t
      control[CMSG_SPACE(sizeof(uint16_t)) + io::kSourceAddressControlSize];
};

class SendSlots {
 public:
  explicit SendSlots(size_t count) : slots_(count) {
    free_.reserve(count);
    for (uint32_t i = static_cast<uint32_t>(count); i > 0; --i) {
      free_.push_back(i - 1);
    }
  }

  SendSlot& operator[](uint32_t index) { return slots_[index]; }
  const SendSlot& operator[](uint32_t index) const { return slots_[index]; }
  size_t size() const { return slots_.size(); }
  size_t free() const { return free_.size(); }
  bool exhausted() const { return free_.empty(); }
  const std::vector<uint32_t>& free_list() const { return free_; }

  // The slot Take would take; filled before it is taken, so that a send
  // decided against costs nothing.
  uint32_t next() const { return free_.back(); }
  void Take() { free_.pop_back(); }
  // A slot whose send completed (or was never submitted): its completions
  // from before are recognised as stale by the generation.
  void Give(uint32_t index) {
    ++slots_[index].generation;
    free_.push_back(index);
  }

 private:
  std::vector<SendSlot> slots_;
  std::vector<uint32_t> free_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_SEND_SLOTS_H_
