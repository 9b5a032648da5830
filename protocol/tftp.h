// TFTP wire constants and the small value types every layer above shares:
// opcodes, error codes, transfer modes and the limits of RFC 1350, 2347,
// 2348, 2349 and 7440. Nothing here does I/O or reads a clock.
#ifndef TFTPD_PROTOCOL_TFTP_H_
#define TFTPD_PROTOCOL_TFTP_H_

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace tftp {

enum class Opcode : uint16_t {
  kRrq = 1,
  kWrq = 2,
  kData = 3,
  kAck = 4,
  kError = 5,
  kOack = 6,  // RFC 2347
};

// Error codes of RFC 1350 plus 8 from RFC 2347.
enum class ErrorCode : uint16_t {
  kNotDefined = 0,
  kFileNotFound = 1,
  kAccessViolation = 2,
  kDiskFull = 3,  // Also "allocation exceeded": used for size limits.
  kIllegalOperation = 4,
  kUnknownTransferId = 5,
  kFileExists = 6,
  kNoSuchUser = 7,
  kOptionRefused = 8,
};

// A short lower-case name for logs and metrics, e.g. "file_not_found".
const char* ErrorCodeName(ErrorCode code);

enum class TransferMode : uint8_t {
  kOctet,
  kNetascii,
  // Any other ("mail", "binascii"): never transferred in. ParseRequest
  // refuses it, having parsed the rest, for a handler that answers such
  // requests itself (fbtftp hands them to get_handler, then sends ERROR 4).
  kUnsupported,
};

// The default block size of RFC 1350 and the range of RFC 2348.
inline constexpr uint16_t kDefaultBlockSize = 512;
inline constexpr uint16_t kMinBlockSize = 8;
inline constexpr uint16_t kMaxBlockSize = 65464;

// RFC 2349 timeout range, in seconds.
inline constexpr uint16_t kMinTimeoutSeconds = 1;
inline constexpr uint16_t kMaxTimeoutSeconds = 255;

// RFC 7440 window size range, in blocks.
inline constexpr uint16_t kMinWindowSize = 1;
inline constexpr uint16_t kMaxWindowSize = 65535;
// The largest window this server grants. Block numbers on the wire are 16
// bits: with W blocks unacknowledged, an ACK delayed by 65536 - W blocks or
// more names a block of the current window. At W <= 32768 only an ACK a full
// window old or older can, and a window never ends before its own ACK.
inline constexpr uint16_t kMaxGrantedWindowSize = 32768;

// Opcode and block number precede the payload of every DATA packet.
inline constexpr size_t kDataHeaderSize = 4;
// The largest datagram a conforming peer sends: DATA at the largest blksize.
inline constexpr size_t kMaxPacketSize = kDataHeaderSize + kMaxBlockSize;

// Time is passed into the protocol layer, never read by it. The driver uses a
// monotonic clock; tests use whatever instants they like.
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

}  // namespace tftp

#endif  // TFTPD_PROTOCOL_TFTP_H_
