#include "keyscan.h"

#include <string.h>
#include <openssl/crypto.h>

#include "jsonlex.h"

typedef struct {
  const char *p, *end;
  int depth;
  keyscan_result *r;
} scan;

/* Where a string's unescaped bytes go: a growable buffer (a kept value), a small fixed
 * one (a member name), or nowhere (a skipped value). */
typedef struct {
  cbuf *buf;
  char *fixed;
  size_t cap, len;
  int overflow;
} sink;

/* Every parse function returns 1, or 0 after recording why; callers just unwind. */
static int fail(scan *s, const char *why) {
  if (!s->r->error) s->r->error = s->p >= s->end ? "unexpected end of input" : why;
  return 0;
}

static int peek(const scan *s) { return s->p < s->end ? (unsigned char)*s->p : -1; }

static void ws(scan *s) { s->p = json_skip_ws(s->p, s->end); }

static void put(sink *k, const char *p, size_t n) {
  if (k->buf) {
    cbuf_add(k->buf, p, n);
  } else if (k->fixed) {
    if (n > k->cap - k->len) k->overflow = 1;
    else memcpy(k->fixed + k->len, p, n);
    if (!k->overflow) k->len += n;
  }
}

/* The UTF-8 form of code point u, into the sink; the few bytes on the stack are wiped (they
 * may be a secret's). */
static void put_utf8(sink *k, unsigned u) {
  char b[4];
  put(k, b, json_put_utf8(u, b));
  OPENSSL_cleanse(b, sizeof b);
}

/* The string whose opening quote is at s->p, unescaped into k. Strict: raw control bytes
 * and lone UTF-16 surrogates are refused. */
static int string(scan *s, sink *k) {
  s->p++;
  for (;;) {
    const char *run = s->p;
    while (s->p < s->end && *s->p != '"' && *s->p != '\\' && (unsigned char)*s->p >= 0x20) s->p++;
    put(k, run, (size_t)(s->p - run));
    if (s->p >= s->end) return fail(s, "unterminated string");
    if (*s->p == '"') {
      s->p++;
      return 1;
    }
    if (*s->p != '\\') return fail(s, "control byte in string");
    if (s->end - s->p < 2) {
      s->p = s->end;
      return fail(s, "unterminated string");
    }
    char c = s->p[1], out;
    s->p += 2;
    switch (c) {
      case '"': case '\\': case '/': out = c; break;
      case 'b': out = '\b'; break;
      case 'f': out = '\f'; break;
      case 'n': out = '\n'; break;
      case 'r': out = '\r'; break;
      case 't': out = '\t'; break;
      case 'u': {
        unsigned u, lo;
        if (!json_hex4(s->p, s->end, &u)) return fail(s, "invalid \\u escape");
        s->p += 4;
        if (json_is_low_surrogate(u)) return fail(s, "lone UTF-16 surrogate");
        if (json_is_high_surrogate(u)) {
          if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || !json_hex4(s->p + 2, s->end, &lo) ||
              !json_is_low_surrogate(lo))
            return fail(s, "lone UTF-16 surrogate");
          s->p += 6;
          u = json_join_surrogates(u, lo);
        }
        put_utf8(k, u);
        continue;
      }
      default: return fail(s, "invalid escape");
    }
    put(k, &out, 1);
  }
}

