#include "protocol/netascii.h"

#include <vector>

namespace tftp {
namespace {

constexpr uint8_t kCr = '\r';
constexpr uint8_t kLf = '\n';

}  // namespace

uint64_t NetasciiEncodedSize(absl::Span<const uint8_t> data) {
  uint64_t size = data.size();
  for (uint8_t b : data) {
    if (b == kLf || b == kCr) ++size;
  }
  return size;
}

NetasciiEncoder::Progress NetasciiEncoder::Encode(absl::Span<const uint8_t> in,
                                                  absl::Span<uint8_t> out) {
  size_t consumed = 0;
  size_t produced = 0;
  if (pending_ >= 0) {
    if (out.empty()) return {0, 0};
    out[produced++] = static_cast<uint8_t>(pending_);
    pending_ = -1;
  }
  while (consumed < in.size() && produced < out.size()) {
    const uint8_t b = in[consumed++];
    if (b == kLf || b == kCr) {
      out[produced++] = kCr;
      const uint8_t second = b == kLf ? kLf : 0;
      if (produced < out.size()) {
        out[produced++] = second;
      } else {
        pending_ = second;
      }
    } else {
      out[produced++] = b;
    }
  }
  return {consumed, produced};
}

size_t NetasciiDecoder::Decode(absl::Span<const uint8_t> in, uint8_t* out) {
  size_t produced = 0;
  for (uint8_t b : in) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (b == kLf) {
        out[produced++] = kLf;
        continue;
      }
      out[produced++] = kCr;  // CR NUL, or a bare CR from a lax sender.
      if (b == 0) continue;
    }
    if (b == kCr) {
      pending_cr_ = true;
    } else {
      out[produced++] = b;
    }
  }
  return produced;
}

size_t NetasciiDecoder::Finish(uint8_t* out) {
  if (!pending_cr_) return 0;
  pending_cr_ = false;
  out[0] = kCr;
  return 1;
}

ProtocolStatus NetasciiDecodingSink::Write(uint64_t offset,
                                           absl::Span<const uint8_t> bytes) {
  // Uploads are off the hot path; a per-block scratch buffer keeps this plain.
  std::vector<uint8_t> decoded(bytes.size() + 1);
  const size_t n = decoder_.Decode(bytes, decoded.data());
  ProtocolStatus status =
      inner_->Write(decoded_bytes_, absl::MakeConstSpan(decoded.data(), n));
  decoded_bytes_ += n;
  return status;
}

ProtocolStatus NetasciiDecodingSink::Finish(uint64_t total_bytes) {
  uint8_t tail[1];
  const size_t n = decoder_.Finish(tail);
  if (n > 0) {
    ProtocolStatus status =
        inner_->Write(decoded_bytes_, absl::MakeConstSpan(tail, n));
    if (!status.ok()) return status;
    decoded_bytes_ += n;
  }
  return inner_->Finish(decoded_bytes_);
}

}  // namespace tftp
