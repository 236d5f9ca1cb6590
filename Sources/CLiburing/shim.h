// Swift-facing wrappers over liburing's static-inline helpers, plus the few
// libc constants and headers Swift cannot import on its own. Nothing else lives in C.
#ifndef FLARE_CLIBURING_SHIM_H
#define FLARE_CLIBURING_SHIM_H

// libc headers first: liburing defines _GNU_SOURCE itself, and including them after it
// breaks debug builds of modules that also import Glibc (see shared/notes/swift-liburing.md).
#include <sys/socket.h>
#include <sys/select.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/statfs.h>
#include <linux/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <errno.h>
#include <unistd.h>
#include <pthread.h>
#include <liburing.h>

// O_DIRECT is GNU-only and <fcntl.h> is read before _GNU_SOURCE is set, so spell it out.
#if defined(__aarch64__) || defined(__arm__)
static const int flare_O_DIRECT = 0200000;
#else
static const int flare_O_DIRECT = 040000;
#endif
static const unsigned flare_IOSQE_IO_LINK = IOSQE_IO_LINK;
static const unsigned flare_IORING_SETUP_SINGLE_ISSUER = IORING_SETUP_SINGLE_ISSUER;
static const unsigned flare_IORING_SETUP_COOP_TASKRUN = IORING_SETUP_COOP_TASKRUN;
static const unsigned flare_IORING_SETUP_DEFER_TASKRUN = IORING_SETUP_DEFER_TASKRUN;
static const unsigned flare_IORING_SETUP_SUBMIT_ALL = IORING_SETUP_SUBMIT_ALL;
static const unsigned flare_IORING_TIMEOUT_ETIME_SUCCESS = IORING_TIMEOUT_ETIME_SUCCESS;
static const unsigned flare_EPOLLIN = EPOLLIN;
static const unsigned flare_EPOLLOUT = EPOLLOUT;
static const unsigned flare_EPOLLET = EPOLLET;
static const unsigned flare_EPOLLRDHUP = EPOLLRDHUP;
static const unsigned flare_EPOLLERR = EPOLLERR;
static const unsigned flare_EPOLLHUP = EPOLLHUP;
static const int flare_EFD_NONBLOCK = EFD_NONBLOCK;
static const int flare_EFD_CLOEXEC = EFD_CLOEXEC;
static const int flare_AT_FDCWD = AT_FDCWD;

