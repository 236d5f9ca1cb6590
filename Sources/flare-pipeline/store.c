// `flare-pipeline store`: keeps chunks, one file each, in a directory.
//
// Per connection, one exchange after the other: a 32-byte header (wire.h), then
//   PUT: the chunk is received into a 4096-aligned buffer, written with O_DIRECT (the last
//        partial block padded with zeros), the file truncated back to the chunk's length
//        when it was padded, fdatasync'ed, and only then acknowledged;
//   GET: the chunk file is read with O_DIRECT (whole blocks; the read stops at its end)
//        and sent after the reply header, in one send.
// Files are opened, truncated and closed with plain syscalls on the loop's thread; receive,
// send, read, write and fdatasync go through io_uring. No checksums, no rename, no
// directory fsync: a chunk's name is not made durable, its bytes are.
#include "store.h"
#include "loop.h"
#include "settings.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct store;

struct store_connection {
    struct transfer transfer;      // the one socket or file transfer in flight
    struct completion sync;        // fdatasync
    struct store *store;
    int fd;
    int file;
    bool in_use;
    struct wire_header request;
    struct wire_header reply;      // a reply without bytes (acknowledgements, errors)
    uint8_t *buffer;               // while an exchange holds one
};

struct store {
    struct loop loop;
    int listen_fd;
    int directory_fd;
    bool direct;                   // the directory's file system takes O_DIRECT
    struct completion accept;
    bool accept_armed;
    struct store_connection connections[STORE_CONNECTIONS_MAX];
    uint8_t *buffers[STORE_BUFFERS_MAX];
    size_t free_buffers;           // buffers[0..<free_buffers] are free
    // Connections waiting for a buffer, first come first served.
    struct store_connection *waiting[STORE_CONNECTIONS_MAX];
    size_t waiting_first, waiting_count;
};

static void receive_header(struct store_connection *connection);
static void exchange_with_buffer(struct store_connection *connection);

static size_t padded(size_t bytes) { return (bytes + DIRECT_ALIGN_BYTES - 1) / DIRECT_ALIGN_BYTES * DIRECT_ALIGN_BYTES; }
static uint8_t *chunk_area(uint8_t *buffer) { return buffer + BUFFER_PREFIX_BYTES; }

static void chunk_name(const struct wire_header *header, char *name, size_t size) {
    snprintf(name, size, "%016" PRIx64 "-%08" PRIx32, header->object_id, header->chunk_index);
}

// MARK: - Buffers

static void release_buffer(struct store_connection *connection) {
    struct store *store = connection->store;
    if (!connection->buffer) return;
    if (store->waiting_count > 0) {
        // Straight to the first waiter: the queue is fair and no buffer sits idle.
        struct store_connection *next = store->waiting[store->waiting_first];
        store->waiting_first = (store->waiting_first + 1) % STORE_CONNECTIONS_MAX;
        store->waiting_count--;
        next->buffer = connection->buffer;
        connection->buffer = NULL;
        exchange_with_buffer(next);
        return;
    }
    store->buffers[store->free_buffers++] = connection->buffer;
    connection->buffer = NULL;
}

static void acquire_buffer(struct store_connection *connection) {
    struct store *store = connection->store;
    if (store->free_buffers > 0) {
        connection->buffer = store->buffers[--store->free_buffers];
        exchange_with_buffer(connection);
        return;
    }
    // Bounded: a connection waits at most once, and there are STORE_CONNECTIONS_MAX of them.
    size_t slot = (store->waiting_first + store->waiting_count) % STORE_CONNECTIONS_MAX;
    store->waiting[slot] = connection;
    store->waiting_count++;
}

// MARK: - Connections

static void arm_accept(struct store *store);

static void close_connection(struct store_connection *connection) {
    if (connection->file >= 0) close(connection->file);
    connection->file = -1;
    release_buffer(connection);
    close(connection->fd);
    connection->in_use = false;
    if (!connection->store->accept_armed) arm_accept(connection->store);
}

static void reply_sent(struct loop *loop, struct transfer *transfer, int result) {
    (void)loop;
    struct store_connection *connection = (struct store_connection *)transfer;
    release_buffer(connection);
    if (result != 0) {
        close_connection(connection);
        return;
    }
    receive_header(connection);
}

