// The relay's client side: the HTTP request, then the PUT window (receive a chunk, hand it
// to its store, up to WINDOW_CHUNKS_MAX chunks in flight, 201 once all are durable) or the
// GET window (up to WINDOW_CHUNKS_MAX chunks fetched ahead, written to the client strictly
// in order). Chunk i uses window slot i % WINDOW_CHUNKS_MAX and goes to store i % N.
#include "relay.h"
#include "http_head.h"
#include "object_table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void arm_accept(struct relay *relay);
static void put_pump(struct client *client);
static void get_pump(struct client *client);

static uint8_t *chunk_area(uint8_t *buffer) { return buffer + BUFFER_PREFIX_BYTES; }

static struct client *client_of_transfer(struct transfer *transfer) {
    return (struct client *)((uint8_t *)transfer - offsetof(struct client, transfer));
}

static uint32_t chunk_length(const struct client *client, uint32_t chunk) {
    uint64_t start = (uint64_t)chunk * CHUNK_BYTES;
    uint64_t left = client->size_bytes - start;
    return left < CHUNK_BYTES ? (uint32_t)left : CHUNK_BYTES;
}

// MARK: - Ending a client

static void client_close(struct client *client) {
    close(client->fd);
    client->fd = -1;
    client->phase = CLIENT_FREE;
    if (!client->relay->accept_armed) arm_accept(client->relay);
}

static void final_response_sent(struct loop *loop, struct transfer *transfer, int result) {
    (void)loop;
    (void)result;
    struct client *client = client_of_transfer(transfer);
    client->client_busy = false;
    client_close(client);
}

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 502: return "Bad Gateway";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Error";
    }
}

/// Sends the head of a response with `content_length` bytes to follow; `sent` runs after.
static void send_head(struct client *client, int status, uint64_t content_length, transfer_fn sent) {
    int length = snprintf(client->response, sizeof client->response,
                          "HTTP/1.1 %d %s\r\nContent-Length: %" PRIu64 "\r\n%sConnection: close\r\n\r\n", status, reason(status),
                          content_length, status == 200 ? "Content-Type: application/octet-stream\r\n" : "");
    client->response_started = true;
    client->client_busy = true;
    transfer_start(&client->relay->loop, &client->transfer, TRANSFER_SEND, client->fd, client->response, (size_t)length, sent);
}

/// A response without a body, then the connection is closed (one request per connection).
static void respond(struct client *client, int status) {
    send_head(client, status, 0, final_response_sent);
}

/// After a failure: once nothing is in flight any more, a 502 if no response was started,
/// else the connection is just closed (the client sees a short body).
static void client_settle(struct client *client) {
    if (client->client_busy || client->exchanges_busy > 0) return;
    if (!client->response_started) {
        respond(client, 502);
    } else {
        client_close(client);
    }
}

static void client_fail(struct client *client) {
    client->failed = true;
    // A body receive may wait for bytes that will never come: cancel it; its completion
    // (and the buffer it holds) still arrives before the slot is released.
    if (client->client_busy && client->receiving_body) loop_cancel(&client->relay->loop, &client->transfer.completion);
    client_settle(client);
}

void exchange_finished(struct relay *relay, struct exchange *exchange, int error) {
    (void)relay;
    struct client *client = exchange->client;
    exchange->busy = false;
    client->exchanges_busy--;
    if (error != 0) {
        fprintf(stderr, "flare-pipeline relay: chunk %u of object %" PRIu64 " with store %zu: %s\n", exchange->chunk,
                client->object_id, exchange->store, strerror(error));
        client_fail(client);
        return;
    }
    if (client->phase == CLIENT_PUT) {
        client->acknowledged_chunks++;
        put_pump(client);
    } else {
        exchange->ready = true;
        get_pump(client);
    }
}

