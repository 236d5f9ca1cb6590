// The relay ↔ store protocol: one fixed 32-byte header, then `length` bytes (a chunk),
// over a TCP connection both sides keep open for the next exchange. No HTTP, no
// checksums. Host byte order: both ends run on the same machine.
//
//   relay → store   WIRE_PUT       length = chunk bytes, the chunk follows
//   store → relay   WIRE_PUT_DONE  length = 0, sent after the chunk is fdatasync'ed
//   relay → store   WIRE_GET       length = chunk bytes expected, nothing follows
//   store → relay   WIRE_GET_DATA  length = chunk bytes, the chunk follows
//
// A reply with status != 0 (an errno) carries no bytes.
#ifndef FLARE_PIPELINE_WIRE_H
#define FLARE_PIPELINE_WIRE_H

#include <stdint.h>

#define WIRE_MAGIC 0x4c50464cu  // "LFPL"

enum wire_op {
    WIRE_PUT = 1,
    WIRE_PUT_DONE = 2,
    WIRE_GET = 3,
    WIRE_GET_DATA = 4,
};

struct wire_header {
    uint32_t magic;
    uint16_t op;
    uint16_t status;
    uint32_t length;
    uint32_t chunk_index;
    uint64_t object_id;
    uint64_t reserved;
};

_Static_assert(sizeof(struct wire_header) == 32, "the wire header is 32 bytes");

#endif
