#include "server/engine/held_request.h"

#include "absl/hash/hash.h"

namespace tftpd {
namespace {

// `view`, which points into `from`, pointed at the same bytes of `to`.
absl::string_view Rebase(absl::string_view view, const uint8_t* from,
                         const uint8_t* to) {
  if (view.data() == nullptr) return view;
  const auto offset = reinterpret_cast<const uint8_t*>(view.data()) - from;
  return absl::string_view(reinterpret_cast<const char*>(to + offset),
                           view.size());
}

}  // namespace

HeldRequest::HeldRequest(const io::Datagram& datagram,
                         const tftp::Request& request)
    : bytes_(datagram.payload.begin(), datagram.payload.end()),
      request_(request),
      source_(datagram.source),
      destination_(datagram.destination) {
  const uint8_t* from = datagram.payload.data();
  const uint8_t* to = bytes_.data();
  request_.filename = Rebase(request.filename, from, to);
  request_.mode_name = Rebase(request.mode_name, from, to);
  for (size_t i = 0; i < request_.options.count; ++i) {
    tftp::RawOption& option = request_.options.items[i];
    option.name = Rebase(option.name, from, to);
    option.value = Rebase(option.value, from, to);
  }
}

io::Datagram HeldRequest::datagram() const {
  io::Datagram datagram;
  datagram.payload = absl::MakeConstSpan(bytes_);
  datagram.source = source_;
  datagram.destination = destination_;
  return datagram;
}

size_t RequestFingerprint(const tftp::Request& request) {
  size_t hash = absl::HashOf(static_cast<int>(request.opcode), request.filename,
                             static_cast<int>(request.mode));
  for (const tftp::RawOption& option : request.options.view()) {
    hash = absl::HashOf(hash, option.name, option.value);
  }
  return hash;
}

}  // namespace tftpd
