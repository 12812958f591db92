/* libFuzzer target for the job answer scanner (csrc/jobscan.c). The input is the answer.
 * Besides "no crash, no leak, no UB", it checks:
 *  - the verdict against a small reference validator written separately below (strict
 *    JSON, top level an object, depth <= 64, surrogates paired as cjson wants them);
 *  - every string handed out lies inside the input (between quotes, no escapes) or
 *    inside the arena, and the arena never outgrows the input;
 *  - the same answer gives the same result with reused buffers, after a shrink, and
 *    shifted by a leading blank (offsets move by one, nothing else changes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobscan.h"

#include "check.h"

/* ---- reference validator: a cursor over [p, e), each function 1 on success ---- */

typedef struct {
  const unsigned char *p, *e;
} ref;

static void ref_ws(ref *r) {
  while (r->p < r->e && *r->p && strchr(" \t\r\n", *r->p)) r->p++;
}

static int ref_eat(ref *r, char c) {
  if (r->p < r->e && *r->p == (unsigned char)c) {
    r->p++;
    return 1;
  }
  return 0;
}

static long ref_hex4(ref *r) {
  if (r->e - r->p < 4) return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = r->p[i];
    const char *digits = "0123456789abcdef0123456789ABCDEF";
    const char *d = c ? strchr(digits, c) : NULL;
    if (!d) return -1;
    v = v * 16 + (d - digits) % 16;
  }
  r->p += 4;
  return v;
}

static int ref_string(ref *r) {
  if (!ref_eat(r, '"')) return 0;
  while (r->p < r->e) {
    unsigned char c = *r->p++;
    if (c == '"') return 1;
    if (c == 0) return 0; /* other control bytes pass, as in jobscan.c */
    if (c != '\\') continue;
    if (r->p == r->e) return 0;
    c = *r->p++;
    if (c == 'u') {
      long u = ref_hex4(r);
      if (u < 0 || (u >= 0xDC00 && u < 0xE000)) return 0;
      if (u >= 0xD800 && u < 0xDC00) {
        if (!ref_eat(r, '\\') || !ref_eat(r, 'u')) return 0;
        long lo = ref_hex4(r);
        if (lo < 0xDC00 || lo >= 0xE000) return 0;
      }
    } else if (!c || !strchr("\"\\/bfnrt", c)) {
      return 0;
    }
  }
  return 0;
}

static int ref_digits(ref *r) {
  const unsigned char *s = r->p;
  while (r->p < r->e && *r->p >= '0' && *r->p <= '9') r->p++;
  return r->p > s;
}

static int ref_number(ref *r) {
  ref_eat(r, '-');
  if (!ref_eat(r, '0') && !(r->p < r->e && *r->p >= '1' && *r->p <= '9' && ref_digits(r))) return 0;
  if (ref_eat(r, '.') && !ref_digits(r)) return 0;
  if (ref_eat(r, 'e') || ref_eat(r, 'E')) {
    if (!ref_eat(r, '+')) ref_eat(r, '-');
    if (!ref_digits(r)) return 0;
  }
  return 1;
}

static int ref_word(ref *r, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(r->e - r->p) < n || memcmp(r->p, w, n)) return 0;
  r->p += n;
  return 1;
}

static int ref_value(ref *r, int depth) {
  if (r->p == r->e) return 0;
  switch (*r->p) {
    case '"': return ref_string(r);
    case 't': return ref_word(r, "true");
    case 'f': return ref_word(r, "false");
    case 'n': return ref_word(r, "null");
    case '{':
    case '[': {
      char close = *r->p == '{' ? '}' : ']';
      if (depth + 1 > JOBSCAN_MAX_DEPTH) return 0;
      r->p++;
      ref_ws(r);
      if (ref_eat(r, close)) return 1;
      do {
        ref_ws(r);
        if (close == '}') {
          if (!ref_string(r)) return 0;
          ref_ws(r);
          if (!ref_eat(r, ':')) return 0;
          ref_ws(r);
        }
        if (!ref_value(r, depth + 1)) return 0;
        ref_ws(r);
      } while (ref_eat(r, ','));
      return ref_eat(r, close);
    }
    default: return ref_number(r);
  }
}

static int ref_valid(const uint8_t *data, size_t size) {
  ref r = {data, data + size};
  ref_ws(&r);
  if (r.p == r.e || *r.p != '{' || !ref_value(&r, 0)) return 0;
  ref_ws(&r);
  return r.p == r.e;
}

