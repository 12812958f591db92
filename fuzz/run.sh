#!/bin/sh
# Builds fuzz_canon (libFuzzer + ASan + UBSan) and fuzzes it for a bounded time.
# usage: fuzz/run.sh [seconds]   (default 60). Exits non-zero on a crash, leak or
# broken invariant; the reproducer is left in fuzz/corpus-run/crashes/.
set -eu
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$root/build/fuzz"
run="$here/corpus-run"
mkdir -p "$out" "$run/queue" "$run/crashes"

CC=${CC:-clang-14}
# -fno-sanitize-recover: a UB report must fail the run, not scroll by.
$CC -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Wall -Wextra -I"$root/csrc" \
  "$here/fuzz_canon.c" "$root/csrc/canon.c" "$root/csrc/sign.c" "$root/csrc/buf.c" \
  -lcrypto -o "$out/fuzz_canon"

# The scratch corpus grows across runs; the checked-in seeds stay untouched.
cp "$here"/corpus/* "$run/queue/"

echo "fuzz: running $out/fuzz_canon for ${secs}s"
exec "$out/fuzz_canon" "$run/queue" \
  -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$run/crashes/" -print_final_stats=1
