/* ns per sign_request_sign (csrc/sign.c) called from C: core.sign minus the Lua
 * binding. The request is the ECS stop both vectors share (same URL, headers, date,
 * keys); only the body differs and comes from BODY_FILE.
 * usage: csign NAME BODY_FILE SIGNATURE   (SIGNATURE: the vector's, checked first) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../csrc/sign.h"

#define S(lit) {lit, sizeof lit - 1}

static sign_request q = {
    .method = S("POST"),
    .host = S("ecs.cn-north-4.myhuaweicloud.com"),
    .path = S("/v1/bbf1946d374b44a0a2a95533562ba954/cloudservers/action"),
    .ak = S("FAKEAK0000000000"),
    .sk = S("FAKESK0000000000000000000000000000000000"),
    .date = S("20261122T101500Z"),
};
static cpair given[4] = {
    {S("content-type"), S("application/json")},
    {S("X-Project-Id"), S("bbf1946d374b44a0a2a95533562ba954")},
    {S("Host"), S("ecs.cn-north-4.myhuaweicloud.com")},
    {S("X-Sdk-Date"), S("20261122T101500Z")},
};
static cpair headers[4];
static sign_result r;
static sign_ctx *ctx;

/* Like the binding: fresh header order each call; the context and the result's
 * buffers are reused, as the module's per-state scratch does. */
static int sign_once(void) {
  memcpy(headers, given, sizeof headers);
  return sign_request_sign(ctx, &q, &r, NULL);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double time_loop(long n) {
  double t0 = now();
  for (long i = 0; i < n; i++) sign_once();
  return now() - t0;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s NAME BODY_FILE SIGNATURE\n", argv[0]); return 2; }
  FILE *f = fopen(argv[2], "rb");
  if (!f) { perror(argv[2]); return 2; }
  static char body[1 << 20];
  q.body.p = body;
  q.body.n = fread(body, 1, sizeof body, f);
  fclose(f);
  q.headers = headers;
  q.nheaders = 4;

  memcpy(headers, given, sizeof headers);
  sign_result_init(&r);
  ctx = sign_ctx_new();
  if (!ctx || sign_request_sign(ctx, &q, &r, NULL) != SIGN_OK || strcmp(r.signature, argv[3])) {
    fprintf(stderr, "%s: signature differs\n", argv[1]);
    return 1;
  }

  const int rounds = getenv("BENCH_ROUNDS") ? atoi(getenv("BENCH_ROUNDS")) : 7;
  const double round_s = getenv("BENCH_ROUND_SECONDS") ? atof(getenv("BENCH_ROUND_SECONDS")) : 0.25;
  long n = 1;
  while (time_loop(n) < round_s / 10) n *= 2;
  n = (long)(n * round_s / time_loop(n)) + 1;
  double best = 1e30;
  for (int i = 0; i < rounds; i++) {
    double t = time_loop(n) / (double)n;
    if (t < best) best = t;
  }
  printf("sign impl=c request=%s body_bytes=%zu ns_per_call=%.0f iters=%ld rounds=%d\n", argv[1],
         q.body.n, best * 1e9, n, rounds);
  return 0;
}
