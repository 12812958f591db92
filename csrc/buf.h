/* A growable byte buffer. Allocation failure is sticky: once `oom` is set,
 * further appends are ignored, so callers check once at the end. */
#ifndef CLOUD_BUF_H
#define CLOUD_BUF_H

#include <stddef.h>

typedef struct {
  char *data;
  size_t len;
  size_t cap;
  int oom;
} cbuf;

void cbuf_init(cbuf *b);
void cbuf_free(cbuf *b);
/* Like cbuf_free, but overwrites the bytes first: for buffers that held secrets. */
void cbuf_wipe(cbuf *b);
int cbuf_reserve(cbuf *b, size_t extra);
void cbuf_add(cbuf *b, const void *p, size_t n);
void cbuf_addc(cbuf *b, char c);
void cbuf_adds(cbuf *b, const char *s);
/* Appends the lowercase hex form of n bytes. */
void cbuf_addhex(cbuf *b, const unsigned char *p, size_t n);
/* NUL-terminates without counting the NUL in len; returns data or NULL on oom. */
const char *cbuf_cstr(cbuf *b);

#endif