static void start_exchange(struct client *client, uint32_t chunk, bool put) {
    struct exchange *exchange = &client->exchanges[chunk % WINDOW_CHUNKS_MAX];
    exchange->chunk = chunk;
    exchange->length = chunk_length(client, chunk);
    exchange->busy = true;
    exchange->ready = false;
    client->exchanges_busy++;
    exchange_start(client->relay, exchange, put);
}

// MARK: - PUT

static void body_received(struct loop *loop, struct transfer *transfer, int result) {
    (void)loop;
    struct client *client = client_of_transfer(transfer);
    client->client_busy = false;
    client->receiving_body = false;
    if (result != 0) {
        client_fail(client);  // the client went away (or the receive was cancelled)
        return;
    }
    client->filled_bytes += transfer->done;
    put_pump(client);
}

/// Moves the PUT on as far as it can: chunks whose bytes are all in go to their store;
/// the next chunk is received once its window slot is free; 201 when every chunk is durable.
static void put_pump(struct client *client) {
    if (client->failed) {
        client_settle(client);
        return;
    }
    while (client->next_chunk < client->chunks && !client->failed) {  // an exchange can fail as it starts
        struct exchange *exchange = &client->exchanges[client->next_chunk % WINDOW_CHUNKS_MAX];
        if (exchange->busy) return;  // chunk next_chunk - WINDOW_CHUNKS_MAX is not acknowledged yet
        uint32_t length = chunk_length(client, client->next_chunk);
        if (client->filled_bytes == length) {
            start_exchange(client, client->next_chunk, true);
            client->next_chunk++;
            client->filled_bytes = 0;
            continue;
        }
        if (client->client_busy) return;
        client->client_busy = true;
        client->receiving_body = true;
        transfer_start(&client->relay->loop, &client->transfer, TRANSFER_RECV, client->fd,
                       chunk_area(exchange->buffer) + client->filled_bytes, length - client->filled_bytes, body_received);
        return;
    }
    if (client->failed || client->acknowledged_chunks < client->chunks || client->client_busy) return;
    if (!object_record(client->key, client->key_length, client->size_bytes, client->object_id)) {
        respond(client, 507);
        return;
    }
    respond(client, 201);
}

static void continue_sent(struct loop *loop, struct transfer *transfer, int result) {
    (void)loop;
    struct client *client = client_of_transfer(transfer);
    client->client_busy = false;
    if (result != 0) {
        client_fail(client);
        return;
    }
    put_pump(client);
}

static void put_begin(struct client *client, const struct http_request *request, size_t head_length) {
    client->phase = CLIENT_PUT;
    client->size_bytes = request->content_length;
    client->chunks = (uint32_t)((client->size_bytes + CHUNK_BYTES - 1) / CHUNK_BYTES);
    client->object_id = ++client->relay->next_object_id;
    // Body bytes that came with the head (a client that did not wait for 100 Continue):
    // fewer than HEAD_BYTES_MAX, so all in chunk 0.
    size_t early = client->head_bytes - head_length;
    if (early > client->size_bytes) early = (size_t)client->size_bytes;
    memcpy(chunk_area(client->exchanges[0].buffer), client->head + head_length, early);
    client->filled_bytes = early;
    if (request->expect_continue && early == 0 && client->size_bytes > 0) {
        static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";
        memcpy(client->response, interim, sizeof interim - 1);
        client->client_busy = true;
        transfer_start(&client->relay->loop, &client->transfer, TRANSFER_SEND, client->fd, client->response,
                       sizeof interim - 1, continue_sent);
        return;
    }
    put_pump(client);
}

// MARK: - GET

/// Fetches ahead: chunks next_chunk … next_chunk + WINDOW_CHUNKS_MAX - 1.
static void get_fill(struct client *client) {
    while (!client->failed && client->next_fetch < client->chunks
           && client->next_fetch < client->next_chunk + WINDOW_CHUNKS_MAX) {
        start_exchange(client, client->next_fetch, false);
        client->next_fetch++;
    }
}

