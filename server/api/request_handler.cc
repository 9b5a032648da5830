#include "server/api/request_handler.h"

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

Response Response::Pull(std::shared_ptr<ResponseSource> source,
                        std::optional<uint64_t> size) {
  if (source == nullptr) {
    return Refuse(tftp::ErrorCode::kNotDefined, "no response source");
  }
  auto [stream, writer] = ResponseStream::Create();
  writer.BeginPull(std::move(source), size);
  return Stream(std::move(stream));
}

Response Response::Drop() { return Response(Kind::kDrop, ""); }

Response Response::Refuse(tftp::ErrorCode code, std::string message) {
  Response response(Kind::kRefusal, std::move(message));
  response.code_ = code;
  return response;
}

UploadResponse UploadResponse::File(std::string path) {
  return UploadResponse(Kind::kFile, std::move(path));
}

UploadResponse UploadResponse::Sink(std::shared_ptr<UploadSink> sink) {
  if (sink == nullptr) {
    return Refuse(tftp::ErrorCode::kNotDefined, "no upload sink");
  }
  UploadResponse response(Kind::kSink, "");
  response.sink_ = std::move(sink);
  return response;
}

UploadResponse UploadResponse::Refuse(tftp::ErrorCode code,
                                      std::string message) {
  UploadResponse response(Kind::kRefusal, std::move(message));
  response.code_ = code;
  return response;
}

}  // namespace tftpd
