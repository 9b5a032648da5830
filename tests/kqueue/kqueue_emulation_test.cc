// The emulation must behave as kqueue does for the subset it covers, or the
// kqueue backend's tests on Linux prove nothing.
#include <fcntl.h>
#include <sys/event.h>
#include <unistd.h>

#include <chrono>

#include "gtest/gtest.h"

namespace {

constexpr timespec kNoWait{0, 0};
constexpr timespec kShortWait{0, 50'000'000};

class KqueueEmulation : public ::testing::Test {
 protected:
  void SetUp() override {
    kq_ = kqueue();
    ASSERT_GE(kq_, 0);
    ASSERT_EQ(pipe2(pipe_, O_NONBLOCK | O_CLOEXEC), 0);
  }
  void TearDown() override {
    close(kq_);
    close(pipe_[0]);
    close(pipe_[1]);
  }
  int Change(int fd, short filter, unsigned short flags, intptr_t data = 0,
             void* udata = nullptr) {
    struct kevent change;
    EV_SET(&change, fd, filter, flags, 0, data, udata);
    return kevent(kq_, &change, 1, nullptr, 0, nullptr);
  }
  int Wait(struct kevent* out, int n, const timespec& timeout) {
    return kevent(kq_, nullptr, 0, out, n, &timeout);
  }

  int kq_ = -1;
  int pipe_[2] = {-1, -1};
};

TEST_F(KqueueEmulation, ReadFilterIsLevelTriggeredAndCarriesUdata) {
  int tag = 0;
  ASSERT_EQ(Change(pipe_[0], EVFILT_READ, EV_ADD, 0, &tag), 0);
  struct kevent event;
  EXPECT_EQ(Wait(&event, 1, kNoWait), 0);
  ASSERT_EQ(write(pipe_[1], "x", 1), 1);
  ASSERT_EQ(Wait(&event, 1, kShortWait), 1);
  EXPECT_EQ(event.ident, static_cast<uintptr_t>(pipe_[0]));
  EXPECT_EQ(event.filter, EVFILT_READ);
  EXPECT_EQ(event.udata, &tag);
  // Still readable: reported again.
  EXPECT_EQ(Wait(&event, 1, kNoWait), 1);
}

TEST_F(KqueueEmulation, ClearReportsEachChangeOnce) {
  ASSERT_EQ(Change(pipe_[0], EVFILT_READ, EV_ADD | EV_CLEAR), 0);
  ASSERT_EQ(write(pipe_[1], "x", 1), 1);
  struct kevent event;
  EXPECT_EQ(Wait(&event, 1, kShortWait), 1);
  EXPECT_EQ(Wait(&event, 1, kNoWait), 0);
  ASSERT_EQ(write(pipe_[1], "y", 1), 1);
  EXPECT_EQ(Wait(&event, 1, kShortWait), 1);
}

TEST_F(KqueueEmulation, OneshotFiresOnceThenIsGone) {
  ASSERT_EQ(Change(pipe_[0], EVFILT_READ, EV_ADD | EV_ONESHOT), 0);
  ASSERT_EQ(write(pipe_[1], "x", 1), 1);
  struct kevent event;
  EXPECT_EQ(Wait(&event, 1, kShortWait), 1);
  EXPECT_EQ(Wait(&event, 1, kNoWait), 0);
  // Deleting a filter that is gone fails as on BSD.
  EXPECT_EQ(Change(pipe_[0], EVFILT_READ, EV_DELETE), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(KqueueEmulation, DisableAndEnable) {
  ASSERT_EQ(Change(pipe_[0], EVFILT_READ, EV_ADD), 0);
  ASSERT_EQ(write(pipe_[1], "x", 1), 1);
  ASSERT_EQ(Change(pipe_[0], EVFILT_READ, EV_DISABLE), 0);
  struct kevent event;
  EXPECT_EQ(Wait(&event, 1, kNoWait), 0);
  ASSERT_EQ(Change(pipe_[0], EVFILT_READ, EV_ENABLE), 0);
  EXPECT_EQ(Wait(&event, 1, kShortWait), 1);
}

TEST_F(KqueueEmulation, WriteFilterAndDelete) {
  ASSERT_EQ(Change(pipe_[1], EVFILT_WRITE, EV_ADD), 0);
  struct kevent event;
  ASSERT_EQ(Wait(&event, 1, kShortWait), 1);
  EXPECT_EQ(event.filter, EVFILT_WRITE);
  ASSERT_EQ(Change(pipe_[1], EVFILT_WRITE, EV_DELETE), 0);
  EXPECT_EQ(Wait(&event, 1, kNoWait), 0);
}

TEST_F(KqueueEmulation, TimersFireAtTheirPeriod) {
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(Change(7, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 30), 0);
  struct kevent event;
  const timespec second{1, 0};
  ASSERT_EQ(Wait(&event, 1, second), 1);
  EXPECT_EQ(event.filter, EVFILT_TIMER);
  EXPECT_EQ(event.ident, 7u);
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(30));
  EXPECT_EQ(Wait(&event, 1, kShortWait), 0);  // Oneshot: gone.
}

TEST_F(KqueueEmulation, UnknownFiltersAreRefused) {
  EXPECT_EQ(Change(pipe_[0], -3 /* EVFILT_AIO */, EV_ADD), -1);
  EXPECT_EQ(errno, EINVAL);
}

}  // namespace
