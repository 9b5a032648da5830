// Sending: transfers with packets queue for send slots; a window of DATA
// leaves as one UDP GSO train straight from the file's mapping; ERRORs
// outside a transfer's own packets are gated by the address guard.
#include <netinet/udp.h>

#include <cerrno>
#include <cstring>

#include "io/control_messages.h"
#include "server/api/log.h"
#include "server/engine/completion_kind.h"
#include "server/engine/shard.h"

namespace tftpd {
namespace {

#ifdef UDP_SEGMENT
constexpr bool kGsoBuilt = true;
#else
constexpr bool kGsoBuilt = false;  // UDP GSO is Linux's (4.18).
#endif

// Points `slot`'s message at its iovecs and its destination.
void AddressMessage(SendSlot& slot, const io::SocketAddress& to,
                    size_t iov_count) {
  slot.to = to;
  slot.message = {};
  slot.message.msg_name = slot.to.mutable_get();
  slot.message.msg_namelen = slot.to.length();
  slot.message.msg_iov = slot.iov;
  slot.message.msg_iovlen = iov_count;
  slot.message.msg_control = slot.control;
  slot.message.msg_controllen = 0;
}

// Asks for `size` bytes at `data` to be brought into the cache. The kernel
// copies each payload into its datagram only when the batch is submitted;
// a pulled stream's ring was written a read-ahead ago and has left the
// cache since (1,000 rings of 64 KiB), and loading its lines now, for every
// send of the batch at once, overlaps misses the copy would take one by one.
void Prefetch(const uint8_t* data, size_t size) {
  constexpr size_t kLine = 64;
  for (size_t at = 0; at < size; at += kLine) __builtin_prefetch(data + at);
}

// What a send slot holds so far: its iovecs, and what they count for.
struct SlotContents {
  size_t iov_count = 0;
  size_t bytes = 0;
  // Counted once the batch is sure to go (MaySend may hold it back).
  uint64_t payload_bytes = 0;
  uint64_t retransmissions = 0;
  size_t segments = 0;  // Datagrams.
};

// `packet` (its header at `header`) appended to `slot`: the payload straight
// from the shared mapping or the pulled stream's ring, no copy of file bytes
// in user space.
inline void Append(const Transfer& t, SendSlot& slot, uint8_t* header,
                   const tftp::Outgoing& packet, SlotContents& contents) {
  slot.iov[contents.iov_count++] = {header, packet.header_size};
  if (packet.payload_size > 0) {
    uint8_t* payload = const_cast<uint8_t*>(
        t.pulled ? t.stream->At(packet.payload_offset)
                 : t.response.data() + packet.payload_offset);
    Prefetch(payload, packet.payload_size);
    slot.iov[contents.iov_count++] = {payload, packet.payload_size};
  }
  contents.bytes += packet.header_size + packet.payload_size;
  contents.payload_bytes += packet.payload_size;
  if (packet.retransmission) ++contents.retransmissions;
  ++contents.segments;
}

// The rest of a window of full blocks appended to `slot`, for one GSO send.
void AppendWindow(Transfer& t, SendSlot& slot, SlotContents& contents) {
  const size_t blksize = t.protocol()->options().blksize;
  const size_t segment = tftp::kDataHeaderSize + blksize;
  while (contents.segments < kMaxSegments && t.protocol()->NextIsData() &&
         (contents.segments + 1) * segment <= kMaxGsoBytes) {
    uint8_t* header = slot.more_headers[contents.segments - 1];
    const tftp::Outgoing next = t.protocol()->NextOutgoing(
        absl::MakeSpan(header, tftp::kDataHeaderSize));
    Append(t, slot, header, next, contents);
    if (next.payload_size < blksize) break;  // The last block of the file.
  }
}

// `slot`'s message addressed to `t`'s peer: its GSO segment size when it
// holds more than one datagram (each `segment` bytes), and the source
// address in single-port mode.
void AddressTransferMessage(const Transfer& t, SendSlot& slot,
                            const SlotContents& contents, size_t segment) {
  AddressMessage(slot, t.peer, contents.iov_count);
  slot.segmented = contents.segments > 1;
  if (slot.segmented) {
    io::AppendSegmentSize(&slot.message, sizeof slot.control,
                          static_cast<uint16_t>(segment));
  }
  if (t.shares_service) {
    // The service socket may be bound to a wildcard address: leave from the
    // address the client sent to, or a NAT or firewall drops the reply.
    io::AppendSourceAddress(&slot.message, sizeof slot.control, t.local);
  }
  if (slot.message.msg_controllen == 0) slot.message.msg_control = nullptr;
}

}  // namespace

void Shard::FlushReady() {
  while (!ready_.empty()) {
    const uint32_t index = ready_.front();
    Transfer& t = transfers_[index];
    while (t.live() && t.protocol()->HasOutgoing()) {
      if (slots_.exhausted()) return;  // Sends complete, slots come back.
      SendNext(index);
    }
    ready_.pop_front();
    t.in_ready = false;
    if (t.live()) {
      AfterInput(index);
    } else {
      // It ended while waiting here (its final ACK came behind packets that
      // queued resends); its slot was kept until now.
      MaybeRecycle(index);
    }
  }
}

void Shard::SendNext(uint32_t index) {
  Transfer& t = transfers_[index];
  const uint32_t slot_index = slots_.next();
  SendSlot& slot = slots_[slot_index];
  const tftp::Outgoing out = t.protocol()->NextOutgoing(slot.header);
  if (out.header_size == 0) return;
  slots_.Take();
  SlotContents contents;
  Append(t, slot, slot.header, out, contents);
  // The rest of a window joins the first block in one UDP GSO send: every
  // datagram but the last is a full block, as GSO requires.
  const size_t blksize = t.protocol()->options().blksize;
  if (kGsoBuilt && gso_ && t.gso && out.opcode == tftp::Opcode::kData &&
      out.payload_size == blksize) {
    AppendWindow(t, slot, contents);
  }
  if (!MaySend(t, contents.bytes, out.retransmission)) {
    // Its peer has had what it earned: this goes unsent (the transfer's
    // timer tries again, and ends it), so a spoofed request cannot make
    // the server flood its victim.
    Bump(counters_.amplification_drops);
    slots_.Give(slot_index);
    return;
  }
  if (t.shares_service) t.answers.Sent(now_);
  Bump(counters_.packets_sent, contents.segments);
  Bump(counters_.bytes_sent, contents.payload_bytes);
  if (contents.retransmissions > 0) {
    Bump(counters_.retransmits, contents.retransmissions);
  }
  AddressTransferMessage(t, slot, contents, tftp::kDataHeaderSize + blksize);
  if (out.payload_size > 0 && t.file != nullptr) {
    slot.file = t.file;
    files_.Retain(t.file);
  }
  slot.transfer = index;
  slot.transfer_generation = t.generation;
  ++t.inflight;
  backend_->Send(t.fd, &slot.message,
                 CompletionTag(kSend, slot_index, slot.generation));
}

bool Shard::MaySend(Transfer& t, size_t bytes, bool retransmission) {
  switch (t.credit.Check(bytes, retransmission)) {
    case PeerCredit::Verdict::kHold:
      return false;
    case PeerCredit::Verdict::kSendIfAddressAllows:
      // Unless the address proved itself lately.
      if (!guard_->AllowUnverified(t.peer, static_cast<uint32_t>(bytes),
                                   now_)) {
        return false;
      }
      break;
    case PeerCredit::Verdict::kSend:
      break;
  }
  if (!t.peer_answered) t.unanswered_since = now_;
  t.credit.Spent(bytes);
  return true;
}

void Shard::SendError(int fd, const io::SocketAddress& to,
                      const io::SocketAddress* from, tftp::ErrorCode code,
                      absl::string_view message,
                      std::optional<uint32_t> index) {
  if (slots_.exhausted()) return;  // Saturated: dropping an ERROR is safe.
  const uint32_t slot_index = slots_.next();
  SendSlot& slot = slots_[slot_index];
  const size_t size = tftp::EncodeError(slot.header, code, message);
  // An ERROR to a request's address, or to a stranger on a transfer's port
  // (ERROR 5), counts as sent to an address that has not answered; only a
  // transfer's ERROR to its own proven peer does not.
  const bool answered = index.has_value() && transfers_[*index].peer_answered &&
                        !transfers_[*index].shares_service &&
                        to == transfers_[*index].peer;
  if (!answered &&
      !guard_->AllowUnverified(to, static_cast<uint32_t>(size), now_)) {
    Bump(counters_.amplification_drops);
    return;
  }
  slots_.Take();
  slot.iov[0] = {slot.header, size};
  AddressMessage(slot, to, 1);
  if (from != nullptr) {
    // From the service socket, which may be bound to a wildcard address:
    // leave from the address the request reached, or a client behind a NAT
    // or on another of the host's networks never sees the ERROR.
    io::AppendSourceAddress(&slot.message, sizeof slot.control, *from);
  }
  if (slot.message.msg_controllen == 0) slot.message.msg_control = nullptr;
  slot.segmented = false;
  if (index.has_value()) {
    Transfer& t = transfers_[*index];
    slot.transfer = *index;
    slot.transfer_generation = t.generation;
    ++t.inflight;
  }
  backend_->Send(fd, &slot.message,
                 CompletionTag(kSend, slot_index, slot.generation));
}

void Shard::OnSendDone(uint32_t slot_index, const io::Completion& c) {
  SendSlot& slot = slots_[slot_index];
  if (c.result < 0) {
    Bump(counters_.send_errors);
    TFTPD_LOG(kDebug, "shard %d: send to %s: %s", id_, slot.to.ToString(),
              std::strerror(-c.result));
    if (slot.segmented && slot.transfer != kNoTransfer) {
      // The lost window is sent again, datagram by datagram, when the
      // transfer's retransmission timer fires. EIO: the device cannot
      // checksum GSO sends, so no transfer of this shard uses them any more.
      transfers_[slot.transfer].gso = false;
      if (c.result == -EIO && gso_) {
        gso_ = false;
        TFTPD_LOG(kWarning,
                  "shard %d: UDP GSO sends fail (%s); sending "
                  "windows datagram by datagram",
                  id_, std::strerror(-c.result));
      }
    }
  }
  if (slot.file != nullptr) {
    files_.Release(slot.file);
    slot.file = nullptr;
  }
  if (slot.transfer != kNoTransfer) {
    const uint32_t index = slot.transfer;
    slot.transfer = kNoTransfer;
    Transfer& t = transfers_[index];
    --t.inflight;
    if (c.result == -EFAULT && t.live()) {
      // The file shrank under its mapping (rewritten in place).
      t.protocol()->Abort(tftp::ErrorCode::kNotDefined,
                          "file changed while being sent");
      AfterInput(index);
    }
    MaybeRecycle(index);
  }
  slots_.Give(slot_index);
}

}  // namespace tftpd
