#include "server/engine/eviction.h"

#include <algorithm>

namespace tftpd {

io::Clock::duration ForgeryScore(const Transfer& t, io::TimePoint now) {
  const AnswerDelay& a = t.answers;
  const io::Clock::duration silent = a.unanswered_send.has_value()
                                         ? now - *a.unanswered_send
                                         : io::Clock::duration::zero();
  return a.measured ? std::max(silent, a.smoothed) : silent;
}

}  // namespace tftpd
