// kqueue over epoll; see sys/event.h for what is covered. A kqueue is an
// epoll descriptor plus, in a table keyed by it, the filters registered on
// each descriptor and the timers. Readiness is level-triggered unless a
// filter asks for EV_CLEAR (then that descriptor is watched edge-triggered).
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <utility>

#include "tests/kqueue/sys/event.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Filter {
  bool enabled = true;
  bool oneshot = false;
  bool clear = false;
  void* udata = nullptr;
};

struct Timer {
  Filter filter;
  std::chrono::milliseconds period{0};
  Clock::time_point next;
};

struct Queue {
  std::map<int, Filter> reads;   // fd -> EVFILT_READ
  std::map<int, Filter> writes;  // fd -> EVFILT_WRITE
  std::map<uintptr_t, Timer> timers;
  std::map<int, uint32_t> watched;  // fd -> epoll events registered
};

std::mutex g_mutex;
std::map<int, Queue>& Queues() {
  static auto* queues = new std::map<int, Queue>;
  return *queues;
}

// Makes epoll watch what the enabled filters on `fd` want.
int Sync(int kq, Queue& q, int fd) {
  uint32_t wanted = 0;
  bool edge = false;
  if (auto r = q.reads.find(fd); r != q.reads.end() && r->second.enabled) {
    wanted |= EPOLLIN;
    edge |= r->second.clear;
  }
  if (auto w = q.writes.find(fd); w != q.writes.end() && w->second.enabled) {
    wanted |= EPOLLOUT;
    edge |= w->second.clear;
  }
  if (edge) wanted |= EPOLLET;
  const uint32_t had = q.watched.count(fd) ? q.watched[fd] : 0;
  if (wanted == had) return 0;
  epoll_event event{};
  event.events = wanted;
  event.data.fd = fd;
  int op =
      had == 0 ? EPOLL_CTL_ADD : (wanted == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD);
  if (epoll_ctl(kq, op, fd, &event) != 0) {
    if (op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT)) {
      q.watched.erase(fd);  // Closed already: the kernel forgot it too.
      return 0;
    }
    if (op == EPOLL_CTL_MOD && errno == ENOENT) {
      if (epoll_ctl(kq, EPOLL_CTL_ADD, fd, &event) != 0) return -1;
    } else {
      return -1;
    }
  }
  if (wanted == 0) {
    q.watched.erase(fd);
  } else {
    q.watched[fd] = wanted;
  }
  return 0;
}

int Apply(int kq, Queue& q, const struct kevent& change) {
  const unsigned short flags = change.flags;
  if (change.filter == EVFILT_TIMER) {
    if (flags & EV_DELETE) {
      if (q.timers.erase(change.ident) == 0) return ENOENT;
      return 0;
    }
    Timer& timer = q.timers[change.ident];
    if (flags & EV_ADD) {
      timer.period = std::chrono::milliseconds(change.data);
      timer.next = Clock::now() + timer.period;
      timer.filter.udata = change.udata;
      timer.filter.oneshot = flags & EV_ONESHOT;
      timer.filter.enabled = true;
    }
    if (flags & EV_ENABLE) timer.filter.enabled = true;
    if (flags & EV_DISABLE) timer.filter.enabled = false;
    return 0;
  }
  std::map<int, Filter>* filters = change.filter == EVFILT_READ    ? &q.reads
                                   : change.filter == EVFILT_WRITE ? &q.writes
                                                                   : nullptr;
  if (filters == nullptr) return EINVAL;
  const int fd = static_cast<int>(change.ident);
  if (flags & EV_DELETE) {
    if (filters->erase(fd) == 0) return ENOENT;
    return Sync(kq, q, fd) == 0 ? 0 : errno;
  }
  if (!(flags & EV_ADD) && !filters->count(fd)) return ENOENT;
  Filter& filter = (*filters)[fd];
  if (flags & EV_ADD) {
    filter.udata = change.udata;
    filter.oneshot = flags & EV_ONESHOT;
    filter.clear = flags & EV_CLEAR;
    filter.enabled = true;
  }
  if (flags & EV_ENABLE) filter.enabled = true;
  if (flags & EV_DISABLE) filter.enabled = false;
  return Sync(kq, q, fd) == 0 ? 0 : errno;
}

