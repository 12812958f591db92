/* libFuzzer target for what the C core reads from servers: header lines
 * (response_header_line) and body bytes under a size cap (response_body_chunk).
 * Input: header lines up to the first blank line, then body bytes fed in chunks
 * whose sizes come from the data; the cap comes from the first two bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "response.h"

#include "check.h"

static void check_field(const char *f, size_t cap) {
  size_t n = strnlen(f, cap);
  CHECK(n < cap); /* always NUL-terminated inside its buffer */
  CHECK(!memchr(f, '\r', n) && !memchr(f, '\n', n));
  CHECK(n == 0 || (f[0] != ' ' && f[0] != '\t' && f[n - 1] != ' ' && f[n - 1] != '\t'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t max = ((size_t)data[0] << 8 | data[1]) % 4096;
  const char *p = (const char *)data + 2, *end = (const char *)data + size;
  http_response r;
  memset(&r, 0, sizeof r);

  /* Header lines, each with its line end, as curl hands them over. */
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
    response_header_line(&r, p, n);
    check_field(r.request_id, sizeof r.request_id);
    check_field(r.retry_after, sizeof r.retry_after);
    check_field(r.date, sizeof r.date);
    int blank = n <= 2 && (p[0] == '\n' || p[0] == '\r');
    p += n;
    if (blank) break;
  }

  /* The body, in chunks of 1..64 bytes sized by the data itself. */
  int too_large = 0, ok = 1;
  size_t total = 0;
  while (p < end && ok) {
    size_t n = ((unsigned char)*p % 64) + 1;
    if (n > (size_t)(end - p)) n = (size_t)(end - p);
    ok = response_body_chunk(&r, max, p, n, &too_large);
    if (ok) total += n;
    CHECK(ok || too_large);
    CHECK(r.body.len == total && r.body.len <= max);
    if (ok && n) CHECK(memcmp(r.body.data + r.body.len - n, p, n) == 0);
    p += n;
  }
  cbuf_free(&r.body);
  return 0;
}
