// A small emulation of BSD kqueue over Linux epoll, for testing the kqueue
// backend on Linux. It covers the subset that backend, and this project,
// use: EVFILT_READ, EVFILT_WRITE and EVFILT_TIMER; EV_ADD, EV_DELETE,
// EV_ENABLE, EV_DISABLE, EV_ONESHOT and EV_CLEAR; udata. Field names,
// constants and EV_SET follow FreeBSD's <sys/event.h>. It is not a kqueue:
// what it cannot express (other filters, fflags, EV_RECEIPT, ...) fails
// with EINVAL.
#ifndef TFTPD_TESTS_KQUEUE_SYS_EVENT_H_
#define TFTPD_TESTS_KQUEUE_SYS_EVENT_H_

#include <stdint.h>
#include <time.h>

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_TIMER (-7)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

struct kevent {
  uintptr_t ident;
  short filter;
  unsigned short flags;
  unsigned int fflags;
  intptr_t data;
  void* udata;
};

#define EV_SET(kevp, a, b, c, d, e, f) \
  do {                                 \
    struct kevent* ev_ = (kevp);       \
    ev_->ident = (a);                  \
    ev_->filter = (b);                 \
    ev_->flags = (c);                  \
    ev_->fflags = (d);                 \
    ev_->data = (e);                   \
    ev_->udata = (f);                  \
  } while (0)

#ifdef __cplusplus
extern "C" {
#endif

int kqueue(void);
// As FreeBSD's: applies `changes`, then waits up to `timeout` (NULL: no
// limit) for events. An EVFILT_TIMER's data is its period in milliseconds.
int kevent(int kq, const struct kevent* changes, int nchanges,
           struct kevent* events, int nevents, const struct timespec* timeout);

#ifdef __cplusplus
}
#endif

#endif  // TFTPD_TESTS_KQUEUE_SYS_EVENT_H_
