#include "jobscan.h"
#include "bytescan.h"
#include "jsonlex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *base, *p, *end;
  jobscan_result *r;
  int depth;
  int nomem;
} scan;

/* Every parse function returns 1, or 0 after recording why; callers just unwind. */
static int fail(scan *s, const char *why, const char *at) {
  s->r->error = why;
  s->r->error_at = (size_t)(at - s->base);
  return 0;
}

/* A failure at the current position, which may be the end of the input. */
static int fail_here(scan *s, const char *why) {
  return fail(s, s->p == s->end ? "unexpected end of input" : why, s->p);
}

static int nomem(scan *s) {
  s->nomem = 1;
  return fail(s, "out of memory", s->p);
}

static int peek(const scan *s) { return s->p < s->end ? (unsigned char)*s->p : -1; }

static void ws(scan *s) { s->p = json_skip_ws(s->p, s->end); }


/* Bytes that end the fast run through a string: the quote, a backslash and NUL. Raw
 * control bytes other than NUL are let through, as lua-cjson does: a server that puts a
 * tab in a fail_reason must not make the whole answer unreadable. */
static int stops_string(unsigned char c) { return c == 0 || c == '"' || c == '\\'; }

/* The same test on eight bytes at once (strings are most of an answer's bytes). Nonzero
 * when a byte stops; its lowest set bit marks the first such byte (bytescan.h). */
static uint64_t word_stops_string(const char *p) {
  uint64_t w = bytescan_load(p);
  return bytescan_equal(w, '"') | bytescan_equal(w, '\\') | bytescan_equal(w, 0);
}

/* Moves p to the first byte that stops a string, or to end. */
static const char *string_run(const char *p, const char *end) {
  while (end - p >= 8) {
    uint64_t m = word_stops_string(p);
    if (m) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      p += __builtin_ctzll(m) / 8; /* else the loop below finds it */
#endif
      break;
    }
    p += 8;
  }
  while (p < end && !stops_string((unsigned char)*p)) p++;
  return p;
}

/* Finds the end of the string whose opening quote is at s->p and checks its escapes.
 * Invalid UTF-8 passes as it is, as in cjson: the library hands strings on as bytes.
 * On success *body and *n are the bytes between the quotes and s->p is past the
 * closing one. */
static int string_scan(scan *s, const char **body, size_t *n, int *escaped) {
  const char *open = s->p, *p = s->p + 1, *end = s->end;
  *escaped = 0;
  for (;;) {
    p = string_run(p, end);
    if (p == end) return fail(s, "unterminated string", open);
    if (*p == '"') break;
    if (*p != '\\') return fail(s, "NUL byte in string", p);
    const char *esc = p++;
    *escaped = 1;
    if (p == end) return fail(s, "unterminated string", open);
    switch (*p) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        p++;
        break;
      case 'u': {
        unsigned u, lo;
        if (!json_hex4(p + 1, end, &u)) return fail(s, "invalid \\u escape", esc);
        p += 5;
        /* cjson refuses a surrogate that is not half of a \uD8xx\uDCxx pair: so do we. */
        if (json_is_low_surrogate(u)) return fail(s, "lone UTF-16 surrogate", esc);
        if (json_is_high_surrogate(u)) {
          if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !json_hex4(p + 2, end, &lo) || !json_is_low_surrogate(lo))
            return fail(s, "lone UTF-16 surrogate", esc);
          p += 6;
        }
        break;
      }
      default:
        return fail(s, "invalid escape", esc);
    }
  }
  *body = open + 1;
  *n = (size_t)(p - (open + 1));
  s->p = p + 1;
  return 1;
}


/* Writes the value of a string body that string_scan accepted. Every escape is longer
 * than what it stands for, so out needs room for n bytes at most. Returns the count. */
