// Which uploads the file handler accepts onto disk, and with which
// permission bits (ServerConfig::upload_policy; server/uploads/ applies it).
#ifndef TFTPD_SERVER_API_UPLOAD_POLICY_H_
#define TFTPD_SERVER_API_UPLOAD_POLICY_H_

#include <sys/stat.h>

namespace tftpd {

struct DiskUploadPolicy {
  bool create = false;  // New files may be made (--create).
  // Existing world-writable files may be replaced (--overwrite), as
  // tftpd-hpa allows; any existing file with `overwrite_any` too
  // (--permissive).
  bool overwrite = false;
  bool overwrite_any = false;
  // A new file's mode is 0666 without these bits (--umask); a replaced file
  // keeps its mode. Private by default: device configs carry secrets, and
  // only world-readable files are served back.
  mode_t umask = 077;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_UPLOAD_POLICY_H_
