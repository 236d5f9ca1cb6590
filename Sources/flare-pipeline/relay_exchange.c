// The relay's side of the wire protocol (wire.h): one chunk to or from one store, over a
// connection taken from that store's idle list (or a new one), given back afterwards.
#include "relay.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint8_t *chunk_area(uint8_t *buffer) { return buffer + BUFFER_PREFIX_BYTES; }

static struct relay *relay_of(struct exchange *exchange) { return exchange->client->relay; }

/// The exchange is over: its connection goes back to the idle list when it is clean
/// (error 0), and is closed otherwise.
static void finish(struct exchange *exchange, int error) {
    struct store_peer *store = &relay_of(exchange)->stores[exchange->store];
    if (error == 0 && store->idle_count < RELAY_IDLE_CONNECTIONS_MAX) {
        store->idle[store->idle_count++] = exchange->fd;
    } else {
        close(exchange->fd);
    }
    exchange->fd = -1;
    exchange_finished(relay_of(exchange), exchange, error);
}

static int transfer_error(int result) { return result < 0 ? -result : ECONNRESET; }

// MARK: - PUT: header and chunk in one send, then the acknowledgement

static void put_acknowledged(struct loop *loop, struct transfer *transfer, int result) {
    (void)loop;
    struct exchange *exchange = (struct exchange *)((uint8_t *)transfer - offsetof(struct exchange, transfer));
    if (result != 0) {
        finish(exchange, transfer_error(result));
        return;
    }
    const struct wire_header *reply = &exchange->reply;
    bool matches = reply->magic == WIRE_MAGIC && reply->op == WIRE_PUT_DONE && reply->chunk_index == exchange->chunk;
    finish(exchange, !matches ? EPROTO : reply->status);
}

static void put_sent(struct loop *loop, struct transfer *transfer, int result) {
    struct exchange *exchange = (struct exchange *)((uint8_t *)transfer - offsetof(struct exchange, transfer));
    if (result != 0) {
        finish(exchange, transfer_error(result));
        return;
    }
    transfer_start(loop, &exchange->transfer, TRANSFER_RECV, exchange->fd, &exchange->reply, sizeof exchange->reply,
                   put_acknowledged);
}

// MARK: - GET: the request, the reply's header, the chunk

static void get_received(struct loop *loop, struct transfer *transfer, int result) {
    (void)loop;
    struct exchange *exchange = (struct exchange *)((uint8_t *)transfer - offsetof(struct exchange, transfer));
    finish(exchange, result == 0 ? 0 : transfer_error(result));
}

static void get_replied(struct loop *loop, struct transfer *transfer, int result) {
    struct exchange *exchange = (struct exchange *)((uint8_t *)transfer - offsetof(struct exchange, transfer));
    if (result != 0) {
        finish(exchange, transfer_error(result));
        return;
    }
    const struct wire_header *reply = &exchange->reply;
    if (reply->magic != WIRE_MAGIC || reply->op != WIRE_GET_DATA || reply->chunk_index != exchange->chunk) {
        finish(exchange, EPROTO);
        return;
    }
    if (reply->status != 0 || reply->length != exchange->length) {
        finish(exchange, reply->status != 0 ? reply->status : EPROTO);
        return;
    }
    transfer_start(loop, &exchange->transfer, TRANSFER_RECV, exchange->fd, chunk_area(exchange->buffer), exchange->length,
                   get_received);
}

static void get_requested(struct loop *loop, struct transfer *transfer, int result) {
    struct exchange *exchange = (struct exchange *)((uint8_t *)transfer - offsetof(struct exchange, transfer));
    if (result != 0) {
        finish(exchange, transfer_error(result));
        return;
    }
    transfer_start(loop, &exchange->transfer, TRANSFER_RECV, exchange->fd, &exchange->reply, sizeof exchange->reply,
                   get_replied);
}

// MARK: - Starting

static void begin(struct exchange *exchange, bool put) {
    struct loop *loop = &relay_of(exchange)->loop;
    struct wire_header header = {
        .magic = WIRE_MAGIC, .op = put ? WIRE_PUT : WIRE_GET, .length = exchange->length,
        .chunk_index = exchange->chunk, .object_id = exchange->client->object_id,
    };
    if (put) {
        uint8_t *at = chunk_area(exchange->buffer) - sizeof header;
        memcpy(at, &header, sizeof header);
        transfer_start(loop, &exchange->transfer, TRANSFER_SEND, exchange->fd, at, sizeof header + exchange->length, put_sent);
    } else {
        exchange->request = header;
        transfer_start(loop, &exchange->transfer, TRANSFER_SEND, exchange->fd, &exchange->request, sizeof header,
                       get_requested);
    }
}

static void connected_put(struct loop *loop, struct completion *completion, int result);
static void connected_get(struct loop *loop, struct completion *completion, int result);

static void connected(struct exchange *exchange, int result, bool put) {
    if (result < 0) {
        finish(exchange, -result);
        return;
    }
    begin(exchange, put);
}

static void connected_put(struct loop *loop, struct completion *completion, int result) {
    (void)loop;
    connected((struct exchange *)((uint8_t *)completion - offsetof(struct exchange, connect)), result, true);
}

static void connected_get(struct loop *loop, struct completion *completion, int result) {
    (void)loop;
    connected((struct exchange *)((uint8_t *)completion - offsetof(struct exchange, connect)), result, false);
}

void exchange_start(struct relay *relay, struct exchange *exchange, bool put) {
    exchange->store = exchange->chunk % relay->store_count;
    struct store_peer *store = &relay->stores[exchange->store];
    if (store->idle_count > 0) {
        exchange->fd = store->idle[--store->idle_count];
        begin(exchange, put);
        return;
    }
    exchange->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (exchange->fd < 0) {
        int error = errno;
        exchange_finished(relay, exchange, error);
        return;
    }
    // Headers and acknowledgements are small: no waiting for Nagle.
    int on = 1;
    setsockopt(exchange->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    exchange->connect.callback = put ? connected_put : connected_get;
    io_uring_prep_connect(loop_sqe(&relay->loop, &exchange->connect), exchange->fd, (struct sockaddr *)&store->address,
                          sizeof store->address);
}
