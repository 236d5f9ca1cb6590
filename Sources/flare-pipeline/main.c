// flare-pipeline: a yardstick for flare-bench, not product code.
//
// It is the simplest program of Flare's shape that moves the bytes: curl → relay → stores
// over loopback, so flare-bench can show how far Flare is from what a pipeline of that
// shape does on the same machine in the same run (issue 13 measured one at 1679 MB/s PUT
// and 1691 MB/s GET, 512 MiB through curl, on this VM).
//
// What it does, like Flare: the relay takes `curl -T` uploads (HTTP/1.1, Content-Length,
// `Expect: 100-continue` answered at once), cuts them into 4 MiB chunks, keeps up to 8
// chunks in flight, sends chunk i to store i % N, and answers 201 only when every chunk is
// acknowledged durable; a GET fetches up to 8 chunks ahead into aligned buffers and writes
// them to the client strictly in order. A store writes each chunk to its own file with
// O_DIRECT (the tail block padded, then the file truncated to the chunk's length) and
// fdatasync before acknowledging; it reads chunks back with O_DIRECT. One thread and one
// io_uring per process; sockets and file data go through io_uring (recv, send, read,
// write, fsync), with buffers allocated and touched once at start, on huge pages.
//
// What it does not do: no HTTP between relay and store (a 32-byte binary header, wire.h),
// no checksums, no metadata store (names live in the relay's memory and die with it), no
// replicas, no keep-alive to the client (one request per connection), no chunked bodies,
// no ranges, no deletes (a replaced object's chunks stay on disk), no rename or directory
// fsync after a chunk write, no timeouts, no retries, no failover; its limits are fixed at
// build time (settings.h). Chunk files are opened, truncated and closed with plain syscalls.
#include "relay.h"
#include "settings.h"
#include "store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char *problem) {
    if (problem) fprintf(stderr, "flare-pipeline: %s\n", problem);
    fprintf(stderr,
            "usage: flare-pipeline store --port P --dir D\n"
            "       flare-pipeline relay --port P --stores 127.0.0.1:P1,127.0.0.1:P2,...\n"
            "\n"
            "A minimal relay + store of Flare's shape, a yardstick for flare-bench (not product code).\n"
            "Both listen on 127.0.0.1 (--port 0: any free port, printed at start) and stop on SIGINT or SIGTERM.\n"
            "  store  keeps 4 MiB chunks as files in D, written with O_DIRECT + fdatasync\n"
            "  relay  HTTP PUT/GET for curl; chunk i of an object goes to store i %% N, 8 chunks in flight\n");
    return 2;
}

static bool parse_port(const char *text, uint16_t *port) {
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 0 || value > 65535) return false;
    *port = (uint16_t)value;
    return true;
}

static bool parse_address(const char *text, size_t length, struct sockaddr_in *address) {
    char host[64];
    const char *colon = memchr(text, ':', length);
    if (!colon || (size_t)(colon - text) >= sizeof host) return false;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    char port_text[8];
    size_t port_length = length - (size_t)(colon + 1 - text);
    if (port_length == 0 || port_length >= sizeof port_text) return false;
    memcpy(port_text, colon + 1, port_length);
    port_text[port_length] = '\0';
    uint16_t port;
    if (!parse_port(port_text, &port) || port == 0) return false;
    memset(address, 0, sizeof *address);
    address->sin_family = AF_INET;
    address->sin_port = htons(port);
    return inet_pton(AF_INET, host, &address->sin_addr) == 1;
}

/// "127.0.0.1:P1,127.0.0.1:P2" → addresses; the count, or 0 when malformed.
static size_t parse_stores(const char *text, struct sockaddr_in *stores) {
    size_t count = 0;
    while (*text) {
        const char *comma = strchr(text, ',');
        size_t length = comma ? (size_t)(comma - text) : strlen(text);
        if (count == RELAY_STORES_MAX || !parse_address(text, length, &stores[count])) return 0;
        count++;
        if (!comma) break;
        text = comma + 1;
    }
    return count;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage(NULL);
    const char *mode = argv[1];
    bool is_store = strcmp(mode, "store") == 0, is_relay = strcmp(mode, "relay") == 0;
    if (!is_store && !is_relay) return usage(strcmp(mode, "--help") == 0 || strcmp(mode, "-h") == 0 ? NULL : "unknown mode");
    const char *port_text = NULL, *directory = NULL, *stores_text = NULL;
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) return usage("every option takes a value");
        if (strcmp(argv[i], "--port") == 0) {
            port_text = argv[i + 1];
        } else if (is_store && strcmp(argv[i], "--dir") == 0) {
            directory = argv[i + 1];
        } else if (is_relay && strcmp(argv[i], "--stores") == 0) {
            stores_text = argv[i + 1];
        } else {
            return usage("unknown option");
        }
    }
    uint16_t port;
    if (!port_text || !parse_port(port_text, &port)) return usage("--port P is required (0…65535)");
    if (is_store) {
        if (!directory || !*directory) return usage("--dir D is required");
        return store_main(port, directory);
    }
    static struct sockaddr_in stores[RELAY_STORES_MAX];
    size_t store_count = stores_text ? parse_stores(stores_text, stores) : 0;
    if (store_count == 0) return usage("--stores needs 1…16 addresses like 127.0.0.1:9001, comma-separated");
    return relay_main(port, stores, store_count);
}
