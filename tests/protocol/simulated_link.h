// Drives a server transfer against a simulated client over a lossy link, with
// a fake clock that jumps to the next deadline whenever the link is quiet.
// The clients follow RFC 1350/2347/7440 as real boot clients do.
#ifndef TFTPD_TESTS_PROTOCOL_SIMULATED_LINK_H_
#define TFTPD_TESTS_PROTOCOL_SIMULATED_LINK_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "protocol/options.h"
#include "protocol/tftp.h"
#include "protocol/transfer.h"
#include "protocol/write_sink.h"

namespace tftp::testing {

// Decides, by the index of each packet sent in one direction (0, 1, ...),
// whether the link drops it.
using DropRule = std::function<bool(uint64_t index)>;

struct LinkFaults {
  DropRule drop_to_client;
  DropRule drop_to_server;
  // The client ACKs the last in-order block as soon as it sees a gap inside a
  // window instead of waiting for the server to time out (RFC 7440 allows
  // both).
  bool client_acks_on_gap = false;
};

DropRule DropIndices(std::vector<uint64_t> indices);

struct ReadRun {
  std::string received;
  bool client_complete = false;
  TransferResult result;
  TransferCounters counters;
  std::vector<uint16_t> wire_blocks;  // In-order DATA block numbers seen.
  TimePoint end;
};

// Serves `content` through a ReadTransfer to a simulated downloading client.
ReadRun RunRead(const std::string& content, const NegotiatedOptions& options,
                const TransferConfig& config = {},
                const LinkFaults& faults = {});

class MemorySink : public WriteSink {
 public:
  ProtocolStatus Write(uint64_t offset,
                       absl::Span<const uint8_t> bytes) override;
  ProtocolStatus Finish(uint64_t total_bytes) override;

  std::string bytes;
  bool finished = false;
  uint64_t finished_total = 0;
  // Refuse writes once this many bytes are stored (disk full).
  uint64_t refuse_beyond = UINT64_MAX;
  bool refuse_finish = false;
};

struct WriteRun {
  MemorySink sink;
  bool client_complete = false;
  TransferResult result;
  TransferCounters counters;
  TimePoint end;
};

// Uploads `content` from a simulated client through a WriteTransfer.
WriteRun RunWrite(const std::string& content, const NegotiatedOptions& options,
                  uint64_t max_size = UINT64_MAX,
                  const TransferConfig& config = {},
                  const LinkFaults& faults = {});

// Negotiated options for a transfer, as if the client asked for them.
NegotiatedOptions OptionsFor(uint16_t blksize, uint16_t windowsize,
                             bool with_oack = true);

// Deterministic test content: `size` bytes that differ block to block.
std::string PatternContent(size_t size);

}  // namespace tftp::testing

#endif  // TFTPD_TESTS_PROTOCOL_SIMULATED_LINK_H_
