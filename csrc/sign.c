#include "sign.h"

#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SHA256_LEN 32

static const char ALGORITHM[] = "SDK-HMAC-SHA256";
static const char EMPTY_SHA256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

void sign_result_init(sign_result *r) {
  memset(r, 0, sizeof *r);
}

void sign_result_free(sign_result *r) {
  cbuf_free(&r->canonical_request);
  cbuf_free(&r->string_to_sign);
  cbuf_free(&r->signed_headers);
  cbuf_free(&r->query_string);
  cbuf_free(&r->authorization);
  r->signature[0] = '\0';
}

static int sha256_hex(const void *p, size_t n, cbuf *out) {
  unsigned char md[SHA256_LEN];
  unsigned int len = 0;
  if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL)) return 0;
  cbuf_addhex(out, md, len);
  return 1;
}

static int header_is(cstr name, const char *lower) {
  size_t n = strlen(lower);
  if (name.n != n) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = name.p[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    if (c != lower[i]) return 0;
  }
  return 1;
}

/* A signed X-Sdk-Content-Sha256 stands in for the body hash. */
static const cpair *content_sha256(const sign_request *q) {
  for (size_t i = 0; i < q->nheaders; i++)
    if (header_is(q->headers[i].name, "x-sdk-content-sha256")) return &q->headers[i];
  return NULL;
}

int sign_request_sign(const sign_request *q, sign_result *r, size_t *bad) {
  cbuf *cr = &r->canonical_request, *sts = &r->string_to_sign;
  size_t dup;

  cbuf_add(cr, q->method.p, q->method.n);
  cbuf_addc(cr, '\n');
  canon_uri(cr, q->path);
  cbuf_addc(cr, '\n');
  canon_query(&r->query_string, q->query, q->nquery);
  cbuf_add(cr, r->query_string.data, r->query_string.len);
  cbuf_addc(cr, '\n');
  dup = canon_headers(cr, &r->signed_headers, q->headers, q->nheaders);
  if (dup) {
    if (bad) *bad = dup - 1;
    return SIGN_EDUPHEADER;
  }
  cbuf_addc(cr, '\n');
  cbuf_add(cr, r->signed_headers.data, r->signed_headers.len);
  cbuf_addc(cr, '\n');

  const cpair *content = content_sha256(q);
  if (content) {
    cstr v = canon_trim(content->value);
    cbuf_add(cr, v.p, v.n);
  } else if (q->body.n == 0) {
    cbuf_add(cr, EMPTY_SHA256, sizeof EMPTY_SHA256 - 1);
  } else if (!sha256_hex(q->body.p, q->body.n, cr)) {
    return SIGN_ECRYPTO;
  }
  if (cr->oom || r->query_string.oom || r->signed_headers.oom) return SIGN_ENOMEM;

  cbuf_adds(sts, ALGORITHM);
  cbuf_addc(sts, '\n');
  cbuf_add(sts, q->date.p, q->date.n);
  cbuf_addc(sts, '\n');
  if (!sha256_hex(cr->data, cr->len, sts)) return SIGN_ECRYPTO;
  if (sts->oom) return SIGN_ENOMEM;

  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  if (!HMAC(EVP_sha256(), q->sk.p, (int)q->sk.n, (const unsigned char *)sts->data, sts->len, mac,
            &maclen))
    return SIGN_ECRYPTO;
  if (maclen != SHA256_LEN) return SIGN_ECRYPTO;
  static const char digits[] = "0123456789abcdef";
  for (unsigned int i = 0; i < maclen; i++) {
    r->signature[2 * i] = digits[mac[i] >> 4];
    r->signature[2 * i + 1] = digits[mac[i] & 15];
  }
  r->signature[64] = '\0';

  cbuf *a = &r->authorization;
  cbuf_adds(a, ALGORITHM);
  cbuf_adds(a, " Access=");
  cbuf_add(a, q->ak.p, q->ak.n);
  cbuf_adds(a, ", SignedHeaders=");
  cbuf_add(a, r->signed_headers.data, r->signed_headers.len);
  cbuf_adds(a, ", Signature=");
  cbuf_add(a, r->signature, 64);
  return a->oom ? SIGN_ENOMEM : SIGN_OK;
}

void sign_format_date(long long t, char out[17]) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

int sign_is_date(cstr s) {
  static const char shape[] = "ddddddddTddddddZ";
  if (s.n != sizeof shape - 1) return 0;
  for (size_t i = 0; i < s.n; i++) {
    if (shape[i] == 'd' ? (s.p[i] < '0' || s.p[i] > '9') : s.p[i] != shape[i]) return 0;
  }
  return 1;
}