static void get_chunk_sent(struct loop *loop, struct transfer *transfer, int result) {
    (void)loop;
    struct client *client = client_of_transfer(transfer);
    client->client_busy = false;
    if (result != 0) {
        client_fail(client);
        return;
    }
    client->exchanges[client->next_chunk % WINDOW_CHUNKS_MAX].ready = false;
    client->next_chunk++;
    get_fill(client);
    get_pump(client);
}

/// Writes the next chunk in order once it is in; closes after the last.
static void get_pump(struct client *client) {
    if (client->failed) {
        client_settle(client);
        return;
    }
    if (client->client_busy || !client->head_sent) return;
    if (client->next_chunk == client->chunks) {
        client_close(client);
        return;
    }
    struct exchange *exchange = &client->exchanges[client->next_chunk % WINDOW_CHUNKS_MAX];
    if (!exchange->ready) return;
    client->client_busy = true;
    transfer_start(&client->relay->loop, &client->transfer, TRANSFER_SEND, client->fd, chunk_area(exchange->buffer),
                   exchange->length, get_chunk_sent);
}

static void get_head_sent(struct loop *loop, struct transfer *transfer, int result) {
    (void)loop;
    struct client *client = client_of_transfer(transfer);
    client->client_busy = false;
    if (result != 0) {
        client_fail(client);
        return;
    }
    client->head_sent = true;
    get_pump(client);
}

static void get_begin(struct client *client) {
    const struct object_entry *object = object_find(client->key, client->key_length);
    if (!object) {
        respond(client, 404);
        return;
    }
    client->phase = CLIENT_GET;
    client->size_bytes = object->size_bytes;
    client->object_id = object->object_id;
    client->chunks = (uint32_t)((client->size_bytes + CHUNK_BYTES - 1) / CHUNK_BYTES);
    send_head(client, 200, client->size_bytes, get_head_sent);
    get_fill(client);
}

// MARK: - The request head

static void head_arrived(struct loop *loop, struct completion *completion, int result);

static void receive_head(struct client *client) {
    client->client_busy = true;
    client->head_received.callback = head_arrived;
    io_uring_prep_recv(loop_sqe(&client->relay->loop, &client->head_received), client->fd, client->head + client->head_bytes,
                       HEAD_BYTES_MAX - client->head_bytes, 0);
}

static void head_complete(struct client *client, size_t head_length) {
    struct http_request request;
    int status = http_parse_request(client->head, head_length, &request);
    if (status != 0) {
        respond(client, status);
        return;
    }
    if (request.method == HTTP_OTHER) {
        respond(client, 405);
        return;
    }
    if (request.target_length > KEY_BYTES_MAX) {
        respond(client, 414);
        return;
    }
    memcpy(client->key, request.target, request.target_length);
    client->key_length = request.target_length;
    if (request.method == HTTP_GET) {
        get_begin(client);
        return;
    }
    if (!request.has_content_length || request.has_transfer_encoding) {
        respond(client, 411);  // no chunked bodies: curl -T of a file sends Content-Length
        return;
    }
    if ((request.content_length + CHUNK_BYTES - 1) / CHUNK_BYTES > UINT32_MAX) {
        respond(client, 413);
        return;
    }
    put_begin(client, &request, head_length);
}

static void head_arrived(struct loop *loop, struct completion *completion, int result) {
    (void)loop;
    struct client *client = (struct client *)((uint8_t *)completion - offsetof(struct client, head_received));
    client->client_busy = false;
    if (result == -EINTR || result == -EAGAIN) {
        receive_head(client);
        return;
    }
    if (result <= 0) {
        client_close(client);  // gone before a request
        return;
    }
    client->head_bytes += (size_t)result;
    size_t head_length = http_head_length(client->head, client->head_bytes);
    if (head_length > 0) {
        head_complete(client, head_length);
    } else if (client->head_bytes == HEAD_BYTES_MAX) {
        respond(client, 431);
    } else {
        receive_head(client);
    }
}

