#include "protocol/download_transfer.h"

#include <array>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "protocol/options.h"
#include "protocol/packet.h"

namespace tftp {

DownloadTransfer::DownloadTransfer(const TransferConfig& config,
                                   DownloadRequest request, WriteSink* sink,
                                   uint64_t max_size)
    : ReceivingTransfer(config, request.timeout_seconds, kDefaultBlockSize, 1,
                        max_size, sink),
      request_(std::move(request)) {}

size_t DownloadTransfer::EncodeOpening(absl::Span<uint8_t> buffer,
                                       Opcode* opcode) {
  *opcode = Opcode::kRrq;
  std::array<char[8], 3> digits;
  std::array<RawOption, 4> options;
  size_t count = 0;
  size_t numbers = 0;
  auto add = [&](const char* name, uint16_t value) {
    char* end = absl::numbers_internal::FastIntToBuffer(value, digits[numbers]);
    options[count++] = {
        name, absl::string_view(digits[numbers], end - digits[numbers])};
    ++numbers;
  };
  if (request_.blksize > 0) add("blksize", request_.blksize);
  if (request_.windowsize > 0) add("windowsize", request_.windowsize);
  if (request_.timeout_seconds > 0) add("timeout", request_.timeout_seconds);
  if (request_.ask_tsize) options[count++] = {"tsize", "0"};
  return EncodeRequest(buffer, Opcode::kRrq, request_.filename, request_.mode,
                       absl::MakeConstSpan(options.data(), count));
}

void DownloadTransfer::OnOtherPacket(std::optional<Opcode> opcode,
                                     absl::Span<const uint8_t> datagram,
                                     TimePoint now) {
  if (opcode == Opcode::kOack && state() == State::kOpening) {
    OnOack(datagram, now);
    return;
  }
  if (opcode == Opcode::kOack && state() == State::kReceiving) {
    // The server sent its OACK again: our ACK 0 was lost (acknowledge it
    // again), or the network repeated or delayed it (harmless once DATA
    // has come: the server only sends DATA after our ACK 0 arrived).
    if (receiver().blocks() == 0) QueueAck(true);
    return;
  }
  ReceivingTransfer::OnOtherPacket(opcode, datagram, now);
}

bool DownloadTransfer::AcceptsDataWhileOpening() {
  if (!request_.probe_only) return true;
  // The server ignored the options (no OACK): there is no size to learn.
  FailWith(TransferOutcome::kAborted, ErrorCode::kOptionRefused, "size probe");
  return false;
}

void DownloadTransfer::OnOack(absl::Span<const uint8_t> datagram,
                              TimePoint now) {
  OptionList options;
  if (ProtocolStatus s = ParseOack(datagram, &options); !s.ok()) {
    FailWith(TransferOutcome::kProtocolError, s.code, s.message);
    return;
  }
  uint16_t blksize = kDefaultBlockSize;
  uint16_t windowsize = 1;
  for (const RawOption& option : options.view()) {
    const std::optional<uint64_t> value = ParseDecimal(option.value);
    bool valid = value.has_value();
    if (absl::EqualsIgnoreCase(option.name, "blksize")) {
      valid = valid && request_.blksize > 0 && *value >= kMinBlockSize &&
              *value <= request_.blksize;
      if (valid) blksize = static_cast<uint16_t>(*value);
    } else if (absl::EqualsIgnoreCase(option.name, "windowsize")) {
      valid = valid && request_.windowsize > 0 && *value >= 1 &&
              *value <= request_.windowsize;
      if (valid) windowsize = static_cast<uint16_t>(*value);
    } else if (absl::EqualsIgnoreCase(option.name, "timeout")) {
      valid = valid && request_.timeout_seconds > 0 &&
              *value == request_.timeout_seconds;
    } else if (absl::EqualsIgnoreCase(option.name, "tsize")) {
      valid = valid && request_.ask_tsize;
      if (valid) announced_size_ = *value;
    } else {
      valid = false;
    }
    if (!valid) {
      FailWith(TransferOutcome::kProtocolError, ErrorCode::kOptionRefused,
               "OACK carries an option or value that was not asked for");
      return;
    }
  }
  if (request_.probe_only) {
    // Like UEFI: the size is known, the transfer itself comes later.
    Finish(TransferOutcome::kCompleted);
    QueueError(ErrorCode::kOptionRefused, "size probe");
    return;
  }
  windowsize_ = windowsize;
  BeginReceiving(blksize, windowsize, now);
}

}  // namespace tftp
