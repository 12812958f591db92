/* libFuzzer target for the signer's pure C core (csrc/canon.c, csrc/sign.c).
 *
 * Input layout, fields separated by 0xFF:
 *   method 0xFF path 0xFF query 0xFF headers 0xFF body 0xFF sk
 * query and headers hold entries separated by 0xFE, each "name 0xFD value".
 * Besides "no crash, no leak, no UB", it checks the output shapes promised by
 * docs/reference/SIGNING.md, recomputing what it can without the code under test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../csrc/canon.h"
#include "../csrc/sign.h"

#define MAXPAIRS 64

#include "check.h"

/* Cuts the next field off *s at byte sep (or the end). */
static cstr next_field(cstr *s, unsigned char sep) {
  cstr f = {s->p, 0};
  while (f.n < s->n && (unsigned char)s->p[f.n] != sep) f.n++;
  size_t used = f.n < s->n ? f.n + 1 : f.n;
  s->p += used;
  s->n -= used;
  return f;
}

static size_t split_pairs(cstr s, cpair *out) {
  size_t n = 0;
  while (s.n && n < MAXPAIRS) {
    cstr entry = next_field(&s, 0xFE);
    out[n].name = next_field(&entry, 0xFD);
    out[n].value = entry;
    n++;
  }
  return n;
}

static int is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.' || c == '~';
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1; /* lowercase hex is not allowed in the canonical form */
}

/* Decodes an encoded run p[0..n) into out (size >= n); checks it only holds
 * unreserved bytes and "%XX" with uppercase hex. Returns the decoded length. */
static size_t decode_strict(const char *p, size_t n, char *out) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '%') {
      CHECK(i + 2 < n); /* room for XX */
      int hi = hexval(p[i + 1]), lo = hexval(p[i + 2]);
      CHECK(hi >= 0 && lo >= 0);
      unsigned char d = (unsigned char)(hi << 4 | lo);
      CHECK(!is_unreserved(d)); /* unreserved bytes are never encoded */
      out[k++] = (char)d;
      i += 2;
    } else {
      CHECK(is_unreserved(c));
      out[k++] = (char)c;
    }
  }
  return k;
}

static int bytes_cmp(cstr a, cstr b) {
  size_t n = a.n < b.n ? a.n : b.n;
  int c = n ? memcmp(a.p, b.p, n) : 0;
  return c ? c : (a.n > b.n) - (a.n < b.n);
}

static int eq(cstr a, const char *p, size_t n) { return a.n == n && (!n || !memcmp(a.p, p, n)); }

static void check_encode(cstr s) {
  cbuf b;
  cbuf_init(&b);
  canon_encode(&b, s.p, s.n);
  CHECK(!b.oom);
  char *dec = malloc(b.len + 1);
  CHECK(dec);
  CHECK(eq(s, dec, decode_strict(b.data, b.len, dec)));
  free(dec);
  cbuf_free(&b);
}

static void check_uri(cstr path) {
  cbuf b;
  cbuf_init(&b);
  canon_uri(&b, path);
  CHECK(!b.oom && b.len > 0 && b.data[b.len - 1] == '/');
  /* Decode segment by segment; the result is the path plus a final '/' if it lacked one. */
  char *dec = malloc(b.len + 1);
  CHECK(dec);
  size_t k = 0, start = 0;
  for (size_t i = 0; i < b.len; i++) {
    if (b.data[i] == '/') {
      k += decode_strict(b.data + start, i - start, dec + k);
      dec[k++] = '/';
      start = i + 1;
    }
  }
  if (path.n == 0) {
    CHECK(eq((cstr){"/", 1}, dec, k));
  } else if (path.p[path.n - 1] == '/') {
    CHECK(eq(path, dec, k));
  } else {
    CHECK(k == path.n + 1 && !memcmp(dec, path.p, path.n) && dec[path.n] == '/');
  }
  free(dec);
  cbuf_free(&b);
}