/* ---- invariants on the scanner's result ---- */

static void check_str(const jobscan_result *r, const uint8_t *in, size_t n, jobscan_str s) {
  if (!s.set) {
    CHECK(s.off == 0 && s.len == 0 && !s.in_arena);
    return;
  }
  if (s.in_arena) {
    CHECK(s.off <= r->arena.len && s.len <= r->arena.len - s.off);
    return;
  }
  /* Not copied: the bytes between two quotes, with nothing to unescape. */
  CHECK(s.off >= 1 && s.off <= n && s.len < n - s.off);
  CHECK(in[s.off - 1] == '"' && in[s.off + s.len] == '"');
  for (size_t i = 0; i < s.len; i++) CHECK(in[s.off + i] != '\\' && in[s.off + i] != 0);
}

static void check_result(const jobscan_result *r, const uint8_t *in, size_t n, int rc) {
  CHECK(rc == JOBSCAN_OK || rc == JOBSCAN_EINVALID);
  if (rc != JOBSCAN_OK) {
    CHECK(r->error && r->error_at <= n && r->nsubs == 0);
    for (int k = 0; k < JOBSCAN_NTOP; k++) CHECK(!r->top[k].set);
    return;
  }
  CHECK(r->error == NULL);
  CHECK(r->arena.len <= n && !r->arena.oom);
  CHECK(r->nsubs <= n / 2 && r->nsubs <= r->subs_cap);
  for (int k = 0; k < JOBSCAN_NTOP; k++) check_str(r, in, n, r->top[k]);
  for (size_t i = 0; i < r->nsubs; i++)
    for (int k = 0; k < JOBSCAN_NFIELDS; k++) check_str(r, in, n, r->subs[i].f[k]);
}

static int same_str(const jobscan_result *a, const uint8_t *ain, jobscan_str x,
                    const jobscan_result *b, const uint8_t *bin, jobscan_str y) {
  if (x.set != y.set) return 0;
  if (!x.set) return 1;
  return x.len == y.len &&
         !memcmp(jobscan_ptr(a, (const char *)ain, x), jobscan_ptr(b, (const char *)bin, y), x.len);
}

static void check_same(const jobscan_result *a, const uint8_t *ain, const jobscan_result *b,
                       const uint8_t *bin) {
  CHECK(a->nsubs == b->nsubs);
  for (int k = 0; k < JOBSCAN_NTOP; k++) CHECK(same_str(a, ain, a->top[k], b, bin, b->top[k]));
  for (size_t i = 0; i < a->nsubs; i++)
    for (int k = 0; k < JOBSCAN_NFIELDS; k++)
      CHECK(same_str(a, ain, a->subs[i].f[k], b, bin, b->subs[i].f[k]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* One long-lived result, as the Lua binding keeps: reuse across inputs is exercised. */
  static jobscan_result kept;
  static int ready;
  if (!ready) {
    jobscan_init(&kept);
    ready = 1;
  }
  /* An exact-size copy, so ASan sees any read past the end. */
  uint8_t *in = malloc(size ? size : 1);
  CHECK(in);
  if (size) memcpy(in, data, size);

  int rc = jobscan_parse(&kept, (const char *)in, size);
  check_result(&kept, in, size, rc);
  CHECK((rc == JOBSCAN_OK) == ref_valid(in, size));

  jobscan_result fresh;
  jobscan_init(&fresh);
  CHECK(jobscan_parse(&fresh, (const char *)in, size) == rc);
  if (rc == JOBSCAN_OK) check_same(&kept, in, &fresh, in);
  else CHECK(fresh.error_at == kept.error_at && !strcmp(fresh.error, kept.error));

  /* Shifted by a leading blank: same verdict and values, errors one byte later. */
  uint8_t *shifted = malloc(size + 1);
  CHECK(shifted);
  shifted[0] = ' ';
  if (size) memcpy(shifted + 1, in, size);
  jobscan_shrink(&fresh, 0);
  CHECK(jobscan_parse(&fresh, (const char *)shifted, size + 1) == rc);
  check_result(&fresh, shifted, size + 1, rc);
  if (rc == JOBSCAN_OK) check_same(&kept, in, &fresh, shifted);
  else CHECK(fresh.error_at == kept.error_at + 1);

  jobscan_free(&fresh);
  free(shifted);
  free(in);
  jobscan_shrink(&kept, 1 << 16); /* as the binding does, smaller */
  return 0;
}
