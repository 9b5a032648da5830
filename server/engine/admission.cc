#include "server/engine/admission.h"

#include <exception>

#include "absl/strings/ascii.h"
#include "server/api/log.h"

namespace tftpd {

RepeatVerdict ClassifyRepeat(const Transfer& open, size_t fingerprint) {
  if (open.waiting()) return RepeatVerdict::kDuplicate;
  if (open.peer_answered && open.protocol()->SentEverything() &&
      fingerprint != open.request_fingerprint) {
    // Waiting for the old transfer's retries would hold the new one up for
    // their whole schedule, and the old transfer's packets would reach the
    // new one's client meanwhile.
    return RepeatVerdict::kSupersede;
  }
  return RepeatVerdict::kPark;
}

std::optional<Refusal> CheckAdmission(tftp::Opcode opcode,
                                      const AdmissionLimits& limits,
                                      absl::FunctionRef<bool()> find_place) {
  if (opcode == tftp::Opcode::kWrq && !limits.uploads_enabled) {
    return Refusal{tftp::ErrorCode::kIllegalOperation, "uploads are disabled",
                   RefusalReason::k_uploads_disabled};
  }
  if (opcode == tftp::Opcode::kWrq && limits.uploads_unproven) {
    return Refusal{tftp::ErrorCode::kIllegalOperation,
                   "uploads are disabled in single-port mode",
                   RefusalReason::k_uploads_disabled};
  }
  if (!limits.address_allowed) {
    return Refusal{tftp::ErrorCode::kNotDefined,
                   "too many transfers from this address",
                   RefusalReason::k_per_address, /*logged=*/false};
  }
  if (!find_place()) {
    return Refusal{tftp::ErrorCode::kNotDefined, "server busy, try again",
                   RefusalReason::k_busy, /*logged=*/false};
  }
  return std::nullopt;
}

std::variant<RequestContext, Refusal> MakeContext(
    const io::Datagram& datagram, const tftp::Request& request,
    const io::SocketAddress& service_address, int shard,
    const RemapTable* remap) {
  RequestContext context;
  const io::SocketAddress peer = datagram.source.Unmapped();
  context.requested_path = std::string(request.filename);
  context.path = context.requested_path;
  context.peer = peer;
  context.server_address = datagram.destination.family() == AF_UNSPEC
                               ? service_address
                               : datagram.destination.Unmapped();
  context.mode = request.mode;
  context.mode_name = absl::AsciiStrToLower(request.mode_name);
  context.shard = shard;
  for (const tftp::RawOption& option : request.options.view()) {
    context.options.emplace_back(absl::AsciiStrToLower(option.name),
                                 std::string(option.value));
  }
  if (remap != nullptr) {
    if (std::shared_ptr<const RemapRules> rules = remap->get()) {
      RemapRules::Result mapped =
          rules->Apply(context.requested_path,
                       /*write=*/request.opcode == tftp::Opcode::kWrq, peer);
      if (mapped.refused) {
        return Refusal{tftp::ErrorCode::kAccessViolation,
                       std::move(mapped.message),
                       RefusalReason::k_remap_denied};
      }
      context.path = std::move(mapped.path);
    }
  }
  return context;
}

namespace {

template <typename Answer, typename Ask>
Answer Guarded(const RequestContext& context, Ask ask) {
  try {
    return ask();
  } catch (const std::exception& e) {
    TFTPD_LOG(kWarning, "request handler threw for peer=%s file=%s: %s",
              context.peer.ToString(), LogValue(context.requested_path),
              LogValue(e.what()));
  } catch (...) {
    TFTPD_LOG(kWarning, "request handler threw for peer=%s file=%s",
              context.peer.ToString(), LogValue(context.requested_path));
  }
  return Answer::Refuse(tftp::ErrorCode::kNotDefined, "request handler failed");
}

}  // namespace

Response AskHandler(RequestHandler& handler, const RequestContext& context) {
  return Guarded<Response>(context, [&] { return handler.Handle(context); });
}

UploadResponse AskUploadHandler(RequestHandler& handler,
                                const RequestContext& context) {
  return Guarded<UploadResponse>(context,
                                 [&] { return handler.HandleUpload(context); });
}

}  // namespace tftpd
