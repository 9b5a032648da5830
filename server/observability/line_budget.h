// A bound on log lines that peers can multiply: a flood of forged requests,
// each refused, must not write a line apiece. At most `per_second` lines a
// second; the rest are counted, and the count is written as one summary
// line before the next line that goes out.
//
// One thread's (each shard has its own); no lock.
#ifndef TFTPD_SERVER_OBSERVABILITY_LINE_BUDGET_H_
#define TFTPD_SERVER_OBSERVABILITY_LINE_BUDGET_H_

#include <cstdint>

namespace tftpd {

class LineBudget {
 public:
  explicit LineBudget(uint32_t per_second) : per_second_(per_second) {}

  // Whether a line may be written in `second` (any monotonic count of
  // seconds). When it may, `*held_back` is how many lines were not
  // written since the last one that was (0 when none): the caller writes
  // that first. When it may not, the line is counted as held back.
  bool Allow(int64_t second, uint64_t* held_back) {
    if (second != second_) {
      second_ = second;
      used_ = 0;
    }
    if (used_ >= per_second_) {
      ++held_back_;
      return false;
    }
    ++used_;
    *held_back = held_back_;
    held_back_ = 0;
    return true;
  }

 private:
  const uint32_t per_second_;
  int64_t second_ = -1;
  uint32_t used_ = 0;
  uint64_t held_back_ = 0;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_OBSERVABILITY_LINE_BUDGET_H_
