#include "protocol/options.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace tftp {
namespace {

std::optional<OptionId> LookupOption(absl::string_view name) {
  if (absl::EqualsIgnoreCase(name, "blksize")) return OptionId::kBlksize;
  if (absl::EqualsIgnoreCase(name, "timeout")) return OptionId::kTimeout;
  if (absl::EqualsIgnoreCase(name, "tsize")) return OptionId::kTsize;
  if (absl::EqualsIgnoreCase(name, "windowsize")) return OptionId::kWindowsize;
  return std::nullopt;
}

// Whether `value` lies in [lo, hi].
bool InRange(std::optional<uint64_t> value, uint64_t lo, uint64_t hi) {
  return value.has_value() && *value >= lo && *value <= hi;
}

}  // namespace

const char* OptionName(OptionId id) {
  switch (id) {
    case OptionId::kBlksize:
      return "blksize";
    case OptionId::kTimeout:
      return "timeout";
    case OptionId::kTsize:
      return "tsize";
    case OptionId::kWindowsize:
      return "windowsize";
  }
  return "";
}

std::optional<uint64_t> ParseDecimal(absl::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

ProtocolStatus NegotiateOptions(const Request& request,
                                const OptionLimits& limits,
                                std::optional<uint64_t> response_size,
                                NegotiatedOptions* out) {
  *out = NegotiatedOptions();
  const bool is_write = request.opcode == Opcode::kWrq;
  for (const RawOption& option : request.options.view()) {
    const std::optional<OptionId> id = LookupOption(option.name);
    if (!id.has_value()) continue;
    const std::optional<uint64_t> value = ParseDecimal(option.value);
    bool accept = false;
    switch (*id) {
      case OptionId::kBlksize:
        if (InRange(value, kMinBlockSize, kMaxBlockSize)) {
          const uint64_t cap =
              std::max<uint64_t>(limits.max_blksize, kMinBlockSize);
          out->blksize = static_cast<uint16_t>(std::min(*value, cap));
          accept = true;
        }
        break;
      case OptionId::kTimeout:
        if (InRange(value, kMinTimeoutSeconds, kMaxTimeoutSeconds)) {
          out->timeout_seconds = static_cast<uint16_t>(*value);
          accept = true;
        }
        break;
      case OptionId::kTsize:
        if (!value.has_value()) break;
        if (is_write) {
          if (*value > limits.max_upload_size) {
            return ProtocolStatus{ErrorCode::kDiskFull,
                                  "file exceeds the upload size limit"};
          }
          out->tsize = *value;
          accept = true;
        } else if (response_size.has_value()) {
          out->tsize = *response_size;
          accept = true;
        }
        break;
      case OptionId::kWindowsize:
        if (InRange(value, kMinWindowSize, kMaxWindowSize)) {
          const uint64_t cap = std::clamp<uint64_t>(limits.max_windowsize, 1,
                                                    kMaxGrantedWindowSize);
          out->windowsize = static_cast<uint16_t>(std::min(*value, cap));
          accept = true;
        }
        break;
    }
    // The parser refuses duplicate names, so each id is accepted at most once.
    if (accept) out->accepted[out->accepted_count++] = *id;
  }
  if (!is_write && limits.max_window_bytes > 0) {
    // After the loop: blksize may come after windowsize.
    const uint32_t fits =
        limits.max_window_bytes / (kDataHeaderSize + out->blksize);
    out->windowsize =
        static_cast<uint16_t>(std::clamp<uint32_t>(fits, 1, out->windowsize));
  }
  return ProtocolStatus::Ok();
}

size_t EncodeNegotiatedOack(absl::Span<uint8_t> buffer,
                            const NegotiatedOptions& options) {
  if (!options.has_oack()) return 0;
  // Decimal text of each value lives here until EncodeOack copies it.
  std::array<char[absl::numbers_internal::kFastToBufferSize], 4> digits;
  std::array<RawOption, 4> raw;
  for (size_t i = 0; i < options.accepted_count; ++i) {
    const OptionId id = options.accepted[i];
    uint64_t value = 0;
    switch (id) {
      case OptionId::kBlksize:
        value = options.blksize;
        break;
      case OptionId::kTimeout:
        value = options.timeout_seconds;
        break;
      case OptionId::kTsize:
        value = options.tsize.value_or(0);
        break;
      case OptionId::kWindowsize:
        value = options.windowsize;
        break;
    }
    char* end = absl::numbers_internal::FastIntToBuffer(value, digits[i]);
    raw[i] = RawOption{OptionName(id),
                       absl::string_view(digits[i], end - digits[i])};
  }
  return EncodeOack(buffer,
                    absl::MakeConstSpan(raw.data(), options.accepted_count));
}

}  // namespace tftp
