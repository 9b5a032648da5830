// The tag an operation carries into its completion: a kind chosen by the
// caller, a slot index, and the slot's generation. A completion that arrives
// after its slot was reused carries an old generation and is recognised as
// stale; no completion ever holds a pointer to something that can die.
#ifndef TFTPD_IO_USER_DATA_H_
#define TFTPD_IO_USER_DATA_H_

#include <cstdint>

namespace io {

struct UserData {
  uint8_t kind = 0;
  uint32_t index = 0;
  uint32_t generation = 0;  // Only the low 24 bits travel.

  static constexpr uint32_t kGenerationMask = (1u << 24) - 1;

  constexpr uint64_t Pack() const {
    return (uint64_t{kind} << 56) |
           (uint64_t{generation & kGenerationMask} << 32) | index;
  }
  static constexpr UserData Unpack(uint64_t packed) {
    return UserData{static_cast<uint8_t>(packed >> 56),
                    static_cast<uint32_t>(packed),
                    static_cast<uint32_t>(packed >> 32) & kGenerationMask};
  }
};

}  // namespace io

#endif  // TFTPD_IO_USER_DATA_H_