void Fill(struct kevent* out, uintptr_t ident, short filter,
          unsigned short flags, intptr_t data, void* udata) {
  EV_SET(out, ident, filter, flags, 0, data, udata);
}

}  // namespace

extern "C" int kqueue(void) {
  const int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return -1;
  std::lock_guard<std::mutex> lock(g_mutex);
  Queues()[fd] = Queue{};
  return fd;
}

extern "C" int kevent(int kq, const struct kevent* changes, int nchanges,
                      struct kevent* events, int nevents,
                      const struct timespec* timeout) {
  std::unique_lock<std::mutex> lock(g_mutex);
  auto found = Queues().find(kq);
  if (found == Queues().end()) {
    errno = EBADF;
    return -1;
  }
  for (int i = 0; i < nchanges; ++i) {
    if (const int error = Apply(kq, found->second, changes[i]); error != 0) {
      errno = error;
      return -1;
    }
  }
  if (nevents == 0) return 0;
  // The wait ends at the caller's timeout or the next enabled timer.
  Clock::time_point until = Clock::time_point::max();
  if (timeout != nullptr) {
    until = Clock::now() + std::chrono::seconds(timeout->tv_sec) +
            std::chrono::nanoseconds(timeout->tv_nsec);
  }
  for (const auto& [ident, timer] : found->second.timers) {
    if (timer.filter.enabled) until = std::min(until, timer.next);
  }
  timespec wait{};
  const timespec* wait_for = nullptr;
  if (until != Clock::time_point::max()) {
    const auto left = std::max(Clock::duration::zero(), until - Clock::now());
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left);
    wait.tv_sec = ns.count() / 1'000'000'000;
    wait.tv_nsec = ns.count() % 1'000'000'000;
    wait_for = &wait;
  }
  lock.unlock();  // Another thread may change this queue while we wait.
  epoll_event raw[256];
  const int n =
      epoll_pwait2(kq, raw, std::min(nevents, 256), wait_for, nullptr);
  if (n < 0) return -1;
  lock.lock();
  found = Queues().find(kq);
  if (found == Queues().end()) {
    errno = EBADF;
    return -1;
  }
  Queue& q = found->second;
  int count = 0;
  auto report = [&](std::map<int, Filter>& filters, int fd, short filter) {
    auto it = filters.find(fd);
    if (it == filters.end() || !it->second.enabled || count == nevents) return;
    Fill(&events[count++], static_cast<uintptr_t>(fd), filter, 0, 0,
         it->second.udata);
    if (it->second.oneshot) {
      filters.erase(it);
      Sync(kq, q, fd);
    }
  };
  for (int i = 0; i < n; ++i) {
    const int fd = raw[i].data.fd;
    if (raw[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
      report(q.reads, fd, EVFILT_READ);
    }
    if (raw[i].events & (EPOLLOUT | EPOLLERR))
      report(q.writes, fd, EVFILT_WRITE);
  }
  const Clock::time_point now = Clock::now();
  for (auto it = q.timers.begin(); it != q.timers.end() && count < nevents;) {
    Timer& timer = it->second;
    if (!timer.filter.enabled || timer.next > now) {
      ++it;
      continue;
    }
    intptr_t expirations = 1;
    if (timer.period.count() > 0) {
      expirations += (now - timer.next) / timer.period;
      timer.next += timer.period * expirations;
    }
    Fill(&events[count++], it->first, EVFILT_TIMER, 0, expirations,
         timer.filter.udata);
    it = timer.filter.oneshot ? q.timers.erase(it) : std::next(it);
  }
  return count;
}
