/* The floor under core.sign: only the crypto a SDK-HMAC-SHA256 signer cannot avoid,
 * on the same bytes, with the same library (OpenSSL EVP):
 *   SHA-256(body), SHA-256(canonical request), HMAC-SHA256(SK, string to sign).
 * usage: floor NAME BODY_FILE CR_FILE STS_FILE SK SIGNATURE
 * The files hold the vector's exact body, expected canonical_request and string_to_sign;
 * the results are checked against them and SIGNATURE before timing.
 * Prints two lines:
 *   floor ... mode=reuse   algorithms fetched once, contexts reused: the real floor
 *   floor ... mode=oneshot EVP_Digest + HMAC() per call, the calls csrc/sign.c makes */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char *body, *cr, *sts, *sk;
static size_t body_n, cr_n, sts_n, sk_n;
static unsigned char out_body[32], out_cr[32], out_mac[32];

static EVP_MD *md;
static EVP_MD_CTX *mdctx;
static EVP_MAC_CTX *macctx;

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  rewind(f);
  char *p = malloc(*n + 1);
  if (!p || fread(p, 1, *n, f) != *n) { perror(path); exit(2); }
  fclose(f);
  return p;
}

static void digest(const void *p, size_t n, unsigned char *out) {
  EVP_DigestInit_ex(mdctx, md, NULL);
  EVP_DigestUpdate(mdctx, p, n);
  EVP_DigestFinal_ex(mdctx, out, NULL);
}

static void work_reuse(void) {
  size_t len;
  digest(body, body_n, out_body);
  digest(cr, cr_n, out_cr);
  /* Re-keying each call: a signer is handed the SK per request. */
  EVP_MAC_init(macctx, (const unsigned char *)sk, sk_n, NULL);
  EVP_MAC_update(macctx, (const unsigned char *)sts, sts_n);
  EVP_MAC_final(macctx, out_mac, &len, sizeof out_mac);
}

static void work_oneshot(void) {
  EVP_Digest(body, body_n, out_body, NULL, EVP_sha256(), NULL);
  EVP_Digest(cr, cr_n, out_cr, NULL, EVP_sha256(), NULL);
  HMAC(EVP_sha256(), sk, (int)sk_n, (const unsigned char *)sts, sts_n, out_mac, NULL);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double time_loop(void (*work)(void), long n) {
  double t0 = now();
  for (long i = 0; i < n; i++) work();
  return now() - t0;
}

static void hex(const unsigned char *p, char *out) {
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", p[i]);
}

/* The outputs must be the vector's: the hash lines inside cr and sts, and the signature. */
static void verify(const char *mode, const char *signature) {
  char h[65];
  hex(out_body, h);
  if (cr_n < 64 || memcmp(cr + cr_n - 64, h, 64)) { fprintf(stderr, "%s: body hash differs\n", mode); exit(1); }
  hex(out_cr, h);
  if (sts_n < 64 || memcmp(sts + sts_n - 64, h, 64)) { fprintf(stderr, "%s: cr hash differs\n", mode); exit(1); }
  hex(out_mac, h);
  if (strcmp(h, signature)) { fprintf(stderr, "%s: signature differs\n", mode); exit(1); }
}

static void bench(const char *name, const char *mode, void (*work)(void), const char *signature) {
  const int rounds = getenv("BENCH_ROUNDS") ? atoi(getenv("BENCH_ROUNDS")) : 7;
  const double round_s = getenv("BENCH_ROUND_SECONDS") ? atof(getenv("BENCH_ROUND_SECONDS")) : 0.25;
  memset(out_mac, 0, sizeof out_mac);
  work();
  verify(mode, signature);
  long n = 1;
  while (time_loop(work, n) < round_s / 10) n *= 2;
  n = (long)(n * round_s / time_loop(work, n)) + 1;
  double best = 1e30;
  for (int r = 0; r < rounds; r++) {
    double t = time_loop(work, n) / (double)n;
    if (t < best) best = t;
  }
  printf("floor impl=openssl-%s request=%s body_bytes=%zu ns_per_call=%.0f iters=%ld rounds=%d\n",
         mode, name, body_n, best * 1e9, n, rounds);
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s NAME BODY_FILE CR_FILE STS_FILE SK SIGNATURE\n", argv[0]);
    return 2;
  }
  body = slurp(argv[2], &body_n);
  cr = slurp(argv[3], &cr_n);
  sts = slurp(argv[4], &sts_n);
  sk = argv[5];
  sk_n = strlen(sk);

  md = EVP_MD_fetch(NULL, "SHA256", NULL);
  mdctx = EVP_MD_CTX_new();
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  macctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                         OSSL_PARAM_construct_end()};
  if (!md || !mdctx || !macctx || !EVP_MAC_CTX_set_params(macctx, params)) {
    fprintf(stderr, "OpenSSL setup failed\n");
    return 1;
  }

  bench(argv[1], "reuse", work_reuse, argv[6]);
  bench(argv[1], "oneshot", work_oneshot, argv[6]);

  EVP_MAC_CTX_free(macctx);
  EVP_MAC_free(mac);
  EVP_MD_CTX_free(mdctx);
  EVP_MD_free(md);
  return 0;
}