static int literal(scan *s, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return fail(s, "invalid literal");
  s->p += n;
  return 1;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? and nothing else. */
static int number(scan *s) {
  const char *p = s->p, *end = s->end;
  if (p < end && *p == '-') p++;
  if (p < end && *p == '0') p++;
  else if (p < end && *p >= '1' && *p <= '9') while (p < end && json_is_digit(*p)) p++;
  else return fail(s, "invalid number");
  if (p < end && *p == '.') {
    if (++p == end || !json_is_digit(*p)) return fail(s, "invalid number");
    while (p < end && json_is_digit(*p)) p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (p == end || !json_is_digit(*p)) return fail(s, "invalid number");
    while (p < end && json_is_digit(*p)) p++;
  }
  s->p = p;
  return 1;
}

static int object(scan *s, int level);

static int enter(scan *s) {
  if (++s->depth > KEYSCAN_MAX_DEPTH) return fail(s, "nested too deep");
  s->p++;
  ws(s);
  return 1;
}

static int skip_value(scan *s);

static int array(scan *s) {
  if (!enter(s)) return 0;
  if (peek(s) != ']') {
    for (;;) {
      if (!skip_value(s)) return 0;
      ws(s);
      if (peek(s) != ',') break;
      s->p++;
      ws(s);
    }
    if (peek(s) != ']') return fail(s, "expected ',' or ']'");
  }
  s->p++;
  s->depth--;
  return 1;
}

static int skip_value(scan *s) {
  sink none = {NULL, NULL, 0, 0, 0};
  int c = peek(s);
  switch (c) {
    case '"': return string(s, &none);
    case '{': return object(s, 2);
    case '[': return array(s);
    case 't': return literal(s, "true");
    case 'f': return literal(s, "false");
    case 'n': return literal(s, "null");
    default:
      if (c == '-' || json_is_digit(c)) return number(s);
      return fail(s, "expected a value");
  }
}

static const char *const FIELD_NAMES[KEYSCAN_NFIELDS] = {"access", "secret", "securitytoken",
                                                         "expires_at"};

/* A member value at level 1 (inside "credential"): a wanted string is kept, anything
 * else (null, a number) leaves the field unset. */
static int field(scan *s, int which) {
  keyscan_result *r = s->r;
  cbuf_wipe(&r->f[which]); /* a repeated member: the last one wins */
  r->set[which] = 0;
  if (peek(s) != '"') return skip_value(s);
  /* Checked first, then room made for all of it: a buffer that grew by realloc would
   * leave copies of a secret's first bytes in freed memory. */
  const char *start = s->p;
  sink none = {NULL, NULL, 0, 0, 0};
  if (!string(s, &none)) return 0;
  if (!cbuf_reserve(&r->f[which], (size_t)(s->p - start))) return 1; /* oom: seen by the caller */
  s->p = start;
  sink k = {&r->f[which], NULL, 0, 0, 0};
  if (!string(s, &k)) return 0;
  r->set[which] = 1;
  return 1;
}

/* The member named `name` at `level`: the index of what it holds, or -1 to skip it.
 * Level 0 is the answer (wants "credential", 100), 1 the credential, 2 anything deeper. */
static int wanted(int level, const char *name, size_t n) {
  if (level == 0) return n == 10 && memcmp(name, "credential", 10) == 0 ? 100 : -1;
  if (level != 1) return -1;
  for (int i = 0; i < KEYSCAN_NFIELDS; i++)
    if (strlen(FIELD_NAMES[i]) == n && memcmp(FIELD_NAMES[i], name, n) == 0) return i;
  return -1;
}

static int object(scan *s, int level) {
  if (!enter(s)) return 0;
  if (peek(s) != '}') {
    for (;;) {
      char name[32];
      sink k = {NULL, name, sizeof name, 0, 0};
      if (peek(s) != '"') return fail(s, "expected a member name");
      if (!string(s, &k)) return 0;
      int which = k.overflow ? -1 : wanted(level, name, k.len);
      ws(s);
      if (peek(s) != ':') return fail(s, "expected ':'");
      s->p++;
      ws(s);
      int ok;
      if (which == 100) {
        if (peek(s) == '{') ok = object(s, 1);
        else if (peek(s) == 'n') ok = literal(s, "null");
        else return fail(s, "credential is not an object");
      } else if (which >= 0) {
        ok = field(s, which);
      } else {
        ok = skip_value(s);
      }
      if (!ok) return 0;
      ws(s);
      if (peek(s) != ',') break;
      s->p++;
      ws(s);
    }
    if (peek(s) != '}') return fail(s, "expected ',' or '}'");
  }
  s->p++;
  s->depth--;
  return 1;
}

void keyscan_init(keyscan_result *r) { memset(r, 0, sizeof *r); }

void keyscan_free(keyscan_result *r) {
  for (int i = 0; i < KEYSCAN_NFIELDS; i++) cbuf_wipe(&r->f[i]);
  keyscan_init(r);
}

int keyscan_parse(keyscan_result *r, const char *p, size_t n) {
  keyscan_free(r);
  scan s = {p, p + n, 0, r};
  ws(&s);
  if (peek(&s) != '{') {
    fail(&s, "the answer is not a JSON object");
    return KEYSCAN_EINVALID;
  }
  int ok = object(&s, 0);
  if (ok) {
    ws(&s);
    if (s.p != s.end) ok = fail(&s, "bytes after the JSON object");
  }
  for (int i = 0; i < KEYSCAN_NFIELDS; i++)
    if (r->f[i].oom) return KEYSCAN_ENOMEM;
  return ok ? KEYSCAN_OK : KEYSCAN_EINVALID;
}
