#include "loop.h"
#include "settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

static void signal_arrived(struct loop *loop, struct completion *completion, int result) {
    (void)completion;
    if (result == -EINTR || result == -EAGAIN) {
        struct io_uring_sqe *sqe = loop_sqe(loop, &loop->signal_completion);
        io_uring_prep_read(sqe, loop->signal_fd, loop->signal_info, sizeof loop->signal_info, 0);
        return;
    }
    loop->stopping = true;
}

int loop_init(struct loop *loop) {
    memset(loop, 0, sizeof *loop);
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
    int result = io_uring_queue_init_params(RING_ENTRIES, &loop->ring, &params);
    if (result == -EINVAL) {  // an older kernel without those flags
        memset(&params, 0, sizeof params);
        result = io_uring_queue_init_params(RING_ENTRIES, &loop->ring, &params);
    }
    if (result < 0) return result;
    sigset_t stopping;
    sigemptyset(&stopping);
    sigaddset(&stopping, SIGINT);
    sigaddset(&stopping, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &stopping, NULL) != 0) return -errno;
    loop->signal_fd = signalfd(-1, &stopping, SFD_CLOEXEC);
    if (loop->signal_fd < 0) return -errno;
    // A peer that goes away must not kill the process; sends report EPIPE instead.
    signal(SIGPIPE, SIG_IGN);
    loop->signal_completion.callback = signal_arrived;
    struct io_uring_sqe *sqe = loop_sqe(loop, &loop->signal_completion);
    io_uring_prep_read(sqe, loop->signal_fd, loop->signal_info, sizeof loop->signal_info, 0);
    return 0;
}

struct reaped {
    struct completion *completion;
    int result;
};

int loop_run(struct loop *loop) {
    while (!loop->stopping) {
        int submitted = io_uring_submit_and_wait(&loop->ring, 1);
        if (submitted < 0 && submitted != -EINTR && submitted != -EAGAIN && submitted != -EBUSY) return submitted;
        struct io_uring_cqe *cqes[CQE_BATCH_MAX];
        struct reaped batch[CQE_BATCH_MAX];
        unsigned count = io_uring_peek_batch_cqe(&loop->ring, cqes, CQE_BATCH_MAX);
        for (unsigned i = 0; i < count; i++) {
            batch[i].completion = (struct completion *)(uintptr_t)io_uring_cqe_get_data64(cqes[i]);
            batch[i].result = cqes[i]->res;
        }
        io_uring_cq_advance(&loop->ring, count);
        // Callbacks run after the reaping, never inside it.
        for (unsigned i = 0; i < count; i++) {
            if (batch[i].completion) batch[i].completion->callback(loop, batch[i].completion, batch[i].result);
        }
    }
    return 0;
}

void loop_exit(struct loop *loop) {
    io_uring_queue_exit(&loop->ring);
    close(loop->signal_fd);
}

struct io_uring_sqe *loop_sqe(struct loop *loop, struct completion *completion) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
    while (!sqe) {
        // The ring holds RING_ENTRIES, far more than both modes ever have in flight; a
        // full one only means this tick queued a lot: hand those to the kernel first.
        io_uring_submit(&loop->ring);
        sqe = io_uring_get_sqe(&loop->ring);
    }
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)completion);
    return sqe;
}

void loop_cancel(struct loop *loop, struct completion *target) {
    // The cancel's own completion carries no owner (user_data 0) and is dropped.
    struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
    while (!sqe) {
        io_uring_submit(&loop->ring);
        sqe = io_uring_get_sqe(&loop->ring);
    }
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)target, 0);
    io_uring_sqe_set_data64(sqe, 0);
}

// MARK: - Transfers

static bool aligned(uint64_t value) { return value % DIRECT_ALIGN_BYTES == 0; }

static void transfer_submit(struct loop *loop, struct transfer *transfer) {
    uint8_t *at = transfer->base + transfer->done;
    size_t left = transfer->total - transfer->done;
    unsigned length = left > (1u << 30) ? (1u << 30) : (unsigned)left;
    if (transfer->direct && (!aligned((uintptr_t)at) || !aligned(length) || !aligned(transfer->file_offset + transfer->done))) {
        // A short O_DIRECT transfer that ended mid-block cannot go on with O_DIRECT.
        transfer->finished(loop, transfer, -EINVAL);
        return;
    }
    struct io_uring_sqe *sqe = loop_sqe(loop, &transfer->completion);
    switch (transfer->op) {
    case TRANSFER_RECV: io_uring_prep_recv(sqe, transfer->fd, at, length, 0); break;
    case TRANSFER_SEND: io_uring_prep_send(sqe, transfer->fd, at, length, MSG_NOSIGNAL); break;
    case TRANSFER_READ: io_uring_prep_read(sqe, transfer->fd, at, length, transfer->file_offset + transfer->done); break;
    case TRANSFER_WRITE: io_uring_prep_write(sqe, transfer->fd, at, length, transfer->file_offset + transfer->done); break;
    }
}

static void transfer_completed(struct loop *loop, struct completion *completion, int result) {
    struct transfer *transfer = (struct transfer *)completion;
    if (result == -EINTR || result == -EAGAIN) {
        transfer_submit(loop, transfer);
        return;
    }
    if (result < 0) {
        transfer->finished(loop, transfer, result);
        return;
    }
    if (result == 0) {
        bool enough = transfer->op == TRANSFER_READ && transfer->done >= transfer->at_least;
        transfer->finished(loop, transfer, enough ? 0 : TRANSFER_EOF);
        return;
    }
    transfer->done += (size_t)result;
    if (transfer->done >= transfer->total || (transfer->op == TRANSFER_READ && transfer->done >= transfer->at_least)) {
        transfer->finished(loop, transfer, 0);
        return;
    }
    transfer_submit(loop, transfer);
}

void transfer_start_file(struct loop *loop, struct transfer *transfer, enum transfer_op op, int fd, void *base,
                         size_t total, size_t at_least, bool direct, transfer_fn finished) {
    transfer->completion.callback = transfer_completed;
    transfer->op = op;
    transfer->fd = fd;
    transfer->direct = direct;
    transfer->base = base;
    transfer->total = total;
    transfer->at_least = at_least;
    transfer->done = 0;
    transfer->file_offset = 0;
    transfer->finished = finished;
    if (total == 0) {
        finished(loop, transfer, 0);
        return;
    }
    transfer_submit(loop, transfer);
}

void transfer_start(struct loop *loop, struct transfer *transfer, enum transfer_op op, int fd, void *base, size_t total,
                    transfer_fn finished) {
    transfer_start_file(loop, transfer, op, fd, base, total, total, false, finished);
}

// MARK: - Sockets and memory

int listen_loopback(uint16_t port, uint16_t *bound_port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, LISTEN_BACKLOG) != 0
        || getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    *bound_port = ntohs(address.sin_port);
    return fd;
}

size_t chunk_buffer_stride(void) { return BUFFER_PREFIX_BYTES + CHUNK_BYTES; }

uint8_t *allocate_chunk_buffers(size_t count) {
    size_t bytes = count * chunk_buffer_stride();
    bytes = (bytes + HUGE_PAGE_BYTES - 1) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES;
    void *memory = NULL;
    if (posix_memalign(&memory, HUGE_PAGE_BYTES, bytes) != 0) return NULL;
    // Advice only: without transparent huge pages the buffers still work, just slower.
    madvise(memory, bytes, MADV_HUGEPAGE);
    memset(memory, 0, bytes);
    return memory;
}
