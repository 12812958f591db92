/* The one hex encoder of the core: signatures and hashes (lowercase), percent-encoding
 * (uppercase) and JSON's \u00XX escapes all write their digits through hex_byte. Inline:
 * percent-encoding calls it per byte of a path. */
#ifndef CLOUD_HEX_H
#define CLOUD_HEX_H

#include <stddef.h>

static const char HEX_LOWER[] = "0123456789abcdef";
static const char HEX_UPPER[] = "0123456789ABCDEF";

/* Writes the two digits of c (from `digits`, one of the above) at out; returns out + 2. */
static inline char *hex_byte(char *out, unsigned char c, const char *digits) {
  out[0] = digits[c >> 4];
  out[1] = digits[c & 15];
  return out + 2;
}

/* Writes the 2n lowercase digits of p[0..n) at out (no NUL). */
static inline void hex_encode(char *out, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) out = hex_byte(out, p[i], HEX_LOWER);
}

#endif
