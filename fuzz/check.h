/* The invariant check every fuzz target uses: a failed one aborts, which libFuzzer reports
 * as a crash with the input that caused it. */
#ifndef CLOUD_FUZZ_CHECK_H
#define CLOUD_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      fprintf(stderr, "invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                       \
    }                                                                                \
  } while (0)

#endif
