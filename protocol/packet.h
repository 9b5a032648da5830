// The TFTP packet codec: parses datagrams into views of their fields and
// encodes packets into caller-provided buffers. Parsing never reads past the
// datagram and never allocates; every malformed input yields a ProtocolStatus
// that names the TFTP error to answer with.
#ifndef TFTPD_PROTOCOL_PACKET_H_
#define TFTPD_PROTOCOL_PACKET_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "protocol/tftp.h"

namespace tftp {

// Field limits for requests and OACKs. RFC 2347 caps a request at 512 octets,
// so no conforming client sends a longer name than kMaxFilenameLength (512
// minus opcode, "octet" and two NULs).
inline constexpr size_t kMaxFilenameLength = 503;
inline constexpr size_t kMaxOptionNameLength = 64;
inline constexpr size_t kMaxOptionValueLength = 64;
inline constexpr size_t kMaxOptions = 16;

// Ok, or the ERROR packet that answers a refused datagram, request or write:
// `code` and `message` (a static string). Returned on the packet path instead
// of absl::Status, which allocates.
struct [[nodiscard]] ProtocolStatus {
  ErrorCode code = ErrorCode::kNotDefined;
  const char* message = nullptr;

  bool ok() const { return message == nullptr; }
  static ProtocolStatus Ok() { return {}; }
};

// One option as it appeared on the wire; views into the parsed datagram.
struct RawOption {
  absl::string_view name;
  absl::string_view value;
};

// A bounded list of options (requests and OACKs), in wire order.
struct OptionList {
  std::array<RawOption, kMaxOptions> items;
  size_t count = 0;

  absl::Span<const RawOption> view() const { return {items.data(), count}; }
};

// RRQ or WRQ. Views point into the datagram that was parsed.
struct Request {
  Opcode opcode = Opcode::kRrq;
  absl::string_view filename;
  TransferMode mode = TransferMode::kOctet;
  absl::string_view mode_name;  // As the client sent it.
  OptionList options;
};

struct DataPacket {
  uint16_t block = 0;
  absl::Span<const uint8_t> payload;
};

struct AckPacket {
  uint16_t block = 0;
};

struct ErrorPacket {
  // Raw code: a peer may send values outside the ErrorCode enumeration.
  uint16_t code = 0;
  absl::string_view message;
};

// The opcode of a datagram, or nullopt when it is shorter than two bytes or
// the opcode is not one of RFC 1350/2347's six.
std::optional<Opcode> PeekOpcode(absl::Span<const uint8_t> datagram);

// Each parser expects the datagram's opcode to be the one it parses (checked:
// a mismatch is a parse error). A request must carry a non-empty file name of
// at most kMaxFilenameLength bytes with no control characters, a mode of
// "octet" or "netascii" (any case; another is refused once the rest of the
// request is parsed, as TransferMode::kUnsupported), and NUL-terminated option
// name/value pairs with no duplicate names (compared without case). NUL bytes
// after the last complete field are padding and accepted; anything else is
// trailing garbage.
ProtocolStatus ParseRequest(absl::Span<const uint8_t> datagram, Request* out);
ProtocolStatus ParseData(absl::Span<const uint8_t> datagram, DataPacket* out);
ProtocolStatus ParseAck(absl::Span<const uint8_t> datagram, AckPacket* out);
ProtocolStatus ParseError(absl::Span<const uint8_t> datagram, ErrorPacket* out);
ProtocolStatus ParseOack(absl::Span<const uint8_t> datagram, OptionList* out);

// Encoders return the number of bytes written, or 0 when `buffer` is too small.
size_t EncodeDataHeader(absl::Span<uint8_t> buffer, uint16_t block);
size_t EncodeData(absl::Span<uint8_t> buffer, uint16_t block,
                  absl::Span<const uint8_t> payload);
size_t EncodeAck(absl::Span<uint8_t> buffer, uint16_t block);
// Truncates `message` to fit the buffer; needs at least 5 bytes.
size_t EncodeError(absl::Span<uint8_t> buffer, ErrorCode code,
                   absl::string_view message);
size_t EncodeRequest(absl::Span<uint8_t> buffer, Opcode opcode,
                     absl::string_view filename, TransferMode mode,
                     absl::Span<const RawOption> options);
size_t EncodeOack(absl::Span<uint8_t> buffer,
                  absl::Span<const RawOption> options);

// "octet" or "netascii".
absl::string_view TransferModeName(TransferMode mode);

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_PACKET_H_
