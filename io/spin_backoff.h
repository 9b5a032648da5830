// Whether a backend spins for completions before it sleeps. Waking a
// sleeping CPU costs more than a short spin when the next completion is due
// within it (a lock-step client on a fast network answers in microseconds),
// and nothing when it is not. A spin that finds nothing makes the next 1,
// then 2, 4 ... 64 waits sleep at once, so a slow peer costs at most one
// spin in 64 waits; a spin that finds a completion ends the back-off.
#ifndef TFTPD_IO_SPIN_BACKOFF_H_
#define TFTPD_IO_SPIN_BACKOFF_H_

#include <algorithm>
#include <cstdint>

namespace io {

class SpinBackoff {
 public:
  static constexpr uint32_t kLongestBackoff = 64;

  // Whether this wait spins; a wait that is not told to spin does not count.
  bool ShouldSpin() {
    if (waits_to_skip_ == 0) return true;
    --waits_to_skip_;
    return false;
  }
  void Found() { backoff_ = 0; }
  void FoundNothing() {
    backoff_ = backoff_ == 0 ? 1 : std::min(backoff_ * 2, kLongestBackoff);
    waits_to_skip_ = backoff_;
  }

 private:
  uint32_t backoff_ = 0;
  uint32_t waits_to_skip_ = 0;
};

}  // namespace io

#endif  // TFTPD_IO_SPIN_BACKOFF_H_
