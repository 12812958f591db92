/* Byte tests eight bytes at a time, for the short strings ids are (UUIDs: 36 bytes).
 * Each returns a word that is non-zero exactly when some byte of w passes the test: the
 * classic "has zero byte" and "has less than" word tricks, exact as yes/no answers. On a
 * little-endian machine the lowest set bit also marks the first byte that passes (a false
 * mark can only come above a true one, from the borrow). */
#ifndef CLOUD_BYTESCAN_H
#define CLOUD_BYTESCAN_H

#include <stdint.h>
#include <string.h>

#define BYTESCAN_ONES 0x0101010101010101u
#define BYTESCAN_HIGHS 0x8080808080808080u

static inline uint64_t bytescan_load(const char *p) {
  uint64_t w;
  memcpy(&w, p, 8);
  return w;
}

/* Some byte below n (n at most 128). */
static inline uint64_t bytescan_below(uint64_t w, unsigned n) {
  return (w - BYTESCAN_ONES * n) & ~w & BYTESCAN_HIGHS;
}

/* Some byte equal to c. */
static inline uint64_t bytescan_equal(uint64_t w, unsigned char c) {
  uint64_t x = w ^ (BYTESCAN_ONES * c);
  return (x - BYTESCAN_ONES) & ~x & BYTESCAN_HIGHS;
}

#endif
