#include "object_table.h"
#include "settings.h"

#include <stdlib.h>
#include <string.h>

static struct object_entry *buckets[OBJECT_TABLE_BUCKETS];
static size_t object_count;

static size_t bucket_of(const char *key, size_t key_length) {
    uint64_t hash = 14695981039346656037ull;  // FNV-1a
    for (size_t i = 0; i < key_length; i++) hash = (hash ^ (uint8_t)key[i]) * 1099511628211ull;
    return (size_t)(hash % OBJECT_TABLE_BUCKETS);
}

static struct object_entry *lookup(const char *key, size_t key_length) {
    for (struct object_entry *entry = buckets[bucket_of(key, key_length)]; entry; entry = entry->next) {
        if (entry->key_length == key_length && memcmp(entry->key, key, key_length) == 0) return entry;
    }
    return NULL;
}

const struct object_entry *object_find(const char *key, size_t key_length) {
    return lookup(key, key_length);
}

bool object_record(const char *key, size_t key_length, uint64_t size_bytes, uint64_t object_id) {
    struct object_entry *entry = lookup(key, key_length);
    if (!entry) {
        if (object_count >= OBJECTS_MAX) return false;
        entry = malloc(sizeof *entry + key_length);
        if (!entry) return false;
        memcpy(entry->key, key, key_length);
        entry->key_length = key_length;
        size_t bucket = bucket_of(key, key_length);
        entry->next = buckets[bucket];
        buckets[bucket] = entry;
        object_count++;
    }
    entry->size_bytes = size_bytes;
    entry->object_id = object_id;
    return true;
}
