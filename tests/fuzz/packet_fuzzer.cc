// Fuzz target: every parser on arbitrary datagrams, then option negotiation
// and the OACK encoder on whatever parses as a request. Checks that parsed
// views stay inside the datagram and that encoding a parsed request parses
// back to the same fields.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "protocol/options.h"
#include "protocol/packet.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

bool Inside(absl::string_view view, const uint8_t* data, size_t size) {
  const auto* p = reinterpret_cast<const uint8_t*>(view.data());
  return view.empty() || (p >= data && p + view.size() <= data + size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tftp;
  const absl::Span<const uint8_t> datagram(data, size);
  (void)PeekOpcode(datagram);
  DataPacket d;
  if (ParseData(datagram, &d).ok()) Check(d.payload.size() + 4 == size);
  AckPacket a;
  if (ParseAck(datagram, &a).ok()) Check(size == 4);
  ErrorPacket e;
  if (ParseError(datagram, &e).ok()) Check(Inside(e.message, data, size));
  OptionList oack;
  (void)ParseOack(datagram, &oack);

  Request request;
  const ProtocolStatus status = ParseRequest(datagram, &request);
  if (!status.ok()) {
    Check(status.message != nullptr);
    return 0;
  }
  Check(!request.filename.empty() &&
        request.filename.size() <= kMaxFilenameLength);
  Check(Inside(request.filename, data, size));
  Check(request.options.count <= kMaxOptions);
  for (const RawOption& o : request.options.view()) {
    Check(Inside(o.name, data, size) && Inside(o.value, data, size));
  }

  // Re-encoding gives a request that parses to the same fields.
  std::vector<uint8_t> buffer(size + 16);
  const size_t n =
      EncodeRequest(absl::MakeSpan(buffer), request.opcode, request.filename,
                    request.mode, request.options.view());
  Check(n > 0);
  Request again;
  Check(ParseRequest(absl::MakeConstSpan(buffer.data(), n), &again).ok());
  Check(again.filename == request.filename && again.mode == request.mode &&
        again.options.count == request.options.count);

  // Negotiation under a few server limits.
  for (uint16_t max_blksize : {uint16_t{512}, uint16_t{1468}, kMaxBlockSize}) {
    OptionLimits limits;
    limits.max_blksize = max_blksize;
    limits.max_windowsize = 16;
    limits.max_upload_size = 1 << 20;
    NegotiatedOptions negotiated;
    if (!NegotiateOptions(request, limits, size, &negotiated).ok()) continue;
    Check(negotiated.blksize >= kMinBlockSize &&
          negotiated.blksize <= max_blksize);
    Check(negotiated.windowsize >= 1 && negotiated.windowsize <= 16);
    Check(negotiated.accepted_count <= request.options.count);
    uint8_t oack_buffer[kMaxNegotiatedOackSize];
    const size_t oack_size = EncodeNegotiatedOack(oack_buffer, negotiated);
    Check(oack_size > 0 || !negotiated.has_oack());
    if (oack_size > 0) {
      OptionList parsed;
      Check(
          ParseOack(absl::MakeConstSpan(oack_buffer, oack_size), &parsed).ok());
      Check(parsed.count == negotiated.accepted_count);
    }
  }
  return 0;
}