static inline struct io_uring_sqe *flare_io_uring_get_sqe(struct io_uring *ring) {
    return io_uring_get_sqe(ring);
}
static inline void flare_io_uring_sqe_set_data64(struct io_uring_sqe *sqe, __u64 data) {
    io_uring_sqe_set_data64(sqe, data);
}
static inline __u64 flare_io_uring_cqe_get_data64(const struct io_uring_cqe *cqe) {
    return io_uring_cqe_get_data64(cqe);
}
static inline void flare_io_uring_sqe_set_flags(struct io_uring_sqe *sqe, unsigned flags) {
    io_uring_sqe_set_flags(sqe, flags);
}
static inline void flare_io_uring_cq_advance(struct io_uring *ring, unsigned nr) {
    io_uring_cq_advance(ring, nr);
}
static inline unsigned flare_io_uring_sq_ready(const struct io_uring *ring) {
    return io_uring_sq_ready(ring);
}
static inline int flare_io_uring_opcode_supported(const struct io_uring_probe *p, int op) {
    return io_uring_opcode_supported(p, op);
}
static inline void flare_io_uring_prep_nop(struct io_uring_sqe *sqe) {
    io_uring_prep_nop(sqe);
}
static inline void flare_io_uring_prep_recv(struct io_uring_sqe *sqe, int fd, void *buf, size_t len, int flags) {
    io_uring_prep_recv(sqe, fd, buf, len, flags);
}
static inline void flare_io_uring_prep_send(struct io_uring_sqe *sqe, int fd, const void *buf, size_t len, int flags) {
    io_uring_prep_send(sqe, fd, buf, len, flags);
}
static inline void flare_io_uring_prep_accept(struct io_uring_sqe *sqe, int fd, int flags) {
    io_uring_prep_accept(sqe, fd, NULL, NULL, flags);
}
static inline void flare_io_uring_prep_connect(struct io_uring_sqe *sqe, int fd, const struct sockaddr *addr, socklen_t len) {
    io_uring_prep_connect(sqe, fd, addr, len);
}
static inline void flare_io_uring_prep_shutdown(struct io_uring_sqe *sqe, int fd, int how) {
    io_uring_prep_shutdown(sqe, fd, how);
}
static inline void flare_io_uring_prep_close(struct io_uring_sqe *sqe, int fd) {
    io_uring_prep_close(sqe, fd);
}
static inline void flare_io_uring_prep_read(struct io_uring_sqe *sqe, int fd, void *buf, unsigned len, __u64 offset) {
    io_uring_prep_read(sqe, fd, buf, len, offset);
}
static inline void flare_io_uring_prep_write(struct io_uring_sqe *sqe, int fd, const void *buf, unsigned len, __u64 offset) {
    io_uring_prep_write(sqe, fd, buf, len, offset);
}
static inline void flare_io_uring_prep_fsync(struct io_uring_sqe *sqe, int fd, unsigned flags) {
    io_uring_prep_fsync(sqe, fd, flags);
}
static inline void flare_io_uring_prep_openat(struct io_uring_sqe *sqe, int dfd, const char *path, int flags, mode_t mode) {
    io_uring_prep_openat(sqe, dfd, path, flags, mode);
}
static inline void flare_io_uring_prep_renameat(struct io_uring_sqe *sqe, int olddfd, const char *oldpath, int newdfd, const char *newpath, unsigned flags) {
    io_uring_prep_renameat(sqe, olddfd, oldpath, newdfd, newpath, flags);
}
static inline void flare_io_uring_prep_unlinkat(struct io_uring_sqe *sqe, int dfd, const char *path, int flags) {
    io_uring_prep_unlinkat(sqe, dfd, path, flags);
}
static inline void flare_io_uring_prep_statx(struct io_uring_sqe *sqe, int dfd, const char *path, int flags, unsigned mask, void *buffer) {
    io_uring_prep_statx(sqe, dfd, path, flags, mask, (struct statx *)buffer);
}
static inline void flare_io_uring_prep_mkdirat(struct io_uring_sqe *sqe, int dfd, const char *path, mode_t mode) {
    io_uring_prep_mkdirat(sqe, dfd, path, mode);
}
static inline void flare_io_uring_prep_timeout(struct io_uring_sqe *sqe, struct __kernel_timespec *ts) {
    io_uring_prep_timeout(sqe, ts, 0, 0);
}
static inline void flare_io_uring_prep_link_timeout(struct io_uring_sqe *sqe, struct __kernel_timespec *ts) {
    io_uring_prep_link_timeout(sqe, ts, 0);
}
static inline void flare_io_uring_prep_cancel64(struct io_uring_sqe *sqe, __u64 user_data) {
    io_uring_prep_cancel64(sqe, user_data, 0);
}

// GNU extensions whose prototypes <sys/socket.h> and <pthread.h> hid (they were read
// before _GNU_SOURCE was set).
extern int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
extern int pthread_setname_np(pthread_t thread, const char *name);
extern int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
static const unsigned flare_RENAME_NOREPLACE = 1;
extern int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buffer);
// The size a statx buffer must have; the epoll engine's blocking pool calls statx itself.
static const int flare_statx_bytes = sizeof(struct statx);
static inline int flare_statx(int dirfd, const char *path, int flags, unsigned int mask, void *buffer) {
    return statx(dirfd, path, flags, mask, (struct statx *)buffer);
}
static inline int flare_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}
static inline int flare_accept4(int fd, int flags) { return accept4(fd, NULL, NULL, flags); }
static inline int flare_pthread_setname(pthread_t thread, const char *name) { return pthread_setname_np(thread, name); }

static inline int flare_epoll_event_fd(const struct epoll_event *ev) { return ev->data.fd; }
static inline unsigned flare_epoll_event_mask(const struct epoll_event *ev) { return ev->events; }
static inline int flare_epoll_add(int epfd, int fd, unsigned events) {
    struct epoll_event ev = { .events = events, .data = { .fd = fd } };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}
static inline int flare_epoll_del(int epfd, int fd) {
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

#endif
