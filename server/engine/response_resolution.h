// From the handler's Response to what a read sends: a file's shared mapping
// (or its netascii image), bytes, or a stream; or what must happen first (the
// loader maps the file, the stream begins); or a refusal. Values only: the
// shard acts on them.
#ifndef TFTPD_SERVER_ENGINE_RESPONSE_RESOLUTION_H_
#define TFTPD_SERVER_ENGINE_RESPONSE_RESOLUTION_H_

#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "absl/types/span.h"
#include "protocol/tftp.h"
#include "server/api/request_handler.h"
#include "server/api/response_stream.h"
#include "server/engine/refusal.h"
#include "server/files/file_cache.h"
#include "server/files/root_directory.h"

namespace tftpd {

// What a read sends. Owns one reference to `file` when it is set.
struct ResolvedResponse {
  SharedFile* file = nullptr;
  std::shared_ptr<const std::string> bytes;
  std::shared_ptr<ResponseStream> stream;
  absl::Span<const uint8_t> response;
  // The size announced in tsize, when known.
  std::optional<uint64_t> announced_size;
  // The request's own retransmission settings.
  RetryPolicy retry;
  std::shared_ptr<void> session;  // Response::WithSession's.
};

// A file version no transfer on this shard has mapped: the loader maps it
// (taking `fd`) while the transfer waits.
struct LoadFile {
  int fd = -1;
  struct stat info {};
  RetryPolicy retry;
  std::shared_ptr<void> session;
};

// A stream that has not begun: the transfer waits for it.
struct AwaitStream {
  std::shared_ptr<ResponseStream> stream;
  std::shared_ptr<void> session;
};

using Resolution =
    std::variant<Refusal, ResolvedResponse, LoadFile, AwaitStream>;

struct ResolutionContext {
  const RootDirectory& root;
  FileCache& files;
  // Netascii images are made in memory; larger files are refused.
  uint64_t max_netascii_size;
};

Resolution ResolveResponse(Response response, tftp::TransferMode mode,
                           const ResolutionContext& context);

// A request in a mode the server does not transfer in
// (TransferMode::kUnsupported) gets no data: a handler's answer other than a
// refusal, a drop or a stream still waiting (whose RespondWithStream
// refuses) becomes ERROR 4, and a stream's source is closed through
// `executor`.
Response RefuseUnlessRefused(Response response, const SourceExecutor& executor);

// `file` (one reference, handed over) in the transfer mode; on refusal the
// reference is released.
std::variant<Refusal, ResolvedResponse> RespondWithFile(
    SharedFile* file, tftp::TransferMode mode,
    const ResolutionContext& context);

// A stream that has begun, sent as its bytes arrive; its size is announced
// once known. Netascii is offered only of a pulled stream, encoded as read.
std::variant<Refusal, ResolvedResponse> RespondWithStream(
    std::shared_ptr<ResponseStream> stream, tftp::TransferMode mode);

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_RESPONSE_RESOLUTION_H_
