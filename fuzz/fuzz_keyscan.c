/* libFuzzer target for the metadata key answer reader (csrc/keyscan.c). The input is the
 * answer. Besides "no crash, no leak, no UB", it checks:
 *  - a value kept is never longer than the input (escapes only shrink);
 *  - the verdict and every kept value are the same when the answer is parsed again into
 *    buffers already used, and when it is shifted by a leading blank;
 *  - a failure always has a reason, and a success none. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyscan.h"

#include "check.h"

static void same(const keyscan_result *a, const keyscan_result *b) {
  for (int i = 0; i < KEYSCAN_NFIELDS; i++) {
    CHECK(a->set[i] == b->set[i]);
    if (!a->set[i]) continue;
    CHECK(a->f[i].len == b->f[i].len);
    CHECK(a->f[i].len == 0 || memcmp(a->f[i].data, b->f[i].data, a->f[i].len) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  const char *p = (const char *)data;
  keyscan_result a, b;
  keyscan_init(&a);
  keyscan_init(&b);
  int rc = keyscan_parse(&a, p, n);
  CHECK(rc == KEYSCAN_OK || rc == KEYSCAN_EINVALID);
  CHECK((rc == KEYSCAN_EINVALID) == (a.error != NULL));
  for (int i = 0; i < KEYSCAN_NFIELDS; i++) CHECK(a.f[i].len <= n);

  /* Again, into buffers that held a parse already (b parses something else first). */
  keyscan_parse(&b, "{\"credential\":{\"secret\":\"x\"}}", 29);
  CHECK(keyscan_parse(&b, p, n) == rc);
  if (rc == KEYSCAN_OK) same(&a, &b);

  /* Shifted by a blank: the same answer. */
  char *shifted = malloc(n + 1);
  if (shifted) {
    shifted[0] = ' ';
    if (n) memcpy(shifted + 1, p, n);
    CHECK(keyscan_parse(&b, shifted, n + 1) == rc);
    if (rc == KEYSCAN_OK) same(&a, &b);
    free(shifted);
  }
  keyscan_free(&a);
  keyscan_free(&b);
  keyscan_free(&b); /* idempotent */
  return 0;
}
