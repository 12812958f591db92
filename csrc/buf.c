#include "buf.h"
#include "hex.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

void cbuf_init(cbuf *b) { memset(b, 0, sizeof *b); }

void cbuf_free(cbuf *b) {
  free(b->data);
  cbuf_init(b);
}

void cbuf_wipe(cbuf *b) {
  if (b->data) OPENSSL_cleanse(b->data, b->cap);
  cbuf_free(b);
}

int cbuf_grow(cbuf *b, size_t extra) {
  if (b->oom) return 0;
  if (extra > (size_t)-1 - b->len - 1) { b->oom = 1; return 0; }
  size_t need = b->len + extra + 1; /* room for a NUL */
  if (need <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap = cap > (size_t)-1 / 2 ? need : cap * 2;
  char *p = realloc(b->data, cap);
  if (!p) { b->oom = 1; return 0; }
  b->data = p;
  b->cap = cap;
  return 1;
}

void cbuf_adds(cbuf *b, const char *s) { cbuf_add(b, s, strlen(s)); }

void cbuf_addhex(cbuf *b, const unsigned char *p, size_t n) {
  if (n > ((size_t)-1) / 2 || !cbuf_reserve(b, 2 * n)) return;
  hex_encode(b->data + b->len, p, n);
  b->len += 2 * n;
}

const char *cbuf_cstr(cbuf *b) {
  if (!cbuf_reserve(b, 0)) return NULL;
  b->data[b->len] = '\0';
  return b->data;
}
