/* SDK-HMAC-SHA256 request signing: a pure function over buffers (no Lua), so it
 * can be unit-tested, fuzzed and called through LuaJIT's FFI. */
#ifndef CLOUD_SIGN_H
#define CLOUD_SIGN_H

#include "canon.h"

typedef struct {
  cstr method;
  cstr host;   /* as sent in Host, with ":port" when the URL names one */
  cstr path;   /* decoded; the signer encodes each segment */
  cpair *query;   /* stringified pairs, one per value; reordered in place */
  size_t nquery;
  cpair *headers; /* every header to sign, Host and X-Sdk-Date included; reordered */
  size_t nheaders;
  cstr body;      /* the exact bytes sent; p may be NULL for none */
  cstr ak, sk, date;
  const struct sign_key *key; /* when set, used instead of sk (faster: keyed once) */
} sign_request;

typedef struct {
  cbuf canonical_request;
  cbuf string_to_sign;
  cbuf signed_headers;
  cbuf query_string;
  cbuf authorization;
  char signature[65];
} sign_result;

enum {
  SIGN_OK = 0,
  SIGN_ENOMEM,
  SIGN_EDUPHEADER, /* two headers with the same lowercased name: *bad is its index */
  SIGN_ECRYPTO
};

/* Hashing state kept between calls: the algorithms are fetched once and the contexts
 * reused, which is most of the cost of signing a small request. Not thread-safe:
 * one per Lua state. */
typedef struct sign_ctx sign_ctx;

/* An SK held as a keyed HMAC-SHA256 context: keyed once, reused for every signature,
 * cleansed when freed. */
typedef struct sign_key sign_key;

sign_key *sign_key_new(const char *sk, size_t n);
void sign_key_free(sign_key *k);

sign_ctx *sign_ctx_new(void);
void sign_ctx_free(sign_ctx *c);

void sign_result_init(sign_result *r);
/* Empties the buffers but keeps their memory, for the next call. */
void sign_result_reset(sign_result *r);
void sign_result_free(sign_result *r);

/* Fills r (reset first). ctx may be NULL: temporary contexts are made. On
 * SIGN_EDUPHEADER, *bad is the index (after sorting) of the repeated header. */
int sign_request_sign(sign_ctx *ctx, const sign_request *q, sign_result *r, size_t *bad);

/* Writes "YYYYMMDDTHHMMSSZ" for t (UTC) into out[17]. */
void sign_format_date(long long t, char out[17]);
/* 1 when s has exactly that shape. */
int sign_is_date(cstr s);

#endif
