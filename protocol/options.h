// Option negotiation for RFC 2347 (framework), 2348 (blksize), 2349 (timeout,
// tsize) and 7440 (windowsize).
//
// Policy for values the server cannot use (RFC 2347 lets a server ignore any
// option it does not accept): an option whose value is not a decimal number or
// is outside its RFC range is ignored, that is left out of the OACK, and the
// transfer runs with the default for it. Values inside the RFC range but above
// the server's own maximum are lowered to that maximum (blksize, windowsize);
// a lowered value never exceeds what the client asked. The only refusal is a
// WRQ whose tsize exceeds the upload limit: ERROR 3, as RFC 2349 allows.
// Unknown options are ignored. The OACK carries only options the client sent,
// in the client's order, with lower-case names.
#ifndef TFTPD_PROTOCOL_OPTIONS_H_
#define TFTPD_PROTOCOL_OPTIONS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/types/span.h"
#include "protocol/packet.h"
#include "protocol/tftp.h"

namespace tftp {

// The server's side of the negotiation, normally from flags.
struct OptionLimits {
  uint16_t max_blksize = kMaxBlockSize;
  uint16_t max_windowsize = kMaxWindowSize;
  // Largest upload a WRQ may announce with tsize.
  uint64_t max_upload_size = UINT64_MAX;
  // Reads: the windowsize granted is lowered so that a window of DATA,
  // headers included, fits in this many bytes (one block at least); 0: no
  // such bound. A window cannot be made smaller once granted: RFC 7440
  // clients acknowledge a window only once all of it came (or on their
  // timeout).
  uint32_t max_window_bytes = 0;
};

enum class OptionId : uint8_t {
  kBlksize,
  kTimeout,
  kTsize,
  kWindowsize,
};

// The transfer parameters after negotiation, and what the OACK says.
// The option's name as it goes on the wire ("blksize", ...).
const char* OptionName(OptionId id);

struct NegotiatedOptions {
  uint16_t blksize = kDefaultBlockSize;
  uint16_t windowsize = 1;
  // Seconds the client asked for, or 0 when it did not negotiate a timeout.
  uint16_t timeout_seconds = 0;
  // RRQ: the response size announced; WRQ: the size the client announced.
  std::optional<uint64_t> tsize;
  // The accepted options in the client's order; empty means no OACK.
  std::array<OptionId, 4> accepted = {};
  uint8_t accepted_count = 0;

  bool has_oack() const { return accepted_count > 0; }
  absl::Span<const OptionId> accepted_options() const {
    return {accepted.data(), accepted_count};
  }
};

// Negotiates `request`'s options against `limits`. For an RRQ,
// `response_size` is the size of the response in the request's transfer mode
// when known; tsize is left out of the OACK when it is not. Returns an ERROR to
// answer with only for a WRQ announcing more than max_upload_size.
ProtocolStatus NegotiateOptions(const Request& request,
                                const OptionLimits& limits,
                                std::optional<uint64_t> response_size,
                                NegotiatedOptions* out);

// Encodes the OACK for `options`; 0 when the buffer is too small or there is
// nothing to acknowledge. 128 bytes always suffice.
size_t EncodeNegotiatedOack(absl::Span<uint8_t> buffer,
                            const NegotiatedOptions& options);
inline constexpr size_t kMaxNegotiatedOackSize = 128;

// Parses a strict decimal number (digits only, no sign, no spaces) that fits
// in 64 bits.
std::optional<uint64_t> ParseDecimal(absl::string_view text);

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_OPTIONS_H_
