// The one place libevent is seen from Swift. Swift cannot import function-like
// macros, so each one used is wrapped here as a prefixed static inline function.
#ifndef GATEWAY_CLIBEVENT_SHIM_H
#define GATEWAY_CLIBEVENT_SHIM_H

#include <sys/types.h>   // event2 headers assume it is already included
#include <sys/socket.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <event2/dns.h>

// evtimer_new is a macro.
static inline struct event *gw_evtimer_new(struct event_base *base,
                                           event_callback_fn cb, void *arg) {
    return event_new(base, -1, 0, cb, arg);
}

// evsignal_new is a macro; signals persist until removed.
static inline struct event *gw_evsignal_new(struct event_base *base, int sig,
                                            event_callback_fn cb, void *arg) {
    return event_new(base, sig, EV_SIGNAL | EV_PERSIST, cb, arg);
}

// A persistent read event on a file descriptor (wake-up pipes, eventfd).
static inline struct event *gw_evread_new(struct event_base *base, int fd,
                                          event_callback_fn cb, void *arg) {
    return event_new(base, fd, EV_READ | EV_PERSIST, cb, arg);
}

static inline struct event *gw_evwrite_new(struct event_base *base, int fd,
                                           event_callback_fn cb, void *arg) {
    return event_new(base, fd, EV_WRITE | EV_PERSIST, cb, arg);
}

// event_add with a millisecond timeout; ms < 0 means no timeout.
static inline int gw_event_add_ms(struct event *ev, long ms) {
    if (ms < 0) return event_add(ev, NULL);
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    return event_add(ev, &tv);
}

// event_add with a microsecond timeout (us >= 0).
static inline int gw_event_add_us(struct event *ev, long long us) {
    struct timeval tv = { .tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000) };
    return event_add(ev, &tv);
}

// bufferevent timeouts in milliseconds; ms <= 0 disables that direction.
static inline void gw_bufferevent_set_timeouts_ms(struct bufferevent *bev,
                                                  long read_ms, long write_ms) {
    struct timeval r = { .tv_sec = read_ms / 1000, .tv_usec = (read_ms % 1000) * 1000 };
    struct timeval w = { .tv_sec = write_ms / 1000, .tv_usec = (write_ms % 1000) * 1000 };
    bufferevent_set_timeouts(bev, read_ms > 0 ? &r : NULL, write_ms > 0 ? &w : NULL);
}

// errno is a macro over a thread-local; Swift's Glibc errno works, but
// libevent's socket error accessor is a macro too.
static inline int gw_socket_error(int fd) { return evutil_socket_geterror(fd); }

static inline int gw_errno(void) { return errno; }

// SIG_IGN is a macro over a cast function pointer.
static inline void gw_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

// pthread_setname_np needs _GNU_SOURCE; prctl names the calling thread.
static inline void gw_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

#endif
