#!/bin/sh
# Signing benchmark (not a test): core.sign under lua5.4 and luajit, the bare-crypto
# floor (floor.c) and the official Node.js SDK signer, on the same two vector requests.
# usage: bench/sign/run.sh      env: BUILD_TYPE (default Release), BENCH_ROUNDS,
#        BENCH_ROUND_SECONDS; the requests are vectors from spec/fixtures/sign-vectors.json
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out="$root/bench/out"
mkdir -p "$out"
lines="$out/sign.txt"
: > "$lines"

. bench/build.sh
${CC:-cc} -O2 -Wall -Wextra -o "$out/floor" bench/sign/floor.c -lcrypto
${CC:-cc} -O2 -Wall -Wextra -o "$out/csign" bench/sign/csign.c csrc/sign.c csrc/canon.c csrc/buf.c -lcrypto
[ -d bench/node/node_modules ] || (cd bench/node && npm ci --silent)

# record COMMAND...: its lines to stdout and to $lines; a failure stops the run (a pipe
# into tee would hide it, and the table would show zeros).
record() {
  "$@" >"$out/sign.part"
  cat "$out/sign.part"
  cat "$out/sign.part" >>"$lines"
}

for name in ecs_stop_seed_hard ecs_stop_1000_ids; do
  lua5.4 bench/sign/dump_vector.lua "$name" "$out" >"$out/$name.keys"
  set -- $(cat "$out/$name.keys")
  record "$out/floor" "$name" "$out/$name.body" "$out/$name.cr" "$out/$name.sts" "$1" "$2"
  record "$out/csign" "$name" "$out/$name.body" "$2"
done
record env LUA_CPATH="build/bench-5.4/?.so;;" lua5.4 bench/sign/sign_bench.lua
record env LUA_CPATH="build/bench-luajit/?.so;;" luajit bench/sign/sign_bench.lua
record node bench/node/sign_bench.js

# One row per request; ratios against lua5.4's core.sign (luajit's in brackets), and
# against the client's own call, core.sign_for_sending(opts) ("send").
awk '
  { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    ns[f["request"], f["impl"] ~ /^node/ ? "node" : f["impl"]] = f["ns_per_call"]
    if (!(f["request"] in seen)) { seen[f["request"]] = 1; order[++nreq] = f["request"] } }
  END {
    printf "\n%-20s %7s %7s %7s %7s %7s %7s %7s %7s  %-15s %-15s %-15s\n", "request", "lua5.4", "luajit",
           "5.4send", "jitsend", "C-only", "floor", "oneshot", "node", "cloud/floor", "node/cloud", "node/send"
    for (k = 1; k <= nreq; k++) {
      r = order[k]; c = ns[r, "lua5.4"]; j = ns[r, "luajit"]; fl = ns[r, "openssl-reuse"]; n = ns[r, "node"]
      cs = ns[r, "lua5.4-send"]; js = ns[r, "luajit-send"]
      printf "%-20s %7d %7d %7d %7d %7d %7d %7d %7d  %5.2f [%5.2f]   %5.2f [%5.2f]   %5.2f [%5.2f]\n", r, c, j,
             cs, js, ns[r, "c"], fl, ns[r, "openssl-oneshot"], n, c / fl, j / fl, n / c, n / j, n / cs, n / js
    }
    print "(ns per call; send = core.sign_for_sending(opts), what the client calls: only the headers,"
    print " path and query it sends; C-only = sign_request_sign without Lua (csign.c); floor ="
    print " the bare crypto, OpenSSL EVP with algorithms fetched once; oneshot = the same crypto"
    print " through EVP_Digest + HMAC(), the calls csrc/sign.c makes; [luajit] ratios in brackets)"
    print "goals: cloud/floor <= 1.3 for ecs_stop_1000_ids; node/cloud >= 7 for ecs_stop_seed_hard"
  }' "$lines"
