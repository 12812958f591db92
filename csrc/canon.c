#include "canon.h"
#include "hex.h"

#include <stdlib.h>
#include <string.h>

static int is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.' || c == '~';
}

void canon_encode(cbuf *out, const char *p, size_t n) {
  if (!cbuf_reserve(out, 3 * n)) return; /* worst case, so the loop never grows */
  char *o = out->data + out->len;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (is_unreserved(c)) {
      *o++ = (char)c;
    } else {
      *o++ = '%';
      o = hex_byte(o, c, HEX_UPPER);
    }
  }
  out->len = (size_t)(o - out->data);
}

void canon_uri(cbuf *out, cstr path) {
  size_t start = 0;
  if (path.n == 0) {
    cbuf_addc(out, '/');
    return;
  }
  for (size_t i = 0; i <= path.n; i++) {
    if (i == path.n || path.p[i] == '/') {
      canon_encode(out, path.p + start, i - start);
      if (i < path.n) cbuf_addc(out, '/');
      start = i + 1;
    }
  }
  if (out->len == 0 || out->data[out->len - 1] != '/') cbuf_addc(out, '/');
}

static int cstr_cmp(cstr a, cstr b) {
  size_t n = a.n < b.n ? a.n : b.n;
  int c = n ? memcmp(a.p, b.p, n) : 0;
  if (c) return c;
  return (a.n > b.n) - (a.n < b.n);
}

static int pair_cmp(const void *x, const void *y) {
  const cpair *a = x, *b = y;
  int c = cstr_cmp(a->name, b->name);
  return c ? c : cstr_cmp(a->value, b->value);
}

/* Insertion sort for the few pairs a request has; qsort for many. */
static void sort_pairs(cpair *p, size_t n, int (*cmp)(const void *, const void *)) {
  if (n > 16) {
    qsort(p, n, sizeof *p, cmp);
    return;
  }
  for (size_t i = 1; i < n; i++) {
    cpair x = p[i];
    size_t j = i;
    while (j > 0 && cmp(&p[j - 1], &x) > 0) {
      p[j] = p[j - 1];
      j--;
    }
    p[j] = x;
  }
}

void canon_query(cbuf *out, cpair *pairs, size_t n) {
  sort_pairs(pairs, n, pair_cmp);
  for (size_t i = 0; i < n; i++) {
    if (i) cbuf_addc(out, '&');
    canon_encode(out, pairs[i].name.p, pairs[i].name.n);
    cbuf_addc(out, '=');
    canon_encode(out, pairs[i].value.p, pairs[i].value.n);
  }
}

int canon_is_token(cstr s) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  if (s.n == 0) return 0;
  for (size_t i = 0; i < s.n; i++) {
    unsigned char c = (unsigned char)s.p[i];
    int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (c == 0 || !strchr(extra, c))) return 0;
  }
  return 1;
}

int canon_is_field_value(cstr s) {
  for (size_t i = 0; i < s.n; i++)
    if (s.p[i] == '\r' || s.p[i] == '\n' || s.p[i] == '\0') return 0;
  return 1;
}

cstr canon_trim(cstr s) {
  while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) s.p++, s.n--;
  while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t')) s.n--;
  return s;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

int canon_name_is(cstr name, const char *lower_name) {
  size_t n = strlen(lower_name);
  if (name.n != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (lower((unsigned char)name.p[i]) != (unsigned char)lower_name[i]) return 0;
  return 1;
}

static int name_cmp_ci(cstr a, cstr b) {
  size_t n = a.n < b.n ? a.n : b.n;
  for (size_t i = 0; i < n; i++) {
    int x = lower((unsigned char)a.p[i]), y = lower((unsigned char)b.p[i]);
    if (x != y) return x - y;
  }
  return (a.n > b.n) - (a.n < b.n);
}

static int header_cmp(const void *x, const void *y) {
  return name_cmp_ci(((const cpair *)x)->name, ((const cpair *)y)->name);
}

static void add_lower(cbuf *out, cstr s) {
  if (!cbuf_reserve(out, s.n)) return;
  for (size_t i = 0; i < s.n; i++) out->data[out->len + i] = (char)lower((unsigned char)s.p[i]);
  out->len += s.n;
}

size_t canon_headers(cbuf *lines, cbuf *names, cpair *headers, size_t n) {
  sort_pairs(headers, n, header_cmp);
  for (size_t i = 1; i < n; i++)
    if (name_cmp_ci(headers[i - 1].name, headers[i].name) == 0) return i + 1;
  for (size_t i = 0; i < n; i++) {
    cstr v = canon_trim(headers[i].value);
    add_lower(lines, headers[i].name);
    cbuf_addc(lines, ':');
    cbuf_add(lines, v.p, v.n);
    cbuf_addc(lines, '\n');
    if (i) cbuf_addc(names, ';');
    add_lower(names, headers[i].name);
  }
  return 0;
}
