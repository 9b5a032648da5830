// The framework's extension point: a RequestHandler decides, for each read
// request, what to send or how to refuse, and for each write request where
// the bytes go. tftpd itself is a server whose
// handler serves files beneath --root (FileHandler); a boot-config generator,
// an HTTP-backed server or anything else is a different handler.
//
// Handle runs on the shard thread that received the request, concurrently on
// every shard, so it must be thread-safe and return at once: no disk or
// network waits. Work that takes time goes into a ResponseStream that some
// other thread fills; the transfer waits for it without holding the shard.
#ifndef TFTPD_SERVER_API_REQUEST_HANDLER_H_
#define TFTPD_SERVER_API_REQUEST_HANDLER_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/socket_address.h"
#include "protocol/tftp.h"
#include "server/api/response_source.h"
#include "server/api/response_stream.h"
#include "server/api/upload_sink.h"

namespace tftpd {

struct RequestContext {
  // The requested name after the remap rules (--map_file), as the handler
  // should interpret it; `requested_path` is what the client sent.
  std::string path;
  std::string requested_path;
  io::SocketAddress peer;            // The client's address and port.
  io::SocketAddress server_address;  // The local address it sent to.
  tftp::TransferMode mode = tftp::TransferMode::kOctet;
  // The mode as the client named it, in lower case ("octet", or "mail" for
  // a handler that SeesUnsupportedModes).
  std::string mode_name;
  // The options the client asked for, in its order, names in lower case.
  std::vector<std::pair<std::string, std::string>> options;
  int shard = 0;  // The worker thread handling it.
  // Unique in the server's life; the same in the request's TransferStats.
  uint64_t request_id = 0;
};

// What to answer with. Build one with the static functions.
class Response {
 public:
  enum class Kind { kFile, kBytes, kStream, kRefusal, kDrop };

  // A file beneath the server's root (the same confinement as for requested
  // names), sent from a shared read-only mapping: the zero-copy path.
  static Response File(std::string path);
  // Bytes made for this request (a rendered config).
  static Response Bytes(std::string bytes);
  // Bytes that arrive later; see response_stream.h.
  static Response Stream(std::shared_ptr<ResponseStream> stream);
  // Bytes read from `source` as the client acknowledges them (see
  // response_source.h); `size`, when known, is announced for tsize.
  static Response Pull(std::shared_ptr<ResponseSource> source,
                       std::optional<uint64_t> size = std::nullopt);
  // ERROR `code` with `message`, and no transfer.
  static Response Refuse(tftp::ErrorCode code, std::string message);
  // No answer at all, as if the request never came (fbtftp's handler None).
  static Response Drop();

  // This request's own retransmission settings (a stream's are its
  // writer's, StreamWriter::SetRetryPolicy).
  Response& WithRetryPolicy(const RetryPolicy& retry) {
    retry_ = retry;
    return *this;
  }
  const RetryPolicy& retry() const { return retry_; }
  // What the program keeps for this request until its statistics record
  // (TransferStats::session), whatever the answer, a refusal or a drop
  // included: the engine hands it over in the record and keeps no other
  // reference (as StreamWriter::SetSession does for a stream, whose own
  // wins when both are set).
  Response& WithSession(std::shared_ptr<void> session) {
    session_ = std::move(session);
    return *this;
  }
  std::shared_ptr<void> TakeSession() { return std::move(session_); }

  Kind kind() const { return kind_; }
  // kFile: the path; kBytes: the bytes; kRefusal: the message.
  const std::string& text() const { return text_; }
  std::string& mutable_text() { return text_; }
  const std::shared_ptr<ResponseStream>& stream() const { return stream_; }
  tftp::ErrorCode error_code() const { return code_; }

 private:
  Response(Kind kind, std::string text) : kind_(kind), text_(std::move(text)) {}
  Kind kind_;
  std::string text_;
  std::shared_ptr<ResponseStream> stream_;
  tftp::ErrorCode code_ = tftp::ErrorCode::kNotDefined;
  RetryPolicy retry_;
  std::shared_ptr<void> session_;
};

// Where an upload goes. Build one with the static functions.
class UploadResponse {
 public:
  enum class Kind { kFile, kSink, kRefusal };

  // A file beneath the write root (--write_root, else --root), confined as
  // reads are, written to a temporary file and renamed into place once
  // complete (disk_upload_sink.h), under --create and --overwrite.
  static UploadResponse File(std::string path);
  // Bytes to a sink of the program's own (upload_sink.h).
  static UploadResponse Sink(std::shared_ptr<UploadSink> sink);
  // ERROR `code` with `message`, and no transfer.
  static UploadResponse Refuse(tftp::ErrorCode code, std::string message);

  Kind kind() const { return kind_; }
  // kFile: the path; kRefusal: the message.
  const std::string& text() const { return text_; }
  const std::shared_ptr<UploadSink>& sink() const { return sink_; }
  tftp::ErrorCode error_code() const { return code_; }

 private:
  UploadResponse(Kind kind, std::string text)
      : kind_(kind), text_(std::move(text)) {}
  Kind kind_;
  std::string text_;
  std::shared_ptr<UploadSink> sink_;
  tftp::ErrorCode code_ = tftp::ErrorCode::kNotDefined;
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // See the file comment: thread-safe, never blocking. An exception thrown
  // here refuses the request with ERROR 0 and a log line.
  virtual Response Handle(const RequestContext& request) = 0;
  // A write request (WRQ), asked only when uploads are on (--allow_write);
  // the same rules as Handle. By default uploads are refused (ERROR 2).
  virtual UploadResponse HandleUpload(const RequestContext& request) {
    return UploadResponse::Refuse(tftp::ErrorCode::kAccessViolation,
                                  "uploads are not accepted here");
  }
  // True: read requests in a mode the server does not transfer in
  // (TransferMode::kUnsupported, "mail") reach Handle, which should refuse
  // them in its own words (fbtftp's programs see them); whatever it answers,
  // the client gets no data, only ERROR 4. False (the default): they are
  // refused without asking.
  virtual bool SeesUnsupportedModes() const { return false; }
};

// Serves the requested path from the server's root, and takes uploads into
// the write root: what tftpd does.
class FileHandler final : public RequestHandler {
 public:
  Response Handle(const RequestContext& request) override {
    return Response::File(request.path);
  }
  UploadResponse HandleUpload(const RequestContext& request) override {
    return UploadResponse::File(request.path);
  }
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_REQUEST_HANDLER_H_
