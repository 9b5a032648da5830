#include "server/engine/response_resolution.h"

#include <unistd.h>

#include "protocol/netascii.h"

namespace tftpd {
namespace {

// An empty response is announced without tsize: curl (lib/tftp.c,
// tftp_parse_option_ack) fails any download whose OACK says "tsize 0", and
// the empty first block tells every client the size anyway.
void AnnounceSize(ResolvedResponse* r) {
  if (!r->response.empty()) r->announced_size = r->response.size();
}

ResolvedResponse RespondWithBytes(std::string bytes, bool netascii) {
  if (netascii) {
    const auto raw = absl::MakeConstSpan(
        reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    std::string encoded(tftp::NetasciiEncodedSize(raw), '\0');
    tftp::NetasciiEncoder encoder;
    encoder.Encode(raw,
                   absl::MakeSpan(reinterpret_cast<uint8_t*>(encoded.data()),
                                  encoded.size()));
    bytes = std::move(encoded);
  }
  ResolvedResponse r;
  r.bytes = std::make_shared<const std::string>(std::move(bytes));
  r.response = absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(r.bytes->data()), r.bytes->size());
  AnnounceSize(&r);
  return r;
}

Resolution ResolveFile(const std::string& path, tftp::TransferMode mode,
                       const ResolutionContext& context) {
  // A file already mapped here need not be opened again.
  OpenedFile opened = context.root.OpenFile(
      path, [&](const struct stat& info) { return context.files.Holds(info); });
  if (!opened.ok()) {
    return Refusal{opened.error, opened.message,
                   opened.error == tftp::ErrorCode::kFileNotFound
                       ? RefusalReason::k_not_found
                       : RefusalReason::k_access_denied};
  }
  SharedFile* file = context.files.Find(opened.info);
  if (file == nullptr && opened.info.st_size == 0) {
    file = context.files.Adopt(opened.info, nullptr);  // Nothing to map.
  }
  if (file == nullptr) return LoadFile{opened.fd, opened.info, {}, nullptr};
  if (opened.fd >= 0) close(opened.fd);
  std::variant<Refusal, ResolvedResponse> used =
      RespondWithFile(file, mode, context);
  if (auto* refusal = std::get_if<Refusal>(&used)) return std::move(*refusal);
  return std::get<ResolvedResponse>(std::move(used));
}

}  // namespace

static Resolution ResolveKind(Response response, tftp::TransferMode mode,
                              const ResolutionContext& context) {
  const bool netascii = mode == tftp::TransferMode::kNetascii;
  switch (response.kind()) {
    case Response::Kind::kRefusal:
      return Refusal{response.error_code(), response.text(),
                     RefusalReason::k_handler};
    case Response::Kind::kFile:
      return ResolveFile(response.text(), mode, context);
    case Response::Kind::kBytes:
      return RespondWithBytes(std::move(response.mutable_text()), netascii);
    case Response::Kind::kStream: {
      const ResponseStream::State state = response.stream()->state();
      if (state.failed && !state.begun) {
        Refusal refusal{state.error_code, state.error_message,
                        RefusalReason::k_source_failed};
        refusal.dropped = state.dropped;
        refusal.session = response.stream()->TakeSession();
        return refusal;
      }
      if (!state.begun) return AwaitStream{response.stream(), nullptr};
      std::variant<Refusal, ResolvedResponse> used =
          RespondWithStream(response.stream(), mode);
      if (auto* r = std::get_if<Refusal>(&used)) return std::move(*r);
      return std::get<ResolvedResponse>(std::move(used));
    }
    case Response::Kind::kDrop: {
      Refusal refusal{tftp::ErrorCode::kNotDefined, "dropped",
                      RefusalReason::k_handler};
      refusal.dropped = true;
      return refusal;
    }
  }
  return Refusal{tftp::ErrorCode::kNotDefined, "no response",
                 RefusalReason::k_handler};
}

Resolution ResolveResponse(Response response, tftp::TransferMode mode,
                           const ResolutionContext& context) {
  const RetryPolicy retry = response.retry();
  std::shared_ptr<void> session = response.TakeSession();
  Resolution resolution = ResolveKind(std::move(response), mode, context);
  // Whatever became of the request, its record brings the session back (a
  // refused stream's own, when it had one).
  std::visit(
      [&](auto& resolved) {
        if (resolved.session == nullptr) resolved.session = std::move(session);
      },
      resolution);
  // A stream's own settings (its writer's) win over the Response's.
  auto merge = [&](RetryPolicy& into) {
    if (!into.retries.has_value()) into.retries = retry.retries;
    if (!into.timeout.has_value()) into.timeout = retry.timeout;
    if (!into.backoff.has_value()) into.backoff = retry.backoff;
  };
  if (auto* ready = std::get_if<ResolvedResponse>(&resolution)) {
    merge(ready->retry);
  } else if (auto* load = std::get_if<LoadFile>(&resolution)) {
    merge(load->retry);
  }
  return resolution;
}

std::variant<Refusal, ResolvedResponse> RespondWithFile(
    SharedFile* file, tftp::TransferMode mode,
    const ResolutionContext& context) {
  ResolvedResponse r;
  r.file = file;
  r.response = file->bytes();
  if (mode == tftp::TransferMode::kNetascii) {
    const absl::StatusOr<const std::vector<uint8_t>*> image =
        context.files.NetasciiImage(file, context.max_netascii_size);
    if (!image.ok()) {
      context.files.Release(file);
      return Refusal{tftp::ErrorCode::kNotDefined,
                     std::string(image.status().message()),
                     absl::IsResourceExhausted(image.status())
                         ? RefusalReason::k_unsupported
                     : absl::IsUnavailable(image.status())
                         ? RefusalReason::k_resources
                         : RefusalReason::k_file_changed};
    }
    r.response = absl::MakeConstSpan(**image);
  }
  AnnounceSize(&r);
  return r;
}

Response RefuseUnlessRefused(Response response,
                             const SourceExecutor& executor) {
  // The record brings back the session: a stream's own when it has one, as
  // ResolveResponse does.
  std::shared_ptr<void> session;
  switch (response.kind()) {
    case Response::Kind::kRefusal:
    case Response::Kind::kDrop:
      return response;
    case Response::Kind::kStream: {
      const ResponseStream::State state = response.stream()->state();
      if (!state.begun || state.failed) return response;
      response.stream()->Abandon(executor);
      session = response.stream()->TakeSession();
      break;
    }
    case Response::Kind::kFile:
    case Response::Kind::kBytes:
      break;
  }
  if (session == nullptr) session = response.TakeSession();
  Response refusal = Response::Refuse(tftp::ErrorCode::kIllegalOperation,
                                      "unknown transfer mode");
  refusal.WithSession(std::move(session));
  return refusal;
}

std::variant<Refusal, ResolvedResponse> RespondWithStream(
    std::shared_ptr<ResponseStream> stream, tftp::TransferMode mode) {
  const ResponseStream::State state = stream->state();
  if (mode == tftp::TransferMode::kUnsupported) {
    return Refusal{tftp::ErrorCode::kIllegalOperation, "unknown transfer mode",
                   RefusalReason::k_malformed};
  }
  const bool netascii = mode == tftp::TransferMode::kNetascii;
  if (netascii && !state.pulled) {
    // Its bytes are shared as they are: no place to encode them.
    return Refusal{tftp::ErrorCode::kNotDefined,
                   "netascii mode is not offered for this file",
                   RefusalReason::k_unsupported};
  }
  ResolvedResponse r;
  r.response = absl::MakeConstSpan(stream->data(), stream->max_size());
  r.stream = std::move(stream);
  r.retry = state.retry;
  // A netascii size is known only once every byte has been encoded.
  if (!netascii && state.size.has_value() && *state.size > 0) {
    r.announced_size = state.size;
  }
  return r;
}

}  // namespace tftpd