static size_t unescape(const char *p, size_t n, char *out) {
  const char *end = p + n;
  char *o = out;
  while (p < end) {
    if (*p != '\\') {
      *o++ = *p++;
      continue;
    }
    char c = p[1];
    p += 2;
    switch (c) {
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u': {
        unsigned u = 0, lo = 0;
        json_hex4(p, end, &u);
        p += 4;
        if (json_is_high_surrogate(u)) {
          json_hex4(p + 2, end, &lo);
          p += 6;
          u = json_join_surrogates(u, lo);
        }
        o += json_put_utf8(u, o);
        break;
      }
      default: *o++ = c; /* " \ / */
    }
  }
  return (size_t)(o - out);
}

static int skip_value(scan *s);

static int literal(scan *s, const char *word, size_t n) {
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return fail(s, "invalid literal", s->p);
  s->p += n;
  return 1;
}

static int is_word(int c) {
  return json_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '+' ||
         c == '-';
}

/* Strict JSON numbers only: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. cjson also takes
 * hex, inf, nan, "+1", "01" and "1."; no cloud sends those, and they are refused here. */
static int number(scan *s) {
  const char *start = s->p, *p = s->p, *end = s->end;
  if (p < end && *p == '-') p++;
  if (p < end && *p == '0') {
    p++;
  } else if (p < end && *p >= '1' && *p <= '9') {
    while (p < end && json_is_digit(*p)) p++;
  } else {
    return fail(s, "invalid number", start);
  }
  if (p < end && *p == '.') {
    if (++p == end || !json_is_digit(*p)) return fail(s, "invalid number", start);
    while (p < end && json_is_digit(*p)) p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (p == end || !json_is_digit(*p)) return fail(s, "invalid number", start);
    while (p < end && json_is_digit(*p)) p++;
  }
  /* "01", "0x1F", "1.e5": name the number, not the byte after its valid prefix. */
  if (p < end && is_word((unsigned char)*p)) return fail(s, "invalid number", start);
  s->p = p;
  return 1;
}

/* Called with the value of a wanted member (or array element) at s->p; the size_t is
 * the caller's context, an index rather than a pointer since s->r->subs may move. */
typedef int (*member_fn)(scan *s, int which, size_t ctx);

/* A member name looked for, with its length: strlen per member was a fifth of the time. */
typedef struct {
  const char *s;
  size_t n;
} name;
#define NAME(lit) {lit, sizeof lit - 1}
typedef int (*element_fn)(scan *s, size_t ctx);

/* Reads a member name; *which is its index in names (ended by a NULL name) or -1. Names
 * with escapes are compared unescaped ("st\u0061tus" is "status" to cjson too). */
static int member_name(scan *s, const name *names, int *which) {
  const char *k;
  size_t n;
  int escaped;
  char tmp[128]; /* longer escaped names cannot unescape to a name we look for */
  *which = -1;
  if (peek(s) != '"') return fail_here(s, "expected a member name");
  if (!string_scan(s, &k, &n, &escaped)) return 0;
  if (!names) return 1;
  if (escaped) {
    if (n > sizeof tmp) return 1;
    n = unescape(k, n, tmp);
    k = tmp;
  }
  for (int i = 0; names[i].s; i++) {
    if (names[i].n == n && names[i].s[0] == k[0] && memcmp(names[i].s, k, n) == 0) {
      *which = i;
      break;
    }
  }
  return 1;
}

/* Enters an object or array at s->p; cjson counts both kinds against one limit. */
static int enter(scan *s) {
  if (++s->depth > JOBSCAN_MAX_DEPTH) return fail(s, "nested too deep", s->p);
  s->p++;
  ws(s);
  return 1;
}

/* The object at s->p: members named in names go to fn, the others are skipped. */
static int object(scan *s, const name *names, member_fn fn, size_t ctx) {
  if (!enter(s)) return 0;
  if (peek(s) != '}') {
    for (;;) {
      int which;
      if (!member_name(s, names, &which)) return 0;
      ws(s);
      if (peek(s) != ':') return fail_here(s, "expected ':'");
      s->p++;
      ws(s);
      if (!(which < 0 ? skip_value(s) : fn(s, which, ctx))) return 0;
      ws(s);
      if (peek(s) != ',') break;
      s->p++;
      ws(s);
    }
    if (peek(s) != '}') return fail_here(s, "expected ',' or '}'");
  }
  s->p++;
  s->depth--;
  return 1;
}

