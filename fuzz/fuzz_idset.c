/* libFuzzer target for the id set (csrc/idset.c). The input is a list of ids, one a line
 * (any bytes, empty ones too). Besides "no crash, no leak, no UB", it checks the set
 * against a plain quadratic search: each id's index is its first occurrence's distinct
 * index, added is true exactly once per distinct id, a lookup of an id changed by one
 * byte finds what the search finds, outcomes move once and are counted, and a cleared set
 * refills alike. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idset.h"

#include "check.h"

typedef struct {
  const char *p;
  size_t n;
} key;

typedef struct {
  key *distinct;
} keys;

static const char *key_at(void *ctx, uint32_t index, size_t *len) {
  keys *k = ctx;
  *len = k->distinct[index].n;
  return k->distinct[index].p;
}

/* The distinct index of p[0..n) by plain search, or IDSET_NONE. */
static uint32_t naive(const keys *k, uint32_t ndistinct, const char *p, size_t n) {
  for (uint32_t i = 0; i < ndistinct; i++)
    if (k->distinct[i].n == n && memcmp(k->distinct[i].p, p, n) == 0) return i;
  return IDSET_NONE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  size_t nlines = 1;
  for (size_t i = 0; i < size; i++) nlines += s[i] == '\n';
  key *lines = malloc(nlines * sizeof *lines);
  keys k = {malloc(nlines * sizeof *k.distinct)};
  CHECK(lines && k.distinct);
  size_t start = 0, m = 0;
  for (size_t i = 0; i <= size; i++) {
    if (i == size || s[i] == '\n') {
      lines[m].p = s + start;
      lines[m++].n = i - start;
      start = i + 1;
    }
  }

  idset set;
  CHECK(idset_init(&set, (uint32_t)m, key_at, &k) == 0);
  uint32_t ndistinct = 0;
  for (size_t i = 0; i < m; i++) {
    uint32_t want = naive(&k, ndistinct, lines[i].p, lines[i].n);
    if (want == IDSET_NONE) k.distinct[ndistinct] = lines[i]; /* before the add reads it */
    int added;
    uint32_t got = idset_add(&set, lines[i].p, lines[i].n, &added);
    CHECK(added == (want == IDSET_NONE));
    CHECK(got == (added ? ndistinct : want));
    if (added) ndistinct++;
  }
  CHECK(set.n == ndistinct);
  /* Room was made for m ids: once they are all distinct, a new one is refused. */
  const char *extra = "\xff\xfe-not-there";
  uint32_t known = naive(&k, ndistinct, extra, 13);
  if (known == IDSET_NONE && ndistinct < m) k.distinct[ndistinct] = (key){extra, 13};
  int added;
  uint32_t got = idset_add(&set, extra, 13, &added);
  if (known != IDSET_NONE) CHECK(got == known && !added);
  else if (ndistinct == m) CHECK(got == IDSET_NONE && !added);
  else CHECK(got == ndistinct++ && added);

  for (size_t i = 0; i < m; i++) {
    CHECK(idset_find(&set, lines[i].p, lines[i].n) == naive(&k, ndistinct, lines[i].p, lines[i].n));
    /* The same id with its last byte changed, or one byte longer. */
    char buf[64];
    size_t n = lines[i].n < sizeof buf - 1 ? lines[i].n : sizeof buf - 1;
    memcpy(buf, lines[i].p, n);
    if (n) {
      buf[n - 1] ^= 1;
      CHECK(idset_find(&set, buf, n) == naive(&k, ndistinct, buf, n));
      buf[n - 1] ^= 1;
    }
    buf[n] = 'x';
    CHECK(idset_find(&set, buf, n + 1) == naive(&k, ndistinct, buf, n + 1));
  }

  /* Outcomes: every third id already in the wanted state, every other of the rest stopped,
   * then all failed; the first outcome stands. */
  uint32_t already = 0, stopped = 0;
  for (uint32_t i = 0; i < ndistinct; i += 3) already += (uint32_t)idset_settle(&set, i, IDSET_ALREADY);
  for (uint32_t i = 0; i < ndistinct; i += 2) stopped += (uint32_t)idset_settle(&set, i, IDSET_STOPPED);
  for (uint32_t i = 0; i < ndistinct; i++) CHECK(idset_settle(&set, i, IDSET_FAILED) == (i % 3 != 0 && i % 2 == 1));
  CHECK(idset_settle(&set, ndistinct, IDSET_FAILED) == 0);
  CHECK(idset_settle(&set, 0, IDSET_OPEN) == 0);
  CHECK(already == (ndistinct + 2) / 3);
  CHECK(set.count[IDSET_ALREADY] == already && set.count[IDSET_STOPPED] == stopped);
  CHECK(set.count[IDSET_STOPPED] + set.count[IDSET_FAILED] + set.count[IDSET_ALREADY] == ndistinct);
  CHECK(set.count[IDSET_OPEN] == 0);

  uint32_t b = idset_new_batch(&set, 1, ndistinct);
  CHECK(b == 1 && idset_get_batch(&set, b)->last == ndistinct);
  CHECK(idset_get_batch(&set, 2) == NULL && idset_get_batch(&set, 0) == NULL);

  /* Cleared, the set is empty, and filled again it gives every id the same index. */
  idset_clear(&set);
  CHECK(set.n == 0 && set.nbatches == 0 && idset_get_batch(&set, 1) == NULL);
  CHECK(set.count[IDSET_OPEN] == 0 && set.count[IDSET_STOPPED] == 0 && set.count[IDSET_FAILED] == 0 &&
        set.count[IDSET_ALREADY] == 0);
  for (size_t i = 0; i < m; i++) CHECK(idset_find(&set, lines[i].p, lines[i].n) == IDSET_NONE);
  for (size_t i = 0; i < m; i++) {
    uint32_t again = idset_add(&set, lines[i].p, lines[i].n, &added);
    CHECK(again == naive(&k, ndistinct, lines[i].p, lines[i].n));
  }
  CHECK(set.count[IDSET_OPEN] == set.n);

  idset_free(&set);
  free(lines);
  free(k.distinct);
  return 0;
}
