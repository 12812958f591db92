/* UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
 * above U+10FFFF. Pure C over buffers, so it can be fuzzed alone. */
#ifndef CLOUD_UTF8_H
#define CLOUD_UTF8_H

#include <stddef.h>

/* 1 when p[0..n) is valid UTF-8. */
int utf8_valid(const char *p, size_t n);

#endif
