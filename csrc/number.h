/* Lua numbers into C integer types. Converting a double that is NaN, infinite or outside
 * the target type is undefined behaviour in C, so every number a caller gives is tested
 * against these limits before any cast. The limits are powers of two, exact as doubles:
 * (double)LONG_MAX would round up to one past the range. */
#ifndef CLOUD_NUMBER_H
#define CLOUD_NUMBER_H

#include <limits.h>

#define NUMBER_LONG_LIMIT ((double)(LONG_MAX / 2 + 1) * 2.0) /* LONG_MAX + 1 */

/* x converts to a long (truncated): false for NaN, infinities and anything too big. */
static inline int number_fits_long(double x) {
  return x >= -NUMBER_LONG_LIMIT && x < NUMBER_LONG_LIMIT;
}

/* Neither NaN nor an infinity. */
static inline int number_is_finite(double x) { return x == x && x - x == 0; }

#endif
