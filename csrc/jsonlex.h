/* The lexical pieces of JSON that both readers of answers share: jobscan.c (job answers)
 * and keyscan.c (the metadata service's temporary keys). Each reader keeps its own grammar
 * and its own policy (what it tolerates, where bytes go); only these are common. */
#ifndef CLOUD_JSONLEX_H
#define CLOUD_JSONLEX_H

#include <stddef.h>

/* Past JSON whitespace: exactly space, \n, \r and \t (cjson agrees: no \f or \v). */
static inline const char *json_skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

static inline int json_is_digit(int c) { return c >= '0' && c <= '9'; }

/* The four hex digits of a \u escape at p: 1 and the value, or 0. */
static inline int json_hex4(const char *p, const char *end, unsigned *out) {
  if (end - p < 4) return 0;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int c = (unsigned char)p[i];
    if (json_is_digit(c)) v = v << 4 | (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v << 4 | (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v = v << 4 | (unsigned)(c - 'A' + 10);
    else return 0; /* not (c | 0x20): that turns control bytes into digits (fuzz_jobscan) */
  }
  *out = v;
  return 1;
}

static inline int json_is_high_surrogate(unsigned u) { return u >= 0xD800 && u <= 0xDBFF; }
static inline int json_is_low_surrogate(unsigned u) { return u >= 0xDC00 && u <= 0xDFFF; }

/* The code point of a surrogate pair. */
static inline unsigned json_join_surrogates(unsigned hi, unsigned lo) {
  return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
}

/* The UTF-8 form of code point u (at most 0x10FFFF) in o[0..3]; returns its length. */
static inline size_t json_put_utf8(unsigned u, char *o) {
  if (u < 0x80) {
    o[0] = (char)u;
    return 1;
  }
  if (u < 0x800) {
    o[0] = (char)(0xC0 | u >> 6);
    o[1] = (char)(0x80 | (u & 0x3F));
    return 2;
  }
  if (u < 0x10000) {
    o[0] = (char)(0xE0 | u >> 12);
    o[1] = (char)(0x80 | (u >> 6 & 0x3F));
    o[2] = (char)(0x80 | (u & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | u >> 18);
  o[1] = (char)(0x80 | (u >> 12 & 0x3F));
  o[2] = (char)(0x80 | (u >> 6 & 0x3F));
  o[3] = (char)(0x80 | (u & 0x3F));
  return 4;
}

#endif
