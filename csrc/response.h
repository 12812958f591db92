/* Reading what a server sends: header lines and body bytes, into an http_response.
 * Pure functions over buffers (no curl, no Lua), so they can be fuzzed alone. */
#ifndef CLOUD_RESPONSE_H
#define CLOUD_RESPONSE_H

#include <stddef.h>
#include "http.h"

/* Takes one raw header line ("Name: value\r\n", or a status line that starts a new
 * response). Keeps X-Request-Id, Retry-After and Date, truncated to their buffers. */
void response_header_line(http_response *r, const char *line, size_t n);

/* Appends body bytes unless the body would pass max (sets *too_large) or memory runs
 * out. Returns 1 when appended, 0 when the transfer must stop. */
int response_body_chunk(http_response *r, size_t max, const char *p, size_t n, int *too_large);

#endif