/* The array at s->p: each element goes to fn, or is skipped when fn is NULL. */
static int array(scan *s, element_fn fn, size_t ctx) {
  if (!enter(s)) return 0;
  if (peek(s) != ']') {
    for (;;) {
      if (!(fn ? fn(s, ctx) : skip_value(s))) return 0;
      ws(s);
      if (peek(s) != ',') break;
      s->p++;
      ws(s);
    }
    if (peek(s) != ']') return fail_here(s, "expected ',' or ']'");
  }
  s->p++;
  s->depth--;
  return 1;
}

/* Checks any value and moves past it; allocates nothing. */
static int skip_value(scan *s) {
  const char *body;
  size_t n;
  int escaped, c = peek(s);
  switch (c) {
    case '{': return object(s, NULL, NULL, 0);
    case '[': return array(s, NULL, 0);
    case '"': return string_scan(s, &body, &n, &escaped);
    case 't': return literal(s, "true", 4);
    case 'f': return literal(s, "false", 5);
    case 'n': return literal(s, "null", 4);
    case -1: return fail_here(s, "expected a value");
    default:
      if (is_word(c)) return number(s);
      return fail(s, "unexpected character", s->p);
  }
}

/* Keeps the value at s->p in *dst when it is a string. Anything else (null, a number)
 * clears it: the caller wants a string or nothing, and a later duplicate must win. */
static int take(scan *s, jobscan_str *dst) {
  const char *body;
  size_t n;
  int escaped;
  memset(dst, 0, sizeof *dst);
  if (peek(s) != '"') return skip_value(s);
  if (!string_scan(s, &body, &n, &escaped)) return 0;
  if (escaped) {
    cbuf *a = &s->r->arena;
    if (!cbuf_reserve(a, n)) return nomem(s);
    dst->off = a->len;
    dst->len = unescape(body, n, a->data + a->len);
    dst->in_arena = 1;
    a->len += dst->len;
  } else {
    dst->off = (size_t)(body - s->base);
    dst->len = n;
  }
  dst->set = 1;
  return 1;
}

/* The top level and each sub-job have these members first, in field order. */
static const name JOB_NAMES[] = {NAME("status"), NAME("error_code"), NAME("fail_reason"),
                                 NAME("entities"), {NULL, 0}};
static const name ENTITIES_NAMES[] = {NAME("sub_jobs"), {NULL, 0}};
static const name SUB_ENTITIES_NAMES[] = {NAME("server_id"), NAME("errorcode_message"), {NULL, 0}};

static int sub_entities_member(scan *s, int which, size_t i) {
  return take(s, &s->r->subs[i].f[JOBSCAN_SERVER_ID + which]);
}

static int same_str(const scan *s, jobscan_str a, jobscan_str b) {
  return a.set && b.set && a.len == b.len &&
         memcmp(jobscan_ptr(s->r, s->base, a), jobscan_ptr(s->r, s->base, b), a.len) == 0;
}

/* One element of a sub-job's entities in the array form (the BMS job table documents
 * "entities" as an array of objects; the examples and SDKs show one object). Its members
 * are read as the object form's; a later element naming another server than an earlier
 * one makes the sub-job name none, so its server is looked up rather than guessed. */
static int sub_entities_element(scan *s, size_t i) {
  jobscan_str before = s->r->subs[i].f[JOBSCAN_SERVER_ID];
  if (peek(s) != '{') return skip_value(s);
  if (!object(s, SUB_ENTITIES_NAMES, sub_entities_member, i)) return 0;
  jobscan_sub *sub = &s->r->subs[i];
  if (before.set && !same_str(s, before, sub->f[JOBSCAN_SERVER_ID])) sub->ids_disagree = 1;
  return 1;
}

