#include "http_head.h"

#include <string.h>
#include <strings.h>

// An object larger than this is refused (413): 2^50 bytes is beyond any test or bench here.
#define CONTENT_LENGTH_MAX (1ull << 50)

size_t http_head_length(const char *bytes, size_t count) {
    for (size_t i = 3; i < count; i++) {
        if (bytes[i] == '\n' && bytes[i - 1] == '\r' && bytes[i - 2] == '\n' && bytes[i - 3] == '\r') return i + 1;
    }
    return 0;
}

static bool named(const char *line, size_t name_length, const char *name) {
    return strlen(name) == name_length && strncasecmp(line, name, name_length) == 0;
}

static const char *trimmed(const char *value, const char *end, size_t *length) {
    while (value < end && (*value == ' ' || *value == '\t')) value++;
    while (end > value && (end[-1] == ' ' || end[-1] == '\t')) end--;
    *length = (size_t)(end - value);
    return value;
}

static int parse_request_line(const char *line, const char *end, struct http_request *request) {
    const char *space = memchr(line, ' ', (size_t)(end - line));
    if (!space) return 400;
    size_t method_length = (size_t)(space - line);
    request->method = method_length == 3 && memcmp(line, "GET", 3) == 0 ? HTTP_GET
        : method_length == 3 && memcmp(line, "PUT", 3) == 0 ? HTTP_PUT : HTTP_OTHER;
    const char *target = space + 1;
    const char *second = memchr(target, ' ', (size_t)(end - target));
    if (!second || second == target || *target != '/') return 400;
    request->target = target;
    request->target_length = (size_t)(second - target);
    const char *version = second + 1;
    if ((size_t)(end - version) != 8 || memcmp(version, "HTTP/1.", 7) != 0) return 505;
    return 0;
}

static int parse_header(const char *line, const char *end, struct http_request *request) {
    const char *colon = memchr(line, ':', (size_t)(end - line));
    if (!colon || colon == line) return 400;
    size_t name_length = (size_t)(colon - line);
    size_t value_length;
    const char *value = trimmed(colon + 1, end, &value_length);
    if (named(line, name_length, "content-length")) {
        if (value_length == 0) return 400;
        uint64_t parsed = 0;
        for (size_t i = 0; i < value_length; i++) {
            if (value[i] < '0' || value[i] > '9') return 400;
            parsed = parsed * 10 + (uint64_t)(value[i] - '0');
            if (parsed > CONTENT_LENGTH_MAX) return 413;
        }
        if (request->has_content_length && request->content_length != parsed) return 400;
        request->has_content_length = true;
        request->content_length = parsed;
    } else if (named(line, name_length, "expect")) {
        request->expect_continue = value_length == 12 && strncasecmp(value, "100-continue", 12) == 0;
    } else if (named(line, name_length, "transfer-encoding")) {
        request->has_transfer_encoding = true;
    }
    return 0;
}

int http_parse_request(const char *head, size_t length, struct http_request *request) {
    memset(request, 0, sizeof *request);
    const char *end = head + length;
    const char *line = head;
    bool first = true;
    while (line < end) {
        const char *newline = memchr(line, '\n', (size_t)(end - line));
        if (!newline || newline == line || newline[-1] != '\r') return 400;
        const char *line_end = newline - 1;
        if (line_end == line) break;  // the blank line
        int status = first ? parse_request_line(line, line_end, request) : parse_header(line, line_end, request);
        if (status != 0) return status;
        first = false;
        line = newline + 1;
    }
    return first ? 400 : 0;
}