static void check_query(const cpair *given, size_t n) {
  cpair pairs[MAXPAIRS];
  memcpy(pairs, given, n * sizeof *pairs);
  cbuf b;
  cbuf_init(&b);
  canon_query(&b, pairs, n);
  CHECK(!b.oom);
  /* In place reorder: a permutation of the input, sorted by (name, value). */
  for (size_t i = 0; i < n; i++) {
    size_t same_in = 0, same_out = 0;
    for (size_t j = 0; j < n; j++) {
      same_in += given[j].name.p == pairs[i].name.p && given[j].value.p == pairs[i].value.p;
      same_out += pairs[j].name.p == pairs[i].name.p && pairs[j].value.p == pairs[i].value.p;
    }
    CHECK(same_in == same_out);
    if (i) {
      int c = bytes_cmp(pairs[i - 1].name, pairs[i].name);
      CHECK(c < 0 || (c == 0 && bytes_cmp(pairs[i - 1].value, pairs[i].value) <= 0));
    }
  }
  /* The string is "k=v" joined by '&', each part decoding to the sorted pair. */
  char *dec = malloc(b.len + 1);
  CHECK(dec);
  size_t pos = 0;
  for (size_t i = 0; i < n; i++) {
    if (i) CHECK(pos < b.len && b.data[pos++] == '&');
    size_t end = pos;
    while (end < b.len && b.data[end] != '=' && b.data[end] != '&') end++;
    CHECK(end < b.len && b.data[end] == '=');
    CHECK(eq(pairs[i].name, dec, decode_strict(b.data + pos, end - pos, dec)));
    pos = end + 1;
    end = pos;
    while (end < b.len && b.data[end] != '&') end++;
    CHECK(eq(pairs[i].value, dec, decode_strict(b.data + pos, end - pos, dec)));
    pos = end;
  }
  CHECK(pos == b.len);
  free(dec);
  cbuf_free(&b);
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int same_name_ci(cstr a, cstr b) {
  if (a.n != b.n) return 0;
  for (size_t i = 0; i < a.n; i++)
    if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i])) return 0;
  return 1;
}

/* Keeps only what the Lua binding lets through: token names, CR/LF/NUL-free values. */
static size_t valid_headers(cpair *h, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (canon_is_token(h[i].name) && canon_is_field_value(h[i].value)) h[k++] = h[i];
  return k;
}

static int has_dup(const cpair *h, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      if (same_name_ci(h[i].name, h[j].name)) return 1;
  return 0;
}

static void check_trim(cstr v) {
  cstr t = canon_trim(v);
  CHECK(t.p >= v.p && t.p + t.n <= v.p + v.n);
  if (t.n) {
    CHECK(t.p[0] != ' ' && t.p[0] != '\t');
    CHECK(t.p[t.n - 1] != ' ' && t.p[t.n - 1] != '\t');
  }
  for (const char *c = v.p; c < t.p; c++) CHECK(*c == ' ' || *c == '\t');
  for (const char *c = t.p + t.n; c < v.p + v.n; c++) CHECK(*c == ' ' || *c == '\t');
}

/* Expects n valid headers; returns 1 when canon_headers accepted them. */
static int check_headers(const cpair *given, size_t n) {
  cpair h[MAXPAIRS];
  memcpy(h, given, n * sizeof *h);
  cbuf lines, names;
  cbuf_init(&lines);
  cbuf_init(&names);
  size_t dup = canon_headers(&lines, &names, h, n);
  CHECK(!lines.oom && !names.oom);
  CHECK(!dup == !has_dup(given, n));
  if (dup) {
    CHECK(dup >= 2 && dup <= n && same_name_ci(h[dup - 2].name, h[dup - 1].name));
  } else {
    size_t lp = 0, np = 0;
    for (size_t i = 0; i < n; i++) {
      cstr v = canon_trim(h[i].value);
      check_trim(h[i].value);
      /* line i: lower(name) ":" trim(value) "\n" */
      CHECK(lp + h[i].name.n + 2 + v.n <= lines.len);
      for (size_t j = 0; j < h[i].name.n; j++) {
        char c = lines.data[lp + j];
        CHECK(c == lower((unsigned char)h[i].name.p[j]));
        CHECK(names.data[np + j] == c);
      }
      lp += h[i].name.n;
      CHECK(lines.data[lp++] == ':');
      CHECK(!v.n || !memcmp(lines.data + lp, v.p, v.n));
      lp += v.n;
      CHECK(lines.data[lp++] == '\n');
      np += h[i].name.n;
      CHECK(np == names.len ? i == n - 1 : names.data[np++] == ';');
      /* strictly increasing lowercased names: the order SignedHeaders needs */
      if (i) {
        size_t a = h[i - 1].name.n, b = h[i].name.n, m = a < b ? a : b, j = 0;
        while (j < m && lower((unsigned char)h[i - 1].name.p[j]) == lower((unsigned char)h[i].name.p[j])) j++;
        CHECK(j < m ? lower((unsigned char)h[i - 1].name.p[j]) < lower((unsigned char)h[i].name.p[j]) : a < b);
      }
    }
    CHECK(lp == lines.len && np == names.len);
  }
  cbuf_free(&lines);
  cbuf_free(&names);
  return !dup;
}

static void hex(const unsigned char *p, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]);
}

