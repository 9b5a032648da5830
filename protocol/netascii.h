// Netascii (RFC 764 as used by RFC 1350): line ends travel as CR LF and a bare
// CR as CR NUL. The server stores files with Unix line ends, so encoding maps
// LF to CR LF and CR to CR NUL; decoding reverses it. Both work on a stream
// split at arbitrary points (packet boundaries), carrying state across calls.
#ifndef TFTPD_PROTOCOL_NETASCII_H_
#define TFTPD_PROTOCOL_NETASCII_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "protocol/write_sink.h"

namespace tftp {

// The encoded size of `data`: what tsize announces for a netascii response.
uint64_t NetasciiEncodedSize(absl::Span<const uint8_t> data);

class NetasciiEncoder {
 public:
  struct Progress {
    size_t consumed;  // Bytes of input used.
    size_t produced;  // Bytes written to the output.
  };
  // Encodes as much of `in` as fits into `out`. A two-byte sequence that
  // does not fit is finished by the next call, before any new input.
  Progress Encode(absl::Span<const uint8_t> in, absl::Span<uint8_t> out);
  // Whether the second byte of a sequence is still owed to the output.
  bool has_pending() const { return pending_ >= 0; }

 private:
  int pending_ = -1;
};

class NetasciiDecoder {
 public:
  // Decodes `in` into `out`, which must hold at least in.size() + 1 bytes.
  // Returns the number of bytes written. A CR at the end of `in` is held
  // until the next call shows what follows it.
  size_t Decode(absl::Span<const uint8_t> in, uint8_t* out);
  // Ends the stream: writes a held CR (at most one byte) and returns the
  // count written.
  size_t Finish(uint8_t* out);

 private:
  bool pending_cr_ = false;
};

// A WriteSink that decodes netascii before passing bytes to another sink.
class NetasciiDecodingSink : public WriteSink {
 public:
  explicit NetasciiDecodingSink(WriteSink* inner) : inner_(inner) {}

  ProtocolStatus Write(uint64_t offset,
                       absl::Span<const uint8_t> bytes) override;
  ProtocolStatus Finish(uint64_t total_bytes) override;

 private:
  WriteSink* inner_;
  NetasciiDecoder decoder_;
  uint64_t decoded_bytes_ = 0;
};

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_NETASCII_H_
