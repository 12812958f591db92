#!/bin/sh
# Signing benchmark (not a test): core.sign under lua5.4 and luajit, the bare-crypto
# floor (floor.c) and the official Node.js SDK signer, on the same two vector requests.
# usage: bench/sign/run.sh      env: BUILD_TYPE (default Release), BENCH_ROUNDS,
#        BENCH_ROUND_SECONDS, CLOUD_SHARED (default ../shared)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export CLOUD_SHARED=${CLOUD_SHARED:-$(cd .. && pwd)/shared}
bt=${BUILD_TYPE:-Release}
out="$root/bench/out"
mkdir -p "$out"
lines="$out/sign.txt"
: > "$lines"

# Own build dirs, so the lead's build/5.4 and build/luajit keep their settings.
for lua in 5.4 luajit; do
  cmake -S . -B "build/bench-$lua" -DLUA=$lua -DCMAKE_BUILD_TYPE="$bt" >/dev/null
  cmake --build "build/bench-$lua" >/dev/null
done
${CC:-cc} -O2 -Wall -Wextra -o "$out/floor" bench/sign/floor.c -lcrypto
${CC:-cc} -O2 -Wall -Wextra -o "$out/csign" bench/sign/csign.c csrc/sign.c csrc/canon.c csrc/buf.c -lcrypto
[ -d bench/node/node_modules ] || (cd bench/node && npm ci --silent)

for name in ecs_stop_seed_hard ecs_stop_1000_ids; do
  set -- $(lua5.4 bench/sign/dump_vector.lua "$name" "$out")
  "$out/floor" "$name" "$out/$name.body" "$out/$name.cr" "$out/$name.sts" "$1" "$2" | tee -a "$lines"
  "$out/csign" "$name" "$out/$name.body" "$2" | tee -a "$lines"
done
LUA_CPATH="build/bench-5.4/?.so;;" lua5.4 bench/sign/sign_bench.lua | tee -a "$lines"
LUA_CPATH="build/bench-luajit/?.so;;" luajit bench/sign/sign_bench.lua | tee -a "$lines"
node bench/node/sign_bench.js | tee -a "$lines"

# One row per request; ratios against lua5.4's core.sign (luajit's in brackets).
awk '
  { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    ns[f["request"], f["impl"] ~ /^node/ ? "node" : f["impl"]] = f["ns_per_call"]
    if (!(f["request"] in seen)) { seen[f["request"]] = 1; order[++nreq] = f["request"] } }
  END {
    printf "\n%-20s %9s %9s %9s %9s %9s %9s  %-15s %-15s\n", "request", "lua5.4", "luajit", "C-only",
           "floor", "oneshot", "node", "cloud/floor", "node/cloud"
    for (k = 1; k <= nreq; k++) {
      r = order[k]; c = ns[r, "lua5.4"]; j = ns[r, "luajit"]; fl = ns[r, "openssl-reuse"]; n = ns[r, "node"]
      printf "%-20s %9d %9d %9d %9d %9d %9d  %5.2f [%5.2f]   %5.2f [%5.2f]\n", r, c, j, ns[r, "c"], fl,
             ns[r, "openssl-oneshot"], n, c / fl, j / fl, n / c, n / j
    }
    print "(ns per call; C-only = sign_request_sign without Lua (csign.c); floor = the bare"
    print " crypto, OpenSSL EVP with algorithms fetched once; oneshot = the same crypto through"
    print " EVP_Digest + HMAC(), the calls csrc/sign.c makes; [luajit] ratios in brackets)"
    print "goals: cloud/floor <= 1.3 for ecs_stop_1000_ids; node/cloud >= 7 for ecs_stop_seed_hard"
  }' "$lines"
