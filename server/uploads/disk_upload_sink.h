// Uploads written to disk, never half-written: each goes to a temporary file
// in its target directory (".tftpd-upload-…", mode 0600 until complete),
// made with the upload's first block, and is renamed into place only once
// the transfer completed and the bytes are on disk; an upload that does not
// complete leaves nothing behind, and what a crash left is removed when the
// server starts again (RemoveUploadLeftovers). The temporary file lives in
// the target directory, not in a spool of its own, because a rename cannot
// cross file systems and a write root may span several. Without `overwrite`
// the rename refuses to replace a file (RENAME_NOREPLACE), so of two clients
// uploading one name at once, one gets the file and the other a clear ERROR.
#ifndef TFTPD_SERVER_UPLOADS_DISK_UPLOAD_SINK_H_
#define TFTPD_SERVER_UPLOADS_DISK_UPLOAD_SINK_H_

#include <sys/stat.h>

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/api/upload_policy.h"
#include "server/api/upload_sink.h"
#include "server/files/root_directory.h"

namespace tftpd {

// The sink for an upload of `name` (as the client sent it) beneath `root`,
// or the reason it is refused (see UploadErrorCode): the directory must
// exist; an existing name must be a regular file, `overwrite` set, and the
// file world-writable unless `overwrite_any`; a new name needs `create`.
absl::StatusOr<std::unique_ptr<UploadSink>> OpenDiskUpload(
    const RootDirectory& root, absl::string_view name,
    const DiskUploadPolicy& policy);

// The names of uploads in progress: the prefix and 16 hex digits.
inline constexpr char kUploadTemporaryPrefix[] = ".tftpd-upload-";

// Removes every upload in progress that a process which ended without
// finishing it (a crash, SIGKILL) left beneath the directory `path`, at
// most `max_depth` directories down, following no link; how many. Call
// before serving: an upload of this process in progress would go too.
size_t RemoveUploadLeftovers(const std::string& path, int max_depth = 32);

}  // namespace tftpd

#endif  // TFTPD_SERVER_UPLOADS_DISK_UPLOAD_SINK_H_
