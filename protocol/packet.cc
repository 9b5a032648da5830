#include "protocol/packet.h"

#include <cstring>

#include "absl/strings/match.h"

namespace tftp {
namespace {

uint16_t LoadU16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

void StoreU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v & 0xff);
}

ProtocolStatus Fail(ErrorCode code, const char* message) {
  return ProtocolStatus{code, message};
}

bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

bool IsPrintableAscii(absl::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return false;
  }
  return true;
}

bool AllZero(absl::Span<const uint8_t> bytes) {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

// Reads NUL-terminated strings from a datagram, never past its end.
class StringReader {
 public:
  explicit StringReader(absl::Span<const uint8_t> bytes) : bytes_(bytes) {}

  bool AtEnd() const { return pos_ == bytes_.size(); }
  absl::Span<const uint8_t> Rest() const { return bytes_.subspan(pos_); }

  // The next string without its terminator; false when no NUL follows.
  bool Next(absl::string_view* out) {
    const uint8_t* start = bytes_.data() + pos_;
    const size_t left = bytes_.size() - pos_;
    const void* nul = left == 0 ? nullptr : std::memchr(start, 0, left);
    if (nul == nullptr) return false;
    const size_t len = static_cast<const uint8_t*>(nul) - start;
    *out = absl::string_view(reinterpret_cast<const char*>(start), len);
    pos_ += len + 1;
    return true;
  }

 private:
  absl::Span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

// Parses name/value pairs until the end of the datagram (or NUL padding).
ProtocolStatus ParseOptions(StringReader* reader, OptionList* out) {
  out->count = 0;
  while (!reader->AtEnd()) {
    if (AllZero(reader->Rest())) return ProtocolStatus::Ok();
    RawOption option;
    if (!reader->Next(&option.name)) {
      return Fail(ErrorCode::kIllegalOperation,
                  "option name is not NUL-terminated");
    }
    if (!reader->Next(&option.value)) {
      return Fail(ErrorCode::kOptionRefused, "option without a value");
    }
    if (option.name.empty()) {
      return Fail(ErrorCode::kOptionRefused, "empty option name");
    }
    if (option.name.size() > kMaxOptionNameLength ||
        option.value.size() > kMaxOptionValueLength) {
      return Fail(ErrorCode::kOptionRefused, "option too long");
    }
    if (!IsPrintableAscii(option.name) || !IsPrintableAscii(option.value)) {
      return Fail(ErrorCode::kOptionRefused, "option is not printable ASCII");
    }
    for (size_t i = 0; i < out->count; ++i) {
      if (absl::EqualsIgnoreCase(out->items[i].name, option.name)) {
        return Fail(ErrorCode::kOptionRefused, "duplicate option");
      }
    }
    if (out->count == kMaxOptions) {
      return Fail(ErrorCode::kOptionRefused, "too many options");
    }
    out->items[out->count++] = option;
  }
  return ProtocolStatus::Ok();
}

ProtocolStatus CheckOpcode(absl::Span<const uint8_t> datagram,
                           Opcode expected) {
  const std::optional<Opcode> opcode = PeekOpcode(datagram);
  if (!opcode.has_value()) {
    return Fail(ErrorCode::kIllegalOperation, "unknown opcode");
  }
  if (*opcode != expected) {
    return Fail(ErrorCode::kIllegalOperation, "unexpected opcode");
  }
  return ProtocolStatus::Ok();
}

// Appends `s` and a NUL; false when it does not fit.
bool PutString(absl::Span<uint8_t> buffer, size_t* pos, absl::string_view s) {
  if (buffer.size() - *pos < s.size() + 1) return false;
  if (!s.empty()) std::memcpy(buffer.data() + *pos, s.data(), s.size());
  *pos += s.size();
  buffer[(*pos)++] = 0;
  return true;
}

}  // namespace

absl::string_view TransferModeName(TransferMode mode) {
  switch (mode) {
    case TransferMode::kOctet:
      return "octet";
    case TransferMode::kNetascii:
      return "netascii";
    case TransferMode::kUnsupported:
      break;
  }
  return "unsupported";
}

std::optional<Opcode> PeekOpcode(absl::Span<const uint8_t> datagram) {
  if (datagram.size() < 2) return std::nullopt;
  const uint16_t raw = LoadU16(datagram.data());
  if (raw < static_cast<uint16_t>(Opcode::kRrq) ||
      raw > static_cast<uint16_t>(Opcode::kOack)) {
    return std::nullopt;
  }
  return static_cast<Opcode>(raw);
}

ProtocolStatus ParseRequest(absl::Span<const uint8_t> datagram, Request* out) {
  const std::optional<Opcode> opcode = PeekOpcode(datagram);
  if (!opcode.has_value() ||
      (*opcode != Opcode::kRrq && *opcode != Opcode::kWrq)) {
    return Fail(ErrorCode::kIllegalOperation, "not a request");
  }
  out->opcode = *opcode;
  StringReader reader(datagram.subspan(2));
  absl::string_view mode;
  if (!reader.Next(&out->filename)) {
    return Fail(ErrorCode::kIllegalOperation,
                "file name is not NUL-terminated");
  }
  if (!reader.Next(&mode)) {
    return Fail(ErrorCode::kIllegalOperation, "mode is not NUL-terminated");
  }
  if (out->filename.empty()) {
    return Fail(ErrorCode::kIllegalOperation, "empty file name");
  }
  if (out->filename.size() > kMaxFilenameLength) {
    return Fail(ErrorCode::kAccessViolation, "file name too long");
  }
  for (char c : out->filename) {
    if (IsControl(c)) {
      return Fail(ErrorCode::kAccessViolation,
                  "file name contains control characters");
    }
  }
  out->mode_name = mode;
  const bool netascii = absl::EqualsIgnoreCase(mode, "netascii");
  const bool supported = netascii || absl::EqualsIgnoreCase(mode, "octet");
  out->mode = netascii ? TransferMode::kNetascii : TransferMode::kOctet;
  if (ProtocolStatus s = ParseOptions(&reader, &out->options); !s.ok()) {
    return s;
  }
  if (supported) return ProtocolStatus::Ok();
  // Refused with the rest parsed whole: kUnsupported says that the mode is
  // the request's only fault.
  out->mode = TransferMode::kUnsupported;
  return Fail(ErrorCode::kIllegalOperation, absl::EqualsIgnoreCase(mode, "mail")
                                                ? "mail mode is not supported"
                                                : "unknown transfer mode");
}

ProtocolStatus ParseData(absl::Span<const uint8_t> datagram, DataPacket* out) {
  if (ProtocolStatus s = CheckOpcode(datagram, Opcode::kData); !s.ok())
    return s;
  if (datagram.size() < kDataHeaderSize) {
    return Fail(ErrorCode::kIllegalOperation, "truncated DATA packet");
  }
  if (datagram.size() > kMaxPacketSize) {
    return Fail(ErrorCode::kIllegalOperation, "DATA packet too large");
  }
  out->block = LoadU16(datagram.data() + 2);
  out->payload = datagram.subspan(kDataHeaderSize);
  return ProtocolStatus::Ok();
}

ProtocolStatus ParseAck(absl::Span<const uint8_t> datagram, AckPacket* out) {
  if (ProtocolStatus s = CheckOpcode(datagram, Opcode::kAck); !s.ok()) return s;
  if (datagram.size() < 4) {
    return Fail(ErrorCode::kIllegalOperation, "truncated ACK packet");
  }
  if (datagram.size() > 4) {
    return Fail(ErrorCode::kIllegalOperation, "trailing bytes after ACK");
  }
  out->block = LoadU16(datagram.data() + 2);
  return ProtocolStatus::Ok();
}

ProtocolStatus ParseError(absl::Span<const uint8_t> datagram,
                          ErrorPacket* out) {
  if (ProtocolStatus s = CheckOpcode(datagram, Opcode::kError); !s.ok())
    return s;
  if (datagram.size() < 4) {
    return Fail(ErrorCode::kIllegalOperation, "truncated ERROR packet");
  }
  out->code = LoadU16(datagram.data() + 2);
  StringReader reader(datagram.subspan(4));
  if (!reader.Next(&out->message)) {
    return Fail(ErrorCode::kIllegalOperation,
                "error message is not NUL-terminated");
  }
  if (!AllZero(reader.Rest())) {
    return Fail(ErrorCode::kIllegalOperation, "trailing bytes after ERROR");
  }
  return ProtocolStatus::Ok();
}

ProtocolStatus ParseOack(absl::Span<const uint8_t> datagram, OptionList* out) {
  if (ProtocolStatus s = CheckOpcode(datagram, Opcode::kOack); !s.ok())
    return s;
  StringReader reader(datagram.subspan(2));
  return ParseOptions(&reader, out);
}

size_t EncodeDataHeader(absl::Span<uint8_t> buffer, uint16_t block) {
  if (buffer.size() < kDataHeaderSize) return 0;
  StoreU16(buffer.data(), static_cast<uint16_t>(Opcode::kData));
  StoreU16(buffer.data() + 2, block);
  return kDataHeaderSize;
}

size_t EncodeData(absl::Span<uint8_t> buffer, uint16_t block,
                  absl::Span<const uint8_t> payload) {
  if (buffer.size() < kDataHeaderSize + payload.size()) return 0;
  EncodeDataHeader(buffer, block);
  if (!payload.empty()) {
    std::memcpy(buffer.data() + kDataHeaderSize, payload.data(),
                payload.size());
  }
  return kDataHeaderSize + payload.size();
}

size_t EncodeAck(absl::Span<uint8_t> buffer, uint16_t block) {
  if (buffer.size() < 4) return 0;
  StoreU16(buffer.data(), static_cast<uint16_t>(Opcode::kAck));
  StoreU16(buffer.data() + 2, block);
  return 4;
}

size_t EncodeError(absl::Span<uint8_t> buffer, ErrorCode code,
                   absl::string_view message) {
  if (buffer.size() < 5) return 0;
  StoreU16(buffer.data(), static_cast<uint16_t>(Opcode::kError));
  StoreU16(buffer.data() + 2, static_cast<uint16_t>(code));
  // A message must not carry its own NUL: it would end the string early.
  const size_t nul = message.find('\0');
  if (nul != absl::string_view::npos) message = message.substr(0, nul);
  message = message.substr(0, buffer.size() - 5);
  size_t pos = 4;
  PutString(buffer, &pos, message);
  return pos;
}

size_t EncodeRequest(absl::Span<uint8_t> buffer, Opcode opcode,
                     absl::string_view filename, TransferMode mode,
                     absl::Span<const RawOption> options) {
  if (buffer.size() < 2) return 0;
  StoreU16(buffer.data(), static_cast<uint16_t>(opcode));
  size_t pos = 2;
  if (!PutString(buffer, &pos, filename) ||
      !PutString(buffer, &pos, TransferModeName(mode))) {
    return 0;
  }
  for (const RawOption& option : options) {
    if (!PutString(buffer, &pos, option.name) ||
        !PutString(buffer, &pos, option.value)) {
      return 0;
    }
  }
  return pos;
}

size_t EncodeOack(absl::Span<uint8_t> buffer,
                  absl::Span<const RawOption> options) {
  if (buffer.size() < 2) return 0;
  StoreU16(buffer.data(), static_cast<uint16_t>(Opcode::kOack));
  size_t pos = 2;
  for (const RawOption& option : options) {
    if (!PutString(buffer, &pos, option.name) ||
        !PutString(buffer, &pos, option.value)) {
      return 0;
    }
  }
  return pos;
}

}  // namespace tftp
