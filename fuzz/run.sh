#!/bin/sh
# Builds the libFuzzer targets (with ASan + UBSan) and fuzzes each for a bounded time.
# usage: fuzz/run.sh [seconds per target]   (default 60). Exits non-zero on a crash, leak
# or broken invariant; the reproducer is left in fuzz/corpus-run/<target>/crashes/.
#   fuzz_canon     canonicalizer and signer (csrc/canon.c, csrc/sign.c)
#   fuzz_response  what servers send: header lines and capped bodies (csrc/response.c)
#   fuzz_jobscan   job answers: strict JSON, the fields kept (csrc/jobscan.c)
#   fuzz_idset     the ledger's id set against a plain search (csrc/idset.c)
#   fuzz_keyscan   the metadata service's key answer: strict JSON, the fields kept (csrc/keyscan.c)
#   fuzz_list      list answers (Lua: lua-cjson decodes them, no C of ours does): the
#                  library's reading of them and servers.fetch's paging (fuzz_list.lua)
set -eu
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$root/build/fuzz"
mkdir -p "$out"
CC=${CC:-clang-14}

build() { # target sources...
  t=$1
  shift
  # -fno-sanitize-recover: a UB report must fail the run, not scroll by.
  $CC -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Wall -Wextra -I"$root/csrc" "$here/$t.c" "$@" -lcrypto -o "$out/$t"
}

run() { # target corpus-dir
  t=$1
  run="$here/corpus-run/$t"
  mkdir -p "$run/queue" "$run/crashes"
  # The scratch corpus grows across runs; the checked-in seeds stay untouched.
  cp "$here/corpus/$2"/* "$run/queue/"
  echo "fuzz: running $t for ${secs}s"
  "$out/$t" "$run/queue" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$run/crashes/" -print_final_stats=1
}

build fuzz_canon "$root/csrc/canon.c" "$root/csrc/sign.c" "$root/csrc/buf.c"
build fuzz_response "$root/csrc/response.c" "$root/csrc/canon.c" "$root/csrc/buf.c"
build fuzz_jobscan "$root/csrc/jobscan.c" "$root/csrc/buf.c"
build fuzz_idset "$root/csrc/idset.c"
build fuzz_keyscan "$root/csrc/keyscan.c" "$root/csrc/buf.c"
run fuzz_canon canon
run fuzz_response response
run fuzz_jobscan jobscan
run fuzz_idset idset
run fuzz_keyscan keyscan

# The list-answer reader runs in Lua, under the interpreter the specs use first.
run_lua() { # target corpus-dir
  t=$1
  run="$here/corpus-run/$t"
  mkdir -p "$run/crashes"
  echo "fuzz: running $t for ${secs}s"
  (cd "$root" && ${FUZZ_LUA:-lua5.4} "$here/$t.lua" "$here/corpus/$2" "$secs" "$run/crashes" "${FUZZ_SEED:-1}")
}
run_lua fuzz_list list
