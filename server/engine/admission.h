// The decisions on a request before anything is opened for it, as values:
// what a request from a client with a transfer open is, whether a new
// transfer fits the limits, the handler's view of the request (after the
// map-file rules), and the handler's answer with its exceptions caught.
#ifndef TFTPD_SERVER_ENGINE_ADMISSION_H_
#define TFTPD_SERVER_ENGINE_ADMISSION_H_

#include <optional>
#include <variant>

#include "absl/functional/function_ref.h"
#include "io/event_backend.h"
#include "io/socket_address.h"
#include "protocol/packet.h"
#include "server/api/request_handler.h"
#include "server/engine/refusal.h"
#include "server/engine/transfer.h"
#include "server/files/remap_rules.h"

namespace tftpd {

// A request from a client whose transfer `open` is still open.
enum class RepeatVerdict {
  // A repeat: the open transfer's first answer is still being made.
  kDuplicate,
  // The client has had every packet of the open transfer and asks for
  // something else from the same port: it is done with that transfer.
  kSupersede,
  // Either a repeat sent before the client heard the answer, or its next
  // transfer once its last packet to the open one arrives: kept until the
  // open transfer hears from the client again (a repeat) or ends (next).
  kPark,
};
RepeatVerdict ClassifyRepeat(const Transfer& open, size_t fingerprint);

struct AdmissionLimits {
  bool uploads_enabled = false;
  // Uploads arrive on the service port (single-port mode), where nothing
  // proves the client's address, and the operator has not accepted that.
  bool uploads_unproven = false;
  // The client's address is under its own transfer limit.
  bool address_allowed = true;
};
// Why a new transfer cannot open, or nullopt when it can. `find_place`
// (Shard::FindPlace, which may evict a transfer to make room) is asked
// last, only for a request nothing else refuses: a stream of refused
// requests evicts nobody.
std::optional<Refusal> CheckAdmission(tftp::Opcode opcode,
                                      const AdmissionLimits& limits,
                                      absl::FunctionRef<bool()> find_place);

// The handler's view of `request` from `datagram`, its name rewritten by
// `remap` (may be null); a refusal when a rule refuses the name.
// `service_address` stands for the local address when the socket did not
// report the datagram's destination.
std::variant<RequestContext, Refusal> MakeContext(
    const io::Datagram& datagram, const tftp::Request& request,
    const io::SocketAddress& service_address, int shard,
    const RemapTable* remap);

// The handler's answers; an exception refuses with ERROR 0 and a log line.
Response AskHandler(RequestHandler& handler, const RequestContext& context);
UploadResponse AskUploadHandler(RequestHandler& handler,
                                const RequestContext& context);

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_ADMISSION_H_
