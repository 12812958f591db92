#include "idset.h"

#include <stdlib.h>
#include <string.h>

/* Eight bytes at a time, then a final mix: ids are short (UUIDs are 36 bytes), and the
 * set only needs a good spread, not resistance to chosen inputs (the caller picks them). */
static uint64_t hash(const char *p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15u ^ (uint64_t)n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDu;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, p, n);
  h = (h ^ w) * 0xC4CEB9FE1A85EC53u;
  h ^= h >> 29;
  return h;
}

int idset_init(idset *s, uint32_t expected, idset_key_fn key, void *ctx) {
  memset(s, 0, sizeof *s);
  s->key = key;
  s->ctx = ctx;
  if (expected > IDSET_MAX) return -1;
  uint32_t slots = 16;
  while (slots < expected * 2u) slots *= 2; /* at most half full: short probe runs */
  s->slots = calloc(slots, sizeof *s->slots);
  s->state = malloc(expected ? expected : 1);
  s->batch = calloc(expected ? expected : 1, sizeof *s->batch);
  if (!s->slots || !s->state || !s->batch) {
    idset_free(s);
    return -1;
  }
  s->mask = slots - 1;
  s->cap = expected;
  return 0;
}

void idset_free(idset *s) {
  free(s->slots);
  free(s->state);
  free(s->batch);
  s->slots = NULL;
  s->state = NULL;
  s->batch = NULL;
  s->n = s->cap = 0;
}

static int same(const idset *s, uint32_t index, const char *p, size_t n) {
  size_t len;
  const char *k = s->key(s->ctx, index, &len);
  return k && len == n && memcmp(k, p, n) == 0;
}

/* The slot holding p, or the empty slot where it would go. */
static uint32_t probe(const idset *s, const char *p, size_t n) {
  uint32_t i = (uint32_t)hash(p, n) & s->mask;
  while (s->slots[i] && !same(s, s->slots[i] - 1, p, n)) i = (i + 1) & s->mask;
  return i;
}

uint32_t idset_find(const idset *s, const char *p, size_t n) {
  if (!s->slots) return IDSET_NONE;
  uint32_t slot = s->slots[probe(s, p, n)];
  return slot ? slot - 1 : IDSET_NONE;
}

uint32_t idset_add(idset *s, const char *p, size_t n, int *added) {
  *added = 0;
  if (!s->slots) return IDSET_NONE;
  uint32_t i = probe(s, p, n);
  if (s->slots[i]) return s->slots[i] - 1;
  if (s->n >= s->cap) return IDSET_NONE;
  uint32_t index = s->n++;
  s->slots[i] = index + 1;
  s->state[index] = IDSET_OPEN;
  s->count[IDSET_OPEN]++;
  *added = 1;
  return index;
}

uint32_t idset_new_batch(idset *s) {
  return s->nbatches == UINT32_MAX ? 0 : ++s->nbatches;
}

int idset_settle(idset *s, uint32_t index, unsigned outcome) {
  if (index >= s->n || (s->state[index] & IDSET_OUTCOME) != IDSET_OPEN) return 0;
  if (outcome != IDSET_STOPPED && outcome != IDSET_FAILED) return 0;
  s->state[index] = (unsigned char)((s->state[index] & ~IDSET_OUTCOME) | outcome);
  s->count[IDSET_OPEN]--;
  s->count[outcome]++;
  return 1;
}
