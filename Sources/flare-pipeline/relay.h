// `flare-pipeline relay`: the HTTP side for curl, the chunk windows, the exchanges with
// the stores. One client connection at a time per slot; every slot owns its buffers.
#ifndef FLARE_PIPELINE_RELAY_H
#define FLARE_PIPELINE_RELAY_H

#include "loop.h"
#include "settings.h"
#include "wire.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct client;

/// One chunk moving between the relay and a store: a window slot of a client.
struct exchange {
    struct completion connect;
    struct transfer transfer;
    struct client *client;
    bool busy;                    // an operation of this exchange is in flight
    bool ready;                   // GET: the chunk is in `buffer`, not yet sent to the client
    int fd;                       // the store connection while busy
    size_t store;
    uint32_t chunk;
    uint32_t length;
    uint8_t *buffer;              // BUFFER_PREFIX_BYTES, then the chunk
    struct wire_header request;   // a GET's request (a PUT's header goes in the buffer's prefix)
    struct wire_header reply;
};

enum client_phase { CLIENT_FREE, CLIENT_HEAD, CLIENT_PUT, CLIENT_GET };

struct client {
    struct completion head_received;
    struct transfer transfer;     // the one transfer on the client's socket
    struct relay *relay;
    enum client_phase phase;
    int fd;
    bool client_busy;             // `transfer` or the head receive is in flight
    bool receiving_body;          // …and it is a receive of the body (cancelled on failure)
    bool failed;
    bool response_started;
    char head[HEAD_BYTES_MAX];
    size_t head_bytes;
    char key[KEY_BYTES_MAX];
    size_t key_length;
    char response[256];
    uint64_t size_bytes;
    uint64_t object_id;
    uint32_t chunks;
    uint32_t next_chunk;          // PUT: the chunk being received; GET: the next to send
    size_t filled_bytes;          // PUT: of next_chunk
    uint32_t acknowledged_chunks; // PUT
    uint32_t next_fetch;          // GET
    bool head_sent;               // GET
    uint32_t exchanges_busy;
    struct exchange exchanges[WINDOW_CHUNKS_MAX];
};

struct store_peer {
    struct sockaddr_in address;
    int idle[RELAY_IDLE_CONNECTIONS_MAX];
    size_t idle_count;
};

struct relay {
    struct loop loop;
    int listen_fd;
    struct completion accept;
    bool accept_armed;
    struct store_peer stores[RELAY_STORES_MAX];
    size_t store_count;
    uint64_t next_object_id;
    struct client clients[RELAY_CLIENTS_MAX];
};

/// Serves curl on 127.0.0.1:`port`, chunks on `stores`, until SIGINT/SIGTERM.
int relay_main(uint16_t port, const struct sockaddr_in *stores, size_t store_count);

/// Starts the exchange for chunk `exchange->chunk` (`length` bytes in `buffer` for a PUT,
/// into `buffer` for a GET) with store chunk % stores; ends in `exchange_finished`.
void exchange_start(struct relay *relay, struct exchange *exchange, bool put);
/// The end of an exchange: `error` is 0 or an errno. Defined by the client side.
void exchange_finished(struct relay *relay, struct exchange *exchange, int error);

#endif
