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
  /* At most three quarters full: with the fingerprints, probe runs stay cheap. */
  uint32_t slots = expected + expected / 3 + 1;
  if (slots < 16) slots = 16;
  s->index_bits = 1;
  while (((uint64_t)1 << s->index_bits) <= expected) s->index_bits++; /* holds index + 1 */
  s->slots = calloc(slots, sizeof *s->slots);
  s->state = malloc(expected ? expected : 1);
  if (!s->slots || !s->state) {
    idset_free(s);
    return -1;
  }
  s->nslots = slots;
  s->cap = expected;
  return 0;
}

void idset_free(idset *s) {
  free(s->slots);
  free(s->state);
  free(s->batches);
  s->slots = NULL;
  s->state = NULL;
  s->batches = NULL;
  s->nbatches = s->batches_cap = 0;
  s->n = s->cap = 0;
}

void idset_clear(idset *s) {
  if (s->slots) memset(s->slots, 0, (size_t)s->nslots * sizeof *s->slots);
  memset(s->count, 0, sizeof s->count);
  s->n = 0;
  s->nbatches = 0;
}

/* A slot holds index + 1 in its low index_bits, and above them as many bits of the id's
 * hash as fit: a fingerprint that spares nearly every comparison with another id (each
 * one a fetch of that id's bytes, likely a cache miss). 0 is an empty slot. */
static uint32_t slot_index(const idset *s, uint32_t slot) {
  return (slot & (uint32_t)(((uint64_t)1 << s->index_bits) - 1)) - 1;
}

static uint32_t fingerprint_of(const idset *s, uint32_t slot) {
  return s->index_bits >= 32 ? 0 : slot >> s->index_bits << s->index_bits;
}

static uint32_t fingerprint(const idset *s, uint64_t h) {
  return s->index_bits >= 32 ? 0 : (uint32_t)(h >> 32) >> s->index_bits << s->index_bits;
}

static int same(const idset *s, uint32_t index, const char *p, size_t n) {
  size_t len;
  const char *k = s->key(s->ctx, index, &len);
  return k && len == n && memcmp(k, p, n) == 0;
}

/* The slot holding p, or the empty slot where it would go; *print gets p's fingerprint. */
static uint32_t probe(const idset *s, const char *p, size_t n, uint32_t *print) {
  uint64_t h = hash(p, n);
  uint32_t fp = fingerprint(s, h);
  uint32_t i = (uint32_t)(((uint64_t)(uint32_t)h * s->nslots) >> 32); /* h mod nslots, fast */
  for (uint32_t slot; (slot = s->slots[i]); i = i + 1 == s->nslots ? 0 : i + 1) {
    if (fingerprint_of(s, slot) == fp && same(s, slot_index(s, slot), p, n)) break;
  }
  *print = fp;
  return i;
}

uint32_t idset_find(const idset *s, const char *p, size_t n) {
  if (!s->slots) return IDSET_NONE;
  uint32_t fp, slot = s->slots[probe(s, p, n, &fp)];
  return slot ? slot_index(s, slot) : IDSET_NONE;
}

uint32_t idset_add(idset *s, const char *p, size_t n, int *added) {
  *added = 0;
  if (!s->slots) return IDSET_NONE;
  uint32_t fp, i = probe(s, p, n, &fp);
  if (s->slots[i]) return slot_index(s, s->slots[i]);
  if (s->n >= s->cap) return IDSET_NONE;
  uint32_t index = s->n++;
  s->slots[i] = fp | (index + 1);
  s->state[index] = IDSET_OPEN;
  s->count[IDSET_OPEN]++;
  *added = 1;
  return index;
}

uint32_t idset_new_batch(idset *s, uint32_t first, uint32_t last) {
  if (s->nbatches == s->batches_cap) {
    uint32_t cap = s->batches_cap ? s->batches_cap * 2 : 64;
    if (cap <= s->batches_cap || cap > UINT32_MAX / sizeof *s->batches) return 0;
    idset_batch *grown = realloc(s->batches, cap * sizeof *grown);
    if (!grown) return 0;
    s->batches = grown;
    s->batches_cap = cap;
  }
  s->batches[s->nbatches].first = first;
  s->batches[s->nbatches].last = last;
  return ++s->nbatches;
}

const idset_batch *idset_get_batch(const idset *s, uint32_t b) {
  return b >= 1 && b <= s->nbatches ? &s->batches[b - 1] : NULL;
}

int idset_settle(idset *s, uint32_t index, unsigned outcome) {
  if (index >= s->n || (s->state[index] & IDSET_OUTCOME) != IDSET_OPEN) return 0;
  if (outcome != IDSET_STOPPED && outcome != IDSET_FAILED && outcome != IDSET_ALREADY) return 0;
  s->state[index] = (unsigned char)((s->state[index] & ~IDSET_OUTCOME) | outcome);
  s->count[IDSET_OPEN]--;
  s->count[outcome]++;
  return 1;
}
