/* A set of server ids with one outcome byte each: the ledger of a stop, kept out of the
 * Lua heap. The ids themselves are not copied: the set stores indexes, and the caller
 * hands back an id's bytes by index (its Lua array holds them). 4 bytes a slot, at most
 * three quarters of the slots used, plus a state byte: about 6.5 bytes an id, against 40
 * or more for a Lua table mapping id -> state. Pure C over buffers. */
#ifndef CLOUD_IDSET_H
#define CLOUD_IDSET_H

#include <stddef.h>
#include <stdint.h>

#define IDSET_NONE UINT32_MAX
/* Big enough for any fleet, small enough that slots fit in 32 bits at half load. */
#define IDSET_MAX ((uint32_t)1 << 30)

/* An id's outcome: open until it is stopped, failed, or found already in the state the
 * action wants (a stop of a server that was off: not failed, and not stopped by us), then
 * never changes again. */
enum { IDSET_OPEN, IDSET_STOPPED, IDSET_FAILED, IDSET_ALREADY, IDSET_NSTATES };
#define IDSET_OUTCOME 3u /* the bits of the state byte that hold the outcome */
/* Scratch marks, set and cleared within one call (see jobscan_lua.c). */
#define IDSET_SEEN 4u
#define IDSET_IN_JOB 8u

/* The members a stop call was sent for: positions first..last (1-based) of the set's ids
 * for a call of the first submission, or first = 0 for a list of ids sent again (rare:
 * its members are found by looking its ids up). */
typedef struct {
  uint32_t first, last;
} idset_batch;

/* The bytes of member `index` (0-based), or NULL when they cannot be had. */
typedef const char *(*idset_key_fn)(void *ctx, uint32_t index, size_t *len);

typedef struct {
  uint32_t *slots; /* 0: empty, else member index + 1 and a fingerprint (idset.c) */
  uint32_t nslots;
  unsigned index_bits; /* low bits of a slot that hold index + 1 */
  uint32_t n;      /* members */
  uint32_t cap;    /* members the state array has room for */
  unsigned char *state;
  idset_batch *batches; /* batch number b is batches[b - 1] */
  uint32_t nbatches, batches_cap;
  uint32_t count[IDSET_NSTATES];
  idset_key_fn key;
  void *ctx;
} idset;

/* Room for up to `expected` members (at most IDSET_MAX). Returns 0, or -1 out of memory. */
int idset_init(idset *s, uint32_t expected, idset_key_fn key, void *ctx);
void idset_free(idset *s);

/* Empties the set (members, outcomes, batches) and keeps its memory. */
void idset_clear(idset *s);

/* The index of the member equal to p[0..n), or IDSET_NONE. */
uint32_t idset_find(const idset *s, const char *p, size_t n);

/* Adds p[0..n) as member s->n unless an equal member exists. Returns the index of the
 * member (new or old); *added says which. IDSET_NONE when full (expected reached). */
uint32_t idset_add(idset *s, const char *p, size_t n, int *added);

/* Records a batch (first = 0: a list); returns its number, or 0 out of memory. */
uint32_t idset_new_batch(idset *s, uint32_t first, uint32_t last);

/* The batch numbered b, or NULL. */
const idset_batch *idset_get_batch(const idset *s, uint32_t b);

/* Moves an open member to STOPPED, FAILED or ALREADY; returns 1 if it was open, else 0. */
int idset_settle(idset *s, uint32_t index, unsigned outcome);

#endif
