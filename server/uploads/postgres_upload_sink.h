// Uploads kept in PostgreSQL (libpq): each completed upload becomes one row,
// written in one transaction at commit, so a row is there whole or not at
// all, and an upload the database cannot take ends with an ERROR to the
// client. Until then the bytes wait in an unnamed file in the spool
// directory (O_TMPFILE: gone with the process), and go over in chunks into
// a large object that the row takes; memory stays bounded whatever the
// upload's size (at most 1 GiB, what a bytea holds; more ends with ERROR 3).
//
// The table (created if missing):
//   id bigserial, client_address text, file_name text, size bigint,
//   sha256 text (hex, computed by the database), received_at timestamptz,
//   content bytea, fields jsonb (what the extractor found, e.g. hostname).
#ifndef TFTPD_SERVER_UPLOADS_POSTGRES_UPLOAD_SINK_H_
#define TFTPD_SERVER_UPLOADS_POSTGRES_UPLOAD_SINK_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/api/request_handler.h"
#include "server/api/upload_sink.h"

namespace tftpd {

using UploadFields = std::vector<std::pair<std::string, std::string>>;

struct PostgresUploadOptions {
  std::string connection;  // A libpq connection string.
  std::string table = "tftp_uploads";
  // Where uploads wait for their commit (on a file system with O_TMPFILE).
  std::string spool_directory = "/var/tmp";
  // Each statement's bound (PostgreSQL's statement_timeout; one set in the
  // connection string's options wins): a database that hangs fails the
  // upload, and frees its committer thread, instead of holding both. tftpd
  // sets half of --source_timeout, so that the outcome is known before the
  // transfer's deadline.
  std::chrono::milliseconds statement_timeout{15000};
  // Fields taken from an upload's content, its first MiB (run on a
  // committer thread); the default finds a FortiGate or Cisco-style
  // hostname.
  std::function<UploadFields(absl::string_view file_name,
                             absl::string_view content)>
      extract = ExtractHostname;

  // `set hostname "fw1"` (FortiGate) or `hostname sw1` (Cisco IOS, Arista)
  // on a line of its own: {{"hostname", ...}}; nothing when absent.
  static UploadFields ExtractHostname(absl::string_view file_name,
                                      absl::string_view content);
};

// A sink for one upload from `context`'s client.
std::shared_ptr<UploadSink> MakePostgresUploadSink(
    std::shared_ptr<const PostgresUploadOptions> options,
    const RequestContext& context);

// Wraps `inner` (reads go to it) so that every upload goes to PostgreSQL.
std::shared_ptr<RequestHandler> PostgresUploadHandler(
    std::shared_ptr<RequestHandler> inner,
    std::shared_ptr<const PostgresUploadOptions> options);

}  // namespace tftpd

#endif  // TFTPD_SERVER_UPLOADS_POSTGRES_UPLOAD_SINK_H_
