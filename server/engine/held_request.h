// A request kept past the datagram it came in (a transfer waiting for its
// response, a request parked behind an open transfer): its bytes copied
// once, the parsed views moved onto the copy, so it is never parsed again.
#ifndef TFTPD_SERVER_ENGINE_HELD_REQUEST_H_
#define TFTPD_SERVER_ENGINE_HELD_REQUEST_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "io/event_backend.h"
#include "protocol/packet.h"

namespace tftpd {

class HeldRequest {
 public:
  // `request` parsed from `datagram.payload`.
  HeldRequest(const io::Datagram& datagram, const tftp::Request& request);
  // Moving keeps the views valid: a vector's buffer does not move with it.
  HeldRequest(HeldRequest&&) = default;
  HeldRequest& operator=(HeldRequest&&) = default;
  HeldRequest(const HeldRequest&) = delete;
  HeldRequest& operator=(const HeldRequest&) = delete;

  const tftp::Request& request() const { return request_; }
  const io::SocketAddress& source() const { return source_; }
  const io::SocketAddress& destination() const { return destination_; }
  // The request as the datagram it came in, views valid while this lives.
  io::Datagram datagram() const;

 private:
  std::vector<uint8_t> bytes_;
  tftp::Request request_;
  io::SocketAddress source_;
  io::SocketAddress destination_;
};

// Equal for a request and its repeats; a different file or different
// options make a different request.
size_t RequestFingerprint(const tftp::Request& request);

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_HELD_REQUEST_H_
