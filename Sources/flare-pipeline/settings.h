// The limits of flare-pipeline, in one place. Every queue and buffer has one; units last.
#ifndef FLARE_PIPELINE_SETTINGS_H
#define FLARE_PIPELINE_SETTINGS_H

// Flare's defaults: 4 MiB chunks, a window of 8 chunks in flight per request.
#define CHUNK_BYTES (4u << 20)
#define WINDOW_CHUNKS_MAX 8

// O_DIRECT wants offsets, lengths and buffers aligned to the logical block.
#define DIRECT_ALIGN_BYTES 4096u
// Room in front of every chunk buffer for the wire header, so header and chunk leave in
// one send; the chunk itself starts DIRECT_ALIGN_BYTES in.
#define BUFFER_PREFIX_BYTES DIRECT_ALIGN_BYTES
// Buffers are carved from one block on transparent huge pages: the disk then gets a few
// physically contiguous pieces per chunk instead of hundreds of 4 KiB pages.
#define HUGE_PAGE_BYTES (2u << 20)

// The relay: at most this many client connections at once (more wait in the listen
// backlog), each with WINDOW_CHUNKS_MAX chunk buffers of its own.
#define RELAY_CLIENTS_MAX 4
#define RELAY_STORES_MAX 16
// Idle connections kept open to each store for the next chunk.
#define RELAY_IDLE_CONNECTIONS_MAX 16
#define HEAD_BYTES_MAX 16384
#define KEY_BYTES_MAX 1024
#define OBJECTS_MAX (1u << 20)
#define OBJECT_TABLE_BUCKETS 4096

// A store: connections served at once, chunk buffers shared by them (a connection waits
// for one in a queue when all are busy).
#define STORE_CONNECTIONS_MAX 64
#define STORE_BUFFERS_MAX 16

#define RING_ENTRIES 256
#define CQE_BATCH_MAX 64
#define LISTEN_BACKLOG 128

#endif