static void check_sign(sign_request *q, int accepted) {
  sign_result r;
  sign_result_init(&r);
  size_t bad = (size_t)-1;
  /* One long-lived context, as the Lua module keeps: reuse across inputs is exercised. */
  static sign_ctx *ctx;
  if (!ctx) ctx = sign_ctx_new();
  CHECK(ctx != NULL);
  int rc = sign_request_sign(ctx, q, &r, &bad);
  if (!accepted) {
    CHECK(rc == SIGN_EDUPHEADER && bad < q->nheaders);
    sign_result_free(&r);
    return;
  }
  CHECK(rc == SIGN_OK);
  for (int i = 0; i < 64; i++)
    CHECK((r.signature[i] >= '0' && r.signature[i] <= '9') || (r.signature[i] >= 'a' && r.signature[i] <= 'f'));
  CHECK(r.signature[64] == '\0');

  /* The canonical request starts with the method and the canonical URI and query. */
  cbuf head;
  cbuf_init(&head);
  cbuf_add(&head, q->method.p, q->method.n);
  cbuf_addc(&head, '\n');
  canon_uri(&head, q->path);
  cbuf_addc(&head, '\n');
  cbuf_add(&head, r.query_string.data, r.query_string.len);
  cbuf_addc(&head, '\n');
  CHECK(r.canonical_request.len > head.len && !memcmp(r.canonical_request.data, head.data, head.len));
  cbuf_free(&head);

  /* It ends with the payload hash, unless a signed X-Sdk-Content-Sha256 stands in. */
  int content = 0;
  for (size_t i = 0; i < q->nheaders; i++)
    content |= same_name_ci(q->headers[i].name, (cstr){"x-sdk-content-sha256", 20});
  unsigned char md[32];
  char mdhex[65];
  if (!content) {
    CHECK(EVP_Digest(q->body.n ? q->body.p : "", q->body.n, md, NULL, EVP_sha256(), NULL));
    hex(md, 32, mdhex);
    CHECK(r.canonical_request.len >= 65 &&
          !memcmp(r.canonical_request.data + r.canonical_request.len - 65, "\n", 1) &&
          !memcmp(r.canonical_request.data + r.canonical_request.len - 64, mdhex, 64));
  }

  /* String to sign and signature, recomputed with the same library. */
  CHECK(EVP_Digest(r.canonical_request.data, r.canonical_request.len, md, NULL, EVP_sha256(), NULL));
  hex(md, 32, mdhex);
  char sts[128];
  int stslen = snprintf(sts, sizeof sts, "SDK-HMAC-SHA256\n%.*s\n%s", (int)q->date.n, q->date.p, mdhex);
  CHECK(eq((cstr){r.string_to_sign.data, r.string_to_sign.len}, sts, (size_t)stslen));
  unsigned char mac[32];
  CHECK(HMAC(EVP_sha256(), q->sk.p, (int)q->sk.n,
             (const unsigned char *)sts, (size_t)stslen, mac, NULL));
  hex(mac, 32, mdhex);
  CHECK(!memcmp(mdhex, r.signature, 64));

  char auth[4096];
  int alen = snprintf(auth, sizeof auth, "SDK-HMAC-SHA256 Access=%.*s, SignedHeaders=%.*s, Signature=%s",
                      (int)q->ak.n, q->ak.p, (int)r.signed_headers.len,
                      r.signed_headers.len ? r.signed_headers.data : "", r.signature);
  if ((size_t)alen < sizeof auth)
    CHECK(eq((cstr){r.authorization.data, r.authorization.len}, auth, (size_t)alen));

  /* Signing again (headers and query now sorted by the first call) gives the same bytes. */
  sign_result r2;
  sign_result_init(&r2);
  CHECK(sign_request_sign(NULL, q, &r2, NULL) == SIGN_OK); /* temporary contexts */
  CHECK(!strcmp(r.signature, r2.signature));
  CHECK(eq((cstr){r.canonical_request.data, r.canonical_request.len}, r2.canonical_request.data,
           r2.canonical_request.len));
  sign_result_free(&r2);
  sign_result_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cstr in = {(const char *)data, size};
  check_encode(in); /* every byte value, not just the ones the separators leave */

  cstr method = next_field(&in, 0xFF);
  cstr path = next_field(&in, 0xFF);
  cstr query = next_field(&in, 0xFF);
  cstr headers = next_field(&in, 0xFF);
  cstr body = next_field(&in, 0xFF);
  cstr sk = next_field(&in, 0xFF);

  check_uri(path);
  cpair qp[MAXPAIRS], hp[MAXPAIRS];
  size_t nq = split_pairs(query, qp);
  check_query(qp, nq);
  size_t nh = split_pairs(headers, hp);
  for (size_t i = 0; i < nh; i++) check_trim(hp[i].value);
  nh = valid_headers(hp, nh);
  int accepted = check_headers(hp, nh);

  /* What the binding passes: a token method, a non-empty SK; date and AK fixed. */
  if (!canon_is_token(method)) method = (cstr){"POST", 4};
  if (sk.n == 0) sk = (cstr){"SK", 2};
  sign_request q = {
      .method = method, .host = {"h", 1}, .path = path, .query = qp, .nquery = nq,
      .headers = hp, .nheaders = nh, .body = body.n ? body : (cstr){NULL, 0},
      .ak = {"AK", 2}, .sk = sk, .date = {"20261122T101500Z", 16},
  };
  check_sign(&q, accepted);
  return 0;
}