/// A reply without bytes: the acknowledgement of a PUT, or an error (`status`, an errno).
static void send_status(struct store_connection *connection, uint16_t op, int status) {
    if (connection->file >= 0) close(connection->file);
    connection->file = -1;
    connection->reply = (struct wire_header){
        .magic = WIRE_MAGIC, .op = op, .status = (uint16_t)status,
        .chunk_index = connection->request.chunk_index, .object_id = connection->request.object_id,
    };
    transfer_start(&connection->store->loop, &connection->transfer, TRANSFER_SEND, connection->fd, &connection->reply,
                   sizeof connection->reply, reply_sent);
}

// MARK: - PUT: receive, write, fdatasync, acknowledge

static void put_synced(struct loop *loop, struct completion *completion, int result) {
    struct store_connection *connection = (struct store_connection *)((uint8_t *)completion - offsetof(struct store_connection, sync));
    if (result == -EINTR || result == -EAGAIN) {
        io_uring_prep_fsync(loop_sqe(loop, &connection->sync), connection->file, IORING_FSYNC_DATASYNC);
        return;
    }
    send_status(connection, WIRE_PUT_DONE, result < 0 ? -result : 0);
}

static void put_written(struct loop *loop, struct transfer *transfer, int result) {
    struct store_connection *connection = (struct store_connection *)transfer;
    if (result != 0) {
        send_status(connection, WIRE_PUT_DONE, result < 0 ? -result : EIO);
        return;
    }
    size_t length = connection->request.length;
    if (padded(length) != length && ftruncate(connection->file, (off_t)length) != 0) {
        send_status(connection, WIRE_PUT_DONE, errno);
        return;
    }
    connection->sync.callback = put_synced;
    io_uring_prep_fsync(loop_sqe(loop, &connection->sync), connection->file, IORING_FSYNC_DATASYNC);
}

static void put_received(struct loop *loop, struct transfer *transfer, int result) {
    struct store_connection *connection = (struct store_connection *)transfer;
    struct store *store = connection->store;
    if (result != 0) {
        close_connection(connection);
        return;
    }
    char name[64];
    chunk_name(&connection->request, name, sizeof name);
    int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (store->direct ? O_DIRECT : 0);
    connection->file = openat(store->directory_fd, name, flags, 0644);
    if (connection->file < 0) {
        send_status(connection, WIRE_PUT_DONE, errno);
        return;
    }
    size_t length = connection->request.length;
    uint8_t *chunk = chunk_area(connection->buffer);
    memset(chunk + length, 0, padded(length) - length);
    transfer_start_file(loop, &connection->transfer, TRANSFER_WRITE, connection->file, chunk, padded(length), padded(length),
                        store->direct, put_written);
}

// MARK: - GET: read, send

static void get_read(struct loop *loop, struct transfer *transfer, int result) {
    struct store_connection *connection = (struct store_connection *)transfer;
    if (result != 0) {
        send_status(connection, WIRE_GET_DATA, result < 0 ? -result : EIO);  // EOF: the file is shorter
        return;
    }
    close(connection->file);
    connection->file = -1;
    struct wire_header *header = (struct wire_header *)(chunk_area(connection->buffer) - sizeof *header);
    *header = (struct wire_header){
        .magic = WIRE_MAGIC, .op = WIRE_GET_DATA, .length = connection->request.length,
        .chunk_index = connection->request.chunk_index, .object_id = connection->request.object_id,
    };
    transfer_start(loop, &connection->transfer, TRANSFER_SEND, connection->fd, header,
                   sizeof *header + connection->request.length, reply_sent);
}

static void get_open(struct store_connection *connection) {
    struct store *store = connection->store;
    char name[64];
    chunk_name(&connection->request, name, sizeof name);
    connection->file = openat(store->directory_fd, name, O_RDONLY | O_CLOEXEC | (store->direct ? O_DIRECT : 0));
    if (connection->file < 0) {
        send_status(connection, WIRE_GET_DATA, errno);
        return;
    }
    size_t length = connection->request.length;
    transfer_start_file(&store->loop, &connection->transfer, TRANSFER_READ, connection->file, chunk_area(connection->buffer),
                        padded(length), length, store->direct, get_read);
}

// MARK: - Headers

static void exchange_with_buffer(struct store_connection *connection) {
    if (connection->request.op == WIRE_PUT) {
        transfer_start(&connection->store->loop, &connection->transfer, TRANSFER_RECV, connection->fd,
                       chunk_area(connection->buffer), connection->request.length, put_received);
    } else {
        get_open(connection);
    }
}

