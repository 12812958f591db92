#include "response.h"
#include "canon.h"

#include <stdint.h>
#include <string.h>

/* The most room taken ahead for a body on the strength of its Content-Length. */
#define PRESIZE_MAX ((size_t)1 << 20)

/* Copies the value of "name: value" into out (NUL-terminated, cut to cap) when the
 * line's name is `name` (lowercase; the line's in any case). Surrounding blanks and the
 * line end are dropped. */
static void take(const char *line, size_t n, const char *name, char *out, size_t cap) {
  size_t k = strlen(name);
  if (n <= k || line[k] != ':' || !canon_name_is((cstr){line, k}, name)) return;
  const char *v = line + k + 1;
  const char *end = line + n;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
  size_t len = (size_t)(end - v);
  /* A value with a line break or NUL inside is not one we can hand on safely. */
  if (!canon_is_field_value((cstr){v, len})) len = 0;
  if (len >= cap) len = cap - 1;
  /* Cutting may leave blanks at the end again (found by fuzz_response). */
  while (len && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
  memcpy(out, v, len);
  out[len] = '\0';
}

void response_header_line(http_response *r, const char *line, size_t n) {
  if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
    /* A new response (after a 100 Continue, say): forget the last one's headers. */
    r->request_id[0] = r->retry_after[0] = r->date[0] = '\0';
    r->expect_len = 0;
    return;
  }
  take(line, n, "x-request-id", r->request_id, sizeof r->request_id);
  /* IAM names its request id otherwise; X-Request-Id wins when both come. */
  if (!r->request_id[0]) take(line, n, "x-iam-trace-id", r->request_id, sizeof r->request_id);
  take(line, n, "retry-after", r->retry_after, sizeof r->retry_after);
  take(line, n, "date", r->date, sizeof r->date);
  char len[24] = "";
  take(line, n, "content-length", len, sizeof len);
  size_t v = 0;
  int digits = len[0] != '\0';
  for (const char *c = len; *c && digits; c++) {
    if (*c < '0' || *c > '9' || v > (SIZE_MAX - 9) / 10) digits = 0;
    else v = v * 10 + (size_t)(*c - '0');
  }
  if (digits) r->expect_len = v;
}

int response_body_chunk(http_response *r, size_t max, const char *p, size_t n, int *too_large) {
  if (n > max || r->body.len > max - n) {
    *too_large = 1;
    return 0;
  }
  /* Room for the whole body at once when its length is announced (job answers run to
   * 300 KB: no string of copies while it grows), but never more than PRESIZE_MAX on the
   * word of a server. */
  if (r->body.cap == 0 && r->expect_len > n && r->expect_len <= max)
    cbuf_reserve(&r->body, r->expect_len < PRESIZE_MAX ? r->expect_len : PRESIZE_MAX);
  cbuf_add(&r->body, p, n);
  return !r->body.oom;
}
