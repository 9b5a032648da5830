#include "server/engine/eviction.h"

#include <algorithm>

namespace tftpd {

io::Clock::duration ForgeryScore(const Transfer& t, io::TimePoint now) {
  const AnswerDelay& a = t.answers;
  const io::Clock::duration silent = a.unanswered_send.has_value()
                                         ? now - *a.unanswered_send
                                         : io::Clock::duration::zero();
  // Silence counts half: a real client waiting out a lost packet is silent
  // for its own timeout (a second or more) but answered promptly before,
  // and must score below a forger whose every answer comes a second late.
  return a.measured ? std::max(silent / 2, a.smoothed) : silent / 2;
}

}  // namespace tftpd
