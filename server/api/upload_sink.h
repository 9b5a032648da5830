// Where an upload's bytes go: the counterpart, for WRQ, of a response
// (request_handler.h). A sink receives the bytes in order while the transfer
// runs and commits them, all or nothing, once the last block has arrived;
// the client's final ACK waits for the commit, so a client is never told an
// upload is stored before it is. The disk writer (disk_upload_sink.h) is one
// sink; a database, an object store or a parser of device configs are others.
#ifndef TFTPD_SERVER_API_UPLOAD_SINK_H_
#define TFTPD_SERVER_API_UPLOAD_SINK_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "protocol/tftp.h"

namespace tftpd {

class UploadSink {
 public:
  virtual ~UploadSink() = default;

  // The upload's bytes from `offset`, in order and without gaps. Runs on the
  // shard thread: keep it quick (memory, the page cache). An error ends the
  // transfer with the ERROR UploadErrorCode gives it.
  virtual absl::Status Write(uint64_t offset,
                             absl::Span<const uint8_t> bytes) = 0;
  // Every byte arrived, `size` in all: make the upload durable and visible,
  // all or nothing. Runs on a commit thread and may block (fsync, a
  // database); an error reaches the client as an ERROR.
  virtual absl::Status Commit(uint64_t size) = 0;
  // The upload ended without completing (timed out, aborted, refused, or
  // the server stopping), or its Commit failed: leave nothing behind. Runs
  // on a commit thread; never after a Commit that succeeded.
  virtual void Abandon() = 0;
};

// The TFTP ERROR for a sink's error: ResourceExhausted is 3 (disk full or
// allocation exceeded), AlreadyExists 6, PermissionDenied 2, NotFound 1,
// anything else 0 (with the status message).
tftp::ErrorCode UploadErrorCode(const absl::Status& status);

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_UPLOAD_SINK_H_