static int sub_member(scan *s, int which, size_t i) {
  jobscan_sub *sub = &s->r->subs[i];
  if (which < JOBSCAN_NTOP) return take(s, &sub->f[which]);
  /* A repeated "entities" replaces the earlier one whole, whatever its type. */
  memset(&sub->f[JOBSCAN_SERVER_ID], 0, sizeof sub->f[0]);
  memset(&sub->f[JOBSCAN_ERRORCODE_MESSAGE], 0, sizeof sub->f[0]);
  sub->ids_disagree = 0;
  if (peek(s) == '[') {
    if (!array(s, sub_entities_element, i)) return 0;
    sub = &s->r->subs[i];
    if (sub->ids_disagree) memset(&sub->f[JOBSCAN_SERVER_ID], 0, sizeof sub->f[0]);
    return 1;
  }
  if (peek(s) != '{') return skip_value(s);
  return object(s, SUB_ENTITIES_NAMES, sub_entities_member, i);
}

/* One element of sub_jobs: counted whatever it is, so indexes match cjson's array. */
static int sub_job(scan *s, size_t unused) {
  jobscan_result *r = s->r;
  (void)unused;
  if (r->nsubs == r->subs_cap) {
    size_t cap = r->subs_cap ? r->subs_cap * 2 : 64;
    if (cap > (size_t)-1 / sizeof *r->subs) return nomem(s);
    jobscan_sub *grown = realloc(r->subs, cap * sizeof *grown);
    if (!grown) return nomem(s);
    r->subs = grown;
    r->subs_cap = cap;
  }
  size_t i = r->nsubs++;
  memset(&r->subs[i], 0, sizeof r->subs[i]);
  if (peek(s) != '{') return skip_value(s);
  return object(s, JOB_NAMES, sub_member, i);
}

static int entities_member(scan *s, int which, size_t unused) {
  (void)which, (void)unused;
  s->r->nsubs = 0; /* a repeated "sub_jobs" replaces the earlier one */
  if (peek(s) != '[') return skip_value(s);
  return array(s, sub_job, 0);
}

static int top_member(scan *s, int which, size_t unused) {
  (void)unused;
  if (which < JOBSCAN_NTOP) return take(s, &s->r->top[which]);
  s->r->nsubs = 0; /* likewise for a repeated "entities" */
  if (peek(s) != '{') return skip_value(s);
  return object(s, ENTITIES_NAMES, entities_member, 0);
}

void jobscan_init(jobscan_result *r) {
  memset(r, 0, sizeof *r);
  cbuf_init(&r->arena);
}

void jobscan_free(jobscan_result *r) {
  free(r->subs);
  cbuf_free(&r->arena);
  jobscan_init(r);
}

void jobscan_shrink(jobscan_result *r, size_t keep) {
  if (r->arena.cap > keep) cbuf_free(&r->arena);
  if (r->subs_cap > keep / sizeof *r->subs) {
    free(r->subs);
    r->subs = NULL;
    r->subs_cap = r->nsubs = 0;
  }
}

int jobscan_parse(jobscan_result *r, const char *p, size_t n) {
  memset(r->top, 0, sizeof r->top);
  r->nsubs = 0;
  r->arena.len = 0;
  r->arena.oom = 0; /* a past failure need not repeat */
  r->error = NULL;
  r->error_at = 0;
  if (!p) p = ""; /* n is 0 then; no arithmetic on NULL */
  scan s = {p, p, p + n, r, 0, 0};
  ws(&s);
  int ok;
  if (peek(&s) != '{') {
    ok = fail_here(&s, "the top level is not an object");
  } else {
    ok = object(&s, JOB_NAMES, top_member, 0);
    if (ok) {
      ws(&s);
      if (s.p != s.end) ok = fail(&s, "trailing characters after the object", s.p);
    }
  }
  if (ok) return JOBSCAN_OK;
  /* Nothing half-read is handed out. */
  memset(r->top, 0, sizeof r->top);
  r->nsubs = 0;
  return s.nomem ? JOBSCAN_ENOMEM : JOBSCAN_EINVALID;
}
