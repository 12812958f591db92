/* A growable byte buffer. Allocation failure is sticky: once `oom` is set,
 * further appends are ignored, so callers check once at the end. */
#ifndef CLOUD_BUF_H
#define CLOUD_BUF_H

#include <stddef.h>
#include <string.h>

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
int cbuf_grow(cbuf *b, size_t extra);

/* The appends are inline with the room check first: signing makes dozens of them. */
static inline int cbuf_reserve(cbuf *b, size_t extra) {
  if (!b->oom && extra < b->cap - b->len) return 1; /* cap > len always holds once allocated */
  return cbuf_grow(b, extra);
}

static inline void cbuf_add(cbuf *b, const void *p, size_t n) {
  if (n == 0 || !cbuf_reserve(b, n)) return;
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static inline void cbuf_addc(cbuf *b, char c) {
  if (!cbuf_reserve(b, 1)) return;
  b->data[b->len++] = c;
}
void cbuf_adds(cbuf *b, const char *s);
/* Appends the lowercase hex form of n bytes. */
void cbuf_addhex(cbuf *b, const unsigned char *p, size_t n);
/* NUL-terminates without counting the NUL in len; returns data or NULL on oom. */
const char *cbuf_cstr(cbuf *b);

#endif
