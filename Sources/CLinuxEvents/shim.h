#ifndef ESTUARY_CLINUXEVENTS_SHIM_H
#define ESTUARY_CLINUXEVENTS_SHIM_H
/* epoll and eventfd for the SNMP poller's event loop. struct epoll_event is packed on
   x86_64, which Swift does not import well: these wrappers pass only the 64-bit data. */
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/prctl.h>

static inline int estuary_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static inline int estuary_epoll_add_readable(int epfd, int fd, uint64_t data) {
    struct epoll_event event;
    event.events = EPOLLIN;
    event.data.u64 = data;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

static inline int estuary_epoll_remove(int epfd, int fd) {
    struct epoll_event event = { 0 };
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &event);
}

/* Waits up to `timeout_ms` (-1: forever); writes the data of each ready fd into `datas`.
   Returns the count, 0 on timeout, -1 on error (errno). */
static inline int estuary_epoll_wait(int epfd, uint64_t *datas, int capacity, int timeout_ms) {
    struct epoll_event events[256];
    if (capacity > 256) capacity = 256;
    int count = epoll_wait(epfd, events, capacity, timeout_ms);
    for (int i = 0; i < count; i++) datas[i] = events[i].data.u64;
    return count;
}

static inline int estuary_eventfd_create(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

/* Raises the soft limit on open files to the hard limit; returns the new soft limit. */
static inline long estuary_raise_open_files_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    return (long)limit.rlim_cur;
}

/* Names the calling thread (top, perf and gdb show it). */
static inline void estuary_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }
#endif
