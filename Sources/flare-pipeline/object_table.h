// The relay's names: key → (size, object id), in memory only, gone when the relay stops.
#ifndef FLARE_PIPELINE_OBJECT_TABLE_H
#define FLARE_PIPELINE_OBJECT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct object_entry {
    struct object_entry *next;
    uint64_t size_bytes;
    uint64_t object_id;   // the chunks of this object are (object_id, 0…) on the stores
    size_t key_length;
    char key[];
};

/// The object stored under `key`, or NULL.
const struct object_entry *object_find(const char *key, size_t key_length);
/// Records (or replaces) `key`; false when OBJECTS_MAX names are taken or memory ran out.
/// A replaced object's chunks stay on the stores (nothing is deleted).
bool object_record(const char *key, size_t key_length, uint64_t size_bytes, uint64_t object_id);

#endif
