// The io_uring loop both modes run on: one ring, one thread, completions as callbacks.
//
// Every operation in flight has a `struct completion` owned by the caller (embedded in a
// connection or an exchange); its address is the SQE's user_data. The loop copies a batch
// of CQEs out, advances the ring, then runs the callbacks, which queue the next SQEs; the
// next tick submits them all in one io_uring_enter.
#ifndef FLARE_PIPELINE_LOOP_H
#define FLARE_PIPELINE_LOOP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <liburing.h>

struct loop;
struct completion;

typedef void (*completion_fn)(struct loop *loop, struct completion *completion, int result);

struct completion {
    completion_fn callback;
};

struct loop {
    struct io_uring ring;
    int signal_fd;
    struct completion signal_completion;
    uint8_t signal_info[128];  // a struct signalfd_siginfo
    bool stopping;
};

/// Sets up the ring and arms a read of a signalfd for SIGINT and SIGTERM (which ends
/// `loop_run`). Returns 0 or -errno.
int loop_init(struct loop *loop);
/// Runs until SIGINT/SIGTERM. Returns 0, or -errno when io_uring_enter fails.
int loop_run(struct loop *loop);
void loop_exit(struct loop *loop);

/// An SQE for `completion` (submitting first when the ring is full).
struct io_uring_sqe *loop_sqe(struct loop *loop, struct completion *completion);
/// Asks the kernel to cancel the operation of `target`; its own completion still arrives
/// (with -ECANCELED, or its result if it finished first).
void loop_cancel(struct loop *loop, struct completion *target);

// MARK: - Transfers: a number of bytes moved in full

enum transfer_op { TRANSFER_RECV, TRANSFER_SEND, TRANSFER_READ, TRANSFER_WRITE };

/// The peer closed, or the file ended, before the transfer was complete.
#define TRANSFER_EOF 1

struct transfer;
/// `result`: 0 when every byte moved, TRANSFER_EOF, or -errno.
typedef void (*transfer_fn)(struct loop *loop, struct transfer *transfer, int result);

/// Moves `total` bytes between `base` and `fd`. Short recv/send/read/write results are
/// advanced and resubmitted here, EINTR and EAGAIN resubmitted: the one place for both.
/// A read may stop at end of file once `at_least` bytes are in (an O_DIRECT read asks for
/// whole blocks). `direct`: alignment is checked before every submit.
struct transfer {
    struct completion completion;
    enum transfer_op op;
    int fd;
    bool direct;
    uint8_t *base;
    size_t total;
    size_t at_least;
    size_t done;
    uint64_t file_offset;
    transfer_fn finished;
};

void transfer_start(struct loop *loop, struct transfer *transfer, enum transfer_op op, int fd, void *base, size_t total,
                    transfer_fn finished);
/// A file read that may end at end of file after `at_least` bytes, or a direct write.
void transfer_start_file(struct loop *loop, struct transfer *transfer, enum transfer_op op, int fd, void *base,
                         size_t total, size_t at_least, bool direct, transfer_fn finished);

// MARK: - Sockets and memory

/// A socket listening on 127.0.0.1:`port` (0: any free port); `bound_port` gets the port.
int listen_loopback(uint16_t port, uint16_t *bound_port);
/// `count` buffers of BUFFER_PREFIX_BYTES + CHUNK_BYTES each, in one block on huge pages
/// where the kernel allows, every page touched once now (fresh memory is slow here).
uint8_t *allocate_chunk_buffers(size_t count);
size_t chunk_buffer_stride(void);

#endif
