#include "utf8.h"

/* Each lead byte's sequence, by the ranges of the second byte that keep it valid (the
 * table of RFC 3629 section 4): the first continuation byte is where overlong forms,
 * surrogates and code points above U+10FFFF show. */
int utf8_valid(const char *p, size_t n) {
  const unsigned char *s = (const unsigned char *)p, *end = s + n;
  while (s < end) {
    unsigned c = *s++;
    if (c < 0x80) continue;
    size_t more;
    unsigned lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (c >= 0xC2 && c <= 0xDF) more = 1;
    else if (c == 0xE0) more = 2, lo = 0xA0;
    else if (c == 0xED) more = 2, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) more = 2;
    else if (c == 0xF0) more = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) more = 3;
    else if (c == 0xF4) more = 3, hi = 0x8F;
    else return 0; /* a continuation byte first, C0, C1, or F5 and above */
    if ((size_t)(end - s) < more || s[0] < lo || s[0] > hi) return 0;
    for (size_t i = 1; i < more; i++)
      if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    s += more;
  }
  return 1;
}
