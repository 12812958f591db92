/* Canonical forms of SDK-HMAC-SHA256 (docs/reference/SIGNING.md): pure functions over
 * buffers, no Lua and no crypto, so they can be tested and fuzzed alone. */
#ifndef CLOUD_CANON_H
#define CLOUD_CANON_H

#include <stddef.h>
#include "buf.h"

typedef struct {
  const char *p;
  size_t n;
} cstr;

typedef struct {
  cstr name;
  cstr value;
} cpair;

/* Percent-encodes everything but A-Z a-z 0-9 - _ . ~ (uppercase hex). */
void canon_encode(cbuf *out, const char *p, size_t n);

/* Encodes each '/'-separated segment of a decoded path and makes it end in '/'.
 * An empty path is "/". */
void canon_uri(cbuf *out, cstr path);

/* Sorts pairs by raw key, then raw value (byte order), and writes k=v joined by '&'.
 * Reorders `pairs` in place. */
void canon_query(cbuf *out, cpair *pairs, size_t n);

/* HTTP token characters (RFC 9110), the only ones a header name may use. */
int canon_is_token(cstr s);
/* Whether header name `name` is `lower` (given in lowercase), ignoring case: the one test
 * the core makes for a particular header. */
int canon_name_is(cstr name, const char *lower);
/* A header value may hold no CR, LF or NUL. */
int canon_is_field_value(cstr s);
/* Trims spaces and tabs at both ends. */
cstr canon_trim(cstr s);

/* Sorts headers by lowercased name (byte order) and writes the canonical header lines
 * ("name:trimmed value\n" each) to `lines` and the ';'-joined names to `names`.
 * Reorders `headers` in place. Returns 0, or the index + 1 of a header whose
 * lowercased name repeats an earlier one. */
size_t canon_headers(cbuf *lines, cbuf *names, cpair *headers, size_t n);

#endif
