#include "server/request_handler.h"

namespace tftpd {

Response Response::File(std::string path) {
  return Response(Kind::kFile, std::move(path));
}

Response Response::Bytes(std::string bytes) {
  return Response(Kind::kBytes, std::move(bytes));
}

Response Response::Stream(std::shared_ptr<ResponseStream> stream) {
  Response response(Kind::kStream, "");
  response.stream_ = std::move(stream);
  if (response.stream_ == nullptr) {
    return Refuse(tftp::ErrorCode::kNotDefined, "no response source");
  }
  return response;
}

Response Response::Refuse(tftp::ErrorCode code, std::string message) {
  Response response(Kind::kRefusal, std::move(message));
  response.code_ = code;
  return response;
}

}  // namespace tftpd
