// Just enough HTTP/1.1 for curl: a request head parsed in place, no I/O.
#ifndef FLARE_PIPELINE_HTTP_HEAD_H
#define FLARE_PIPELINE_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_method { HTTP_OTHER, HTTP_GET, HTTP_PUT };

struct http_request {
    enum http_method method;
    const char *target;          // points into the head; the object's name
    size_t target_length;
    bool has_content_length;
    uint64_t content_length;
    bool expect_continue;        // `Expect: 100-continue`
    bool has_transfer_encoding;  // chunked bodies are not supported
};

/// The length of the head (through the blank line) at the start of `bytes`, or 0 while
/// it is incomplete.
size_t http_head_length(const char *bytes, size_t count);

/// Parses a complete head of `length` bytes. Returns 0, or the status to refuse it with.
int http_parse_request(const char *head, size_t length, struct http_request *request);

#endif
