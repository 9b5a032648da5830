#include "protocol/tftp.h"

namespace tftp {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotDefined:
      return "not_defined";
    case ErrorCode::kFileNotFound:
      return "file_not_found";
    case ErrorCode::kAccessViolation:
      return "access_violation";
    case ErrorCode::kDiskFull:
      return "disk_full";
    case ErrorCode::kIllegalOperation:
      return "illegal_operation";
    case ErrorCode::kUnknownTransferId:
      return "unknown_transfer_id";
    case ErrorCode::kFileExists:
      return "file_exists";
    case ErrorCode::kNoSuchUser:
      return "no_such_user";
    case ErrorCode::kOptionRefused:
      return "option_refused";
  }
  return "unknown";
}

}  // namespace tftp