static void header_received(struct loop *loop, struct transfer *transfer, int result) {
    (void)loop;
    struct store_connection *connection = (struct store_connection *)transfer;
    const struct wire_header *request = &connection->request;
    bool valid = request->magic == WIRE_MAGIC && (request->op == WIRE_PUT || request->op == WIRE_GET)
        && request->length <= CHUNK_BYTES;
    if (result != 0 || !valid) {
        // The relay closing an idle connection ends here too (EOF before a header).
        if (result == 0) fprintf(stderr, "flare-pipeline store: bad header (op %u, length %u); closing\n", request->op, request->length);
        close_connection(connection);
        return;
    }
    acquire_buffer(connection);
}

static void receive_header(struct store_connection *connection) {
    transfer_start(&connection->store->loop, &connection->transfer, TRANSFER_RECV, connection->fd, &connection->request,
                   sizeof connection->request, header_received);
}

// MARK: - Accepting

static void accepted(struct loop *loop, struct completion *completion, int result) {
    (void)loop;
    struct store *store = (struct store *)((uint8_t *)completion - offsetof(struct store, accept));
    store->accept_armed = false;
    if (result >= 0) {
        struct store_connection *connection = NULL;
        for (size_t i = 0; i < STORE_CONNECTIONS_MAX && !connection; i++) {
            if (!store->connections[i].in_use) connection = &store->connections[i];
        }
        // arm_accept only runs with a connection free, so there is one.
        memset(connection, 0, sizeof *connection);
        connection->store = store;
        connection->fd = result;
        connection->file = -1;
        connection->in_use = true;
        receive_header(connection);
    } else if (result != -EINTR && result != -EAGAIN && result != -ECONNABORTED) {
        fprintf(stderr, "flare-pipeline store: accept: %s\n", strerror(-result));
    }
    arm_accept(store);
}

static void arm_accept(struct store *store) {
    size_t busy = 0;
    for (size_t i = 0; i < STORE_CONNECTIONS_MAX; i++) busy += store->connections[i].in_use;
    if (busy == STORE_CONNECTIONS_MAX) return;  // the next close re-arms it
    store->accept.callback = accepted;
    io_uring_prep_accept(loop_sqe(&store->loop, &store->accept), store->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    store->accept_armed = true;
}

/// Whether `directory` takes O_DIRECT files (tmpfs does not).
static bool probe_direct(int directory_fd) {
    int file = openat(directory_fd, ".flare-pipeline-probe", O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644);
    if (file < 0) return false;
    close(file);
    unlinkat(directory_fd, ".flare-pipeline-probe", 0);
    return true;
}

int store_main(uint16_t port, const char *directory) {
    static struct store store;  // large (connections and queues): not on the stack
    if (mkdir(directory, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "flare-pipeline store: cannot create %s: %s\n", directory, strerror(errno));
        return 1;
    }
    store.directory_fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (store.directory_fd < 0) {
        fprintf(stderr, "flare-pipeline store: cannot open %s: %s\n", directory, strerror(errno));
        return 1;
    }
    store.direct = probe_direct(store.directory_fd);
    if (!store.direct) fprintf(stderr, "flare-pipeline store: %s does not take O_DIRECT; writing through the page cache\n", directory);
    uint8_t *memory = allocate_chunk_buffers(STORE_BUFFERS_MAX);
    if (!memory) {
        fprintf(stderr, "flare-pipeline store: cannot allocate %u chunk buffers\n", STORE_BUFFERS_MAX);
        return 1;
    }
    for (size_t i = 0; i < STORE_BUFFERS_MAX; i++) store.buffers[i] = memory + i * chunk_buffer_stride();
    store.free_buffers = STORE_BUFFERS_MAX;
    int result = loop_init(&store.loop);
    if (result < 0) {
        fprintf(stderr, "flare-pipeline store: io_uring: %s\n", strerror(-result));
        return 1;
    }
    uint16_t bound = 0;
    store.listen_fd = listen_loopback(port, &bound);
    if (store.listen_fd < 0) {
        fprintf(stderr, "flare-pipeline store: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(-store.listen_fd));
        return 1;
    }
    arm_accept(&store);
    printf("flare-pipeline store listening on 127.0.0.1:%u, chunks in %s%s\n", bound, directory, store.direct ? " (O_DIRECT)" : "");
    fflush(stdout);
    result = loop_run(&store.loop);
    close(store.listen_fd);
    loop_exit(&store.loop);
    if (result < 0) {
        fprintf(stderr, "flare-pipeline store: io_uring_enter: %s\n", strerror(-result));
        return 1;
    }
    return 0;
}
