// Uploads (WRQ): the handler says where the bytes go, blocks go straight to
// the sink on the shard thread, and the commit runs on a committer thread
// while the final ACK waits for its outcome.
#include "server/api/log.h"
#include "server/engine/admission.h"
#include "server/engine/shard.h"
#include "server/uploads/disk_upload_sink.h"

namespace tftpd {
namespace {

// An upload's sink seen as the protocol's WriteSink: bytes go straight to
// it on the shard thread; the commit comes later, from the committer.
class UploadSinkAdapter final : public tftp::WriteSink {
 public:
  explicit UploadSinkAdapter(UploadSink* sink) : sink_(sink) {}

  tftp::ProtocolStatus Write(uint64_t offset,
                             absl::Span<const uint8_t> bytes) override {
    absl::Status status;
    try {
      status = sink_->Write(offset, bytes);
    } catch (const std::exception& e) {
      status = absl::InternalError(e.what());
    }
    if (status.ok()) return tftp::ProtocolStatus::Ok();
    message_ = std::string(status.message());  // Outlives the ERROR's copy.
    return tftp::ProtocolStatus{UploadErrorCode(status), message_.c_str()};
  }
  tftp::ProtocolStatus Finish(uint64_t) override {
    return tftp::ProtocolStatus::Ok();
  }
  bool CommitsLater() const override { return true; }

 private:
  UploadSink* const sink_;
  std::string message_;
};

RefusalReason UploadRefusalReason(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return RefusalReason::k_not_found;
    case absl::StatusCode::kPermissionDenied:
      return RefusalReason::k_access_denied;
    case absl::StatusCode::kAlreadyExists:
      return RefusalReason::k_file_exists;
    default:
      return RefusalReason::k_resources;
  }
}

}  // namespace

void Shard::StartUpload(const io::Datagram& datagram,
                        const tftp::Request& request, RequestContext context) {
  auto refuse = [&](Refusal refusal) {
    Refuse(datagram.source, datagram.destination, request.filename, refusal);
  };
  if (request.mode == tftp::TransferMode::kNetascii) {
    refuse({tftp::ErrorCode::kNotDefined,
            "netascii uploads are not supported; send in octet mode",
            RefusalReason::k_unsupported});
    return;
  }
  UploadResponse response = AskUploadHandler(*handler_, context);
  if (response.kind() == UploadResponse::Kind::kRefusal) {
    refuse({response.error_code(), response.text(), RefusalReason::k_handler});
    return;
  }
  // Size first: an upload announced too large is refused before anything
  // is opened for it.
  tftp::NegotiatedOptions negotiated;
  if (tftp::ProtocolStatus s = tftp::NegotiateOptions(
          request, config_.limits, std::nullopt, &negotiated);
      !s.ok()) {
    refuse({s.code, s.message,
            s.code == tftp::ErrorCode::kDiskFull ? RefusalReason::k_too_large
                                                 : RefusalReason::k_options});
    return;
  }
  std::shared_ptr<UploadSink> sink = response.sink();
  if (response.kind() == UploadResponse::Kind::kFile) {
    absl::StatusOr<std::unique_ptr<UploadSink>> opened =
        OpenDiskUpload(*write_root_, response.text(), config_.upload_policy);
    if (!opened.ok()) {
      refuse({UploadErrorCode(opened.status()),
              std::string(opened.status().message()),
              UploadRefusalReason(opened.status())});
      return;
    }
    sink = std::move(*opened);
  }
  io::SocketAddress peer;
  absl::StatusOr<io::OpenedSocket> socket = OpenTransferSocket(datagram, &peer);
  if (!socket.ok()) {
    TFTPD_LOG(kWarning, "shard %d: %s", id_, socket.status().message());
    committer_->Abandon(std::move(sink));
    if (EvictOne(std::nullopt)) {
      // As for reads (Launch): the client's repeat is served.
      Bump(counters_.requests_deferred);
      return;
    }
    refuse({tftp::ErrorCode::kNotDefined, "out of sockets",
            RefusalReason::k_resources});
    return;
  }
  StartReceiving(datagram, request, std::move(context), negotiated,
                 std::move(sink), *socket, peer);
}

void Shard::StartReceiving(const io::Datagram& datagram,
                           const tftp::Request& request, RequestContext context,
                           const tftp::NegotiatedOptions& negotiated,
                           std::shared_ptr<UploadSink> sink,
                           const io::OpenedSocket& socket,
                           const io::SocketAddress& peer) {
  const uint32_t i = OpenTransfer(datagram.source.Unmapped(),
                                  TransferPhase::kReceiving, request);
  Transfer& t = transfers_[i];
  t.fd = socket.fd;
  t.shares_service = config_.single_port;
  t.credit = PeerCredit(t.shares_service);
  t.local = socket.bound;
  t.peer = peer;
  t.context = std::move(context);
  t.started = now_;
  t.started_wall = env_.wall_now();
  t.last_progress = now_;
  t.unanswered_since = now_;
  UploadSide upload;
  upload.sink = std::move(sink);
  upload.sink_adapter = std::make_unique<UploadSinkAdapter>(upload.sink.get());
  upload.protocol = std::make_unique<tftp::WriteTransfer>(
      config_.transfer, negotiated, config_.limits.max_upload_size,
      upload.sink_adapter.get());
  t.side = std::move(upload);
  TFTPD_LOG(kDebug, "WRQ peer=%s file=%s options=%d", peer.ToString(),
            LogValue(t.context.requested_path),
            static_cast<int>(request.options.count));
  if (!t.shares_service) ArmTransferReceive(i);
  t.protocol()->Start(now_);
  AfterInput(i);
}

void Shard::StartCommit(uint32_t index) {
  Transfer& t = transfers_[index];
  UploadSide& upload = *t.upload();
  t.last_progress = now_;  // The commit's wait is bounded from here.
  const uint32_t generation = t.generation;
  upload.commit = committer_->Commit(
      upload.sink, upload.protocol->counters().bytes_transferred,
      [this, index, generation](const absl::Status& status) {
        inbox_.Post(CommitDone{index, generation, status.ok(),
                               UploadErrorCode(status),
                               std::string(status.message())});
      });
  // Not queued, it is not started: the transfer's end abandons the sink.
  if (upload.commit == nullptr) {
    // The store is behind: the client hears so (it may try again later),
    // and nothing of the upload remains.
    Bump(counters_.commits_refused);
    upload.protocol->OnCommitFailed(tftp::ErrorCode::kNotDefined,
                                    "uploads are arriving faster than they can "
                                    "be stored; try again");
  }
}

void Shard::OnCommitDone(const CommitDone& done) {
  Transfer* t = transfers_.Live(done.index, done.generation);
  UploadSide* upload = t != nullptr ? t->upload() : nullptr;
  if (upload == nullptr) {
    return;  // The transfer ended meanwhile (timed out, shut down).
  }
  if (done.ok) {
    upload->protocol->OnCommitted(now_);
  } else {
    TFTPD_LOG(kWarning, "upload peer=%s file=%s not stored: %s",
              t->peer.ToString(), LogValue(t->context.requested_path),
              LogValue(done.message));
    upload->protocol->OnCommitFailed(done.code, done.message);
  }
  AfterInput(done.index);
}

}  // namespace tftpd