// MARK: - Accepting

static struct client *free_client(struct relay *relay) {
    for (size_t i = 0; i < RELAY_CLIENTS_MAX; i++) {
        if (relay->clients[i].phase == CLIENT_FREE) return &relay->clients[i];
    }
    return NULL;
}

static void accepted(struct loop *loop, struct completion *completion, int result) {
    (void)loop;
    struct relay *relay = (struct relay *)((uint8_t *)completion - offsetof(struct relay, accept));
    relay->accept_armed = false;
    if (result >= 0) {
        struct client *client = free_client(relay);  // arm_accept runs only with one free
        client->fd = result;
        client->phase = CLIENT_HEAD;
        client->client_busy = client->receiving_body = client->failed = client->response_started = false;
        client->head_bytes = client->key_length = client->filled_bytes = 0;
        client->size_bytes = client->object_id = 0;
        client->chunks = client->next_chunk = client->acknowledged_chunks = client->next_fetch = client->exchanges_busy = 0;
        client->head_sent = false;
        for (size_t i = 0; i < WINDOW_CHUNKS_MAX; i++) client->exchanges[i].busy = client->exchanges[i].ready = false;
        receive_head(client);
    } else if (result != -EINTR && result != -EAGAIN && result != -ECONNABORTED) {
        fprintf(stderr, "flare-pipeline relay: accept: %s\n", strerror(-result));
    }
    arm_accept(relay);
}

static void arm_accept(struct relay *relay) {
    // More clients than slots wait in the listen backlog; a slot closing re-arms this.
    if (relay->accept_armed || !free_client(relay)) return;
    relay->accept.callback = accepted;
    io_uring_prep_accept(loop_sqe(&relay->loop, &relay->accept), relay->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    relay->accept_armed = true;
}

int relay_main(uint16_t port, const struct sockaddr_in *stores, size_t store_count) {
    static struct relay relay;  // large (clients with their heads): not on the stack
    relay.store_count = store_count;
    for (size_t i = 0; i < store_count; i++) relay.stores[i].address = stores[i];
    uint8_t *memory = allocate_chunk_buffers(RELAY_CLIENTS_MAX * WINDOW_CHUNKS_MAX);
    if (!memory) {
        fprintf(stderr, "flare-pipeline relay: cannot allocate %u chunk buffers\n", RELAY_CLIENTS_MAX * WINDOW_CHUNKS_MAX);
        return 1;
    }
    for (size_t i = 0; i < RELAY_CLIENTS_MAX; i++) {
        struct client *client = &relay.clients[i];
        client->relay = &relay;
        client->fd = -1;
        for (size_t slot = 0; slot < WINDOW_CHUNKS_MAX; slot++) {
            client->exchanges[slot].client = client;
            client->exchanges[slot].fd = -1;
            client->exchanges[slot].buffer = memory + (i * WINDOW_CHUNKS_MAX + slot) * chunk_buffer_stride();
        }
    }
    int result = loop_init(&relay.loop);
    if (result < 0) {
        fprintf(stderr, "flare-pipeline relay: io_uring: %s\n", strerror(-result));
        return 1;
    }
    uint16_t bound = 0;
    relay.listen_fd = listen_loopback(port, &bound);
    if (relay.listen_fd < 0) {
        fprintf(stderr, "flare-pipeline relay: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(-relay.listen_fd));
        return 1;
    }
    arm_accept(&relay);
    printf("flare-pipeline relay listening on 127.0.0.1:%u, %zu stores\n", bound, store_count);
    fflush(stdout);
    result = loop_run(&relay.loop);
    close(relay.listen_fd);
    loop_exit(&relay.loop);
    if (result < 0) {
        fprintf(stderr, "flare-pipeline relay: io_uring_enter: %s\n", strerror(-result));
        return 1;
    }
    return 0;
}
