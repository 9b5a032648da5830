// A response read as the client acknowledges it: the engine asks the source
// for the next blocks only while the client is within a few windows of them
// (the read-ahead), so a thousand clients each reading a different generated
// gigabyte hold a few windows each, not the gigabytes. An HTTP download, a
// database cursor, a Python file-like object are sources.
//
// Read and Close run on the server's source threads (ServerConfig::
// source_threads), never on a shard, one call at a time per source: they may
// block as long as they need (bounded by ServerConfig::source_timeout).
#ifndef TFTPD_SERVER_API_RESPONSE_SOURCE_H_
#define TFTPD_SERVER_API_RESPONSE_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace tftpd {

class ResponseSource {
 public:
  virtual ~ResponseSource() = default;
  // Up to buffer.size() bytes (what the block still lacks) into `buffer`.
  // A block is asked for until it is full or a Read returns 0, which ends
  // the response; an error ends the transfer with ERROR 0 and its message.
  virtual absl::StatusOr<size_t> Read(absl::Span<uint8_t> buffer) = 0;
  // Up to buffer.size() / block_size whole blocks into `buffer`, each read
  // by the rule above; returns the bytes read, fewer than asked only at the
  // end. The engine asks for several blocks at once so that a source with
  // a cost per call (Python's GIL) can pay it once; by default, Read.
  virtual absl::StatusOr<size_t> ReadBlocks(absl::Span<uint8_t> buffer,
                                            size_t block_size);
  // Once, after the last Read, however the transfer ended (completed, timed
  // out, refused before any Read).
  virtual void Close() {}
};

// How a source's reads have gone, as a stream learned it: fast (each call
// within ResponseStream::kSlowRead), unproven (not read yet), or slow. The
// source threads run fast sources' jobs first and keep threads for them.
enum class SourcePace { kFast, kUnproven, kSlow };

// Runs a job for a source of that pace on a source thread
// (server/api/source_threads.h).
using SourceExecutor = std::function<void(std::function<void()>, SourcePace)>;

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_RESPONSE_SOURCE_H_
