#include "io/spin_backoff.h"

#include <string>

#include "gtest/gtest.h"

namespace io {
namespace {

// Which of the next `waits` spin: "s" for a spin, "." for a wait that
// sleeps at once; every spin finds nothing.
std::string SpinsInVain(SpinBackoff& backoff, int waits) {
  std::string pattern;
  for (int i = 0; i < waits; ++i) {
    if (backoff.ShouldSpin()) {
      pattern += 's';
      backoff.FoundNothing();
    } else {
      pattern += '.';
    }
  }
  return pattern;
}

TEST(SpinBackoff, SpinsUntilASpinFindsNothing) {
  SpinBackoff backoff;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(backoff.ShouldSpin());
    backoff.Found();
  }
}

TEST(SpinBackoff, SkipsTwiceAsManyWaitsAfterEachSpinInVain) {
  SpinBackoff backoff;
  EXPECT_EQ(SpinsInVain(backoff, 16), "s.s..s....s.....");
}

TEST(SpinBackoff, SkipsAtMostSixtyFourWaits) {
  SpinBackoff backoff;
  SpinsInVain(backoff, 1000);  // Long past the longest back-off...
  while (!backoff.ShouldSpin()) {
  }
  backoff.FoundNothing();  // ...and just after a spin.
  const std::string skip(SpinBackoff::kLongestBackoff, '.');
  EXPECT_EQ(SpinsInVain(backoff, 2 * 65), skip + "s" + skip + "s");
}

TEST(SpinBackoff, ASpinThatFindsACompletionEndsTheBackoff) {
  SpinBackoff backoff;
  SpinsInVain(backoff, 200);
  while (!backoff.ShouldSpin()) {
  }
  backoff.Found();
  EXPECT_EQ(SpinsInVain(backoff, 6), "s.s..s");
}

}  // namespace
}  // namespace io
