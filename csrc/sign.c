#include "sign.h"
#include "hex.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define SHA256_LEN 32

static const char ALGORITHM[] = "SDK-HMAC-SHA256";
static const char EMPTY_SHA256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct sign_ctx {
  EVP_MD *sha256;
  EVP_MD_CTX *md;
  EVP_MAC *hmac;
  EVP_MAC_CTX *mac;
};

/* A one-byte key replaces the SK in the MAC context after each use, so the module's
 * long-lived context never keeps key material between calls. */
static const unsigned char NO_KEY[1] = {0};

struct sign_key {
  EVP_MAC_CTX *mac;
};

static EVP_MAC_CTX *hmac_sha256_ctx(EVP_MAC *hmac) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  EVP_MAC_CTX *c = EVP_MAC_CTX_new(hmac);
  if (c && !EVP_MAC_CTX_set_params(c, params)) {
    EVP_MAC_CTX_free(c);
    c = NULL;
  }
  return c;
}

sign_key *sign_key_new(const char *sk, size_t n) {
  sign_key *k = calloc(1, sizeof *k);
  EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  if (k && hmac) k->mac = hmac_sha256_ctx(hmac);
  EVP_MAC_free(hmac); /* the context keeps its own reference */
  if (!k || !k->mac || !EVP_MAC_init(k->mac, (const unsigned char *)sk, n, NULL)) {
    sign_key_free(k);
    return NULL;
  }
  return k;
}

void sign_key_free(sign_key *k) {
  if (!k) return;
  EVP_MAC_CTX_free(k->mac); /* cleanses the key */
  free(k);
}

void sign_ctx_free(sign_ctx *c) {
  if (!c) return;
  EVP_MAC_CTX_free(c->mac); /* cleanses its key */
  EVP_MAC_free(c->hmac);
  EVP_MD_CTX_free(c->md);
  EVP_MD_free(c->sha256);
  free(c);
}

sign_ctx *sign_ctx_new(void) {
  sign_ctx *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  c->md = EVP_MD_CTX_new();
  c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  c->mac = c->hmac ? hmac_sha256_ctx(c->hmac) : NULL;
  if (!c->sha256 || !c->md || !c->mac || !EVP_MAC_init(c->mac, NO_KEY, sizeof NO_KEY, NULL)) {
    sign_ctx_free(c);
    return NULL;
  }
  return c;
}

void sign_result_init(sign_result *r) {
  memset(r, 0, sizeof *r);
}

void sign_result_reset(sign_result *r) {
  cbuf *all[] = {&r->canonical_request, &r->string_to_sign, &r->signed_headers,
                 &r->query_string, &r->authorization};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
    all[i]->len = 0;
    all[i]->oom = 0;
  }
  r->signature[0] = '\0';
}

void sign_result_free(sign_result *r) {
  cbuf_free(&r->canonical_request);
  cbuf_free(&r->string_to_sign);
  cbuf_free(&r->signed_headers);
  cbuf_free(&r->query_string);
  cbuf_free(&r->authorization);
  r->signature[0] = '\0';
}

static int sha256_hex(sign_ctx *c, const void *p, size_t n, cbuf *out) {
  unsigned char md[SHA256_LEN];
  unsigned int len = 0;
  if (!EVP_DigestInit_ex(c->md, c->sha256, NULL) || !EVP_DigestUpdate(c->md, p, n) ||
      !EVP_DigestFinal_ex(c->md, md, &len))
    return 0;
  cbuf_addhex(out, md, len);
  return 1;
}

static int mac_run(EVP_MAC_CTX *mac, const unsigned char *key, size_t keylen, const cbuf *data,
                   unsigned char out[SHA256_LEN]) {
  size_t len = 0;
  /* A NULL key restarts with the key already set. */
  return EVP_MAC_init(mac, key, keylen, NULL) &&
         EVP_MAC_update(mac, (const unsigned char *)data->data, data->len) &&
         EVP_MAC_final(mac, out, &len, SHA256_LEN) && len == SHA256_LEN;
}

static int hmac_sha256(sign_ctx *c, const sign_request *q, const cbuf *data,
                       unsigned char out[SHA256_LEN]) {
  if (q->key) return mac_run(q->key->mac, NULL, 0, data, out);
  int ok = mac_run(c->mac, (const unsigned char *)q->sk.p, q->sk.n, data, out);
  /* Re-key at once: the SK's pads must not outlive this call in a shared context. */
  ok &= EVP_MAC_init(c->mac, NO_KEY, sizeof NO_KEY, NULL);
  return ok;
}

/* A signed X-Sdk-Content-Sha256 stands in for the body hash. */
static const cpair *content_sha256(const sign_request *q) {
  for (size_t i = 0; i < q->nheaders; i++)
    if (canon_name_is(q->headers[i].name, "x-sdk-content-sha256")) return &q->headers[i];
  return NULL;
}

static int sign_with(sign_ctx *c, const sign_request *q, sign_result *r, size_t *bad) {
  cbuf *cr = &r->canonical_request, *sts = &r->string_to_sign;
  size_t dup;
  /* Most of the canonical request is known up front: one allocation, not several. */
  if (!cbuf_reserve(cr, q->method.n + 3 * q->path.n + 256 + 64 * q->nheaders + 16 * q->nquery))
    return SIGN_ENOMEM;

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
  } else if (!sha256_hex(c, q->body.p, q->body.n, cr)) {
    return SIGN_ECRYPTO;
  }
  if (cr->oom || r->query_string.oom || r->signed_headers.oom) return SIGN_ENOMEM;

  cbuf_adds(sts, ALGORITHM);
  cbuf_addc(sts, '\n');
  cbuf_add(sts, q->date.p, q->date.n);
  cbuf_addc(sts, '\n');
  if (!sha256_hex(c, cr->data, cr->len, sts)) return SIGN_ECRYPTO;
  if (sts->oom) return SIGN_ENOMEM;

  unsigned char mac[SHA256_LEN];
  if (!hmac_sha256(c, q, sts, mac)) return SIGN_ECRYPTO;
  hex_encode(r->signature, mac, SHA256_LEN);
  r->signature[2 * SHA256_LEN] = '\0';

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

int sign_request_sign(sign_ctx *ctx, const sign_request *q, sign_result *r, size_t *bad) {
  sign_result_reset(r);
  if (ctx) return sign_with(ctx, q, r, bad);
  sign_ctx *tmp = sign_ctx_new();
  if (!tmp) return SIGN_ECRYPTO;
  int rc = sign_with(tmp, q, r, bad);
  sign_ctx_free(tmp);
  return rc;
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
