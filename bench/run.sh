#!/bin/sh
# All benchmarks (not tests), one after another: signing (bench/sign/run.sh), stopping
# 100,000 servers (bench/stop/run_stop100k.sh), submission against concurrency
# (bench/stop/concurrency.lua), flow control and confirmation latency against the
# emulator's models of the ECS reference (bench/stop/run_reference.sh; BENCH_BASELINE_DIR
# adds another client's Lua sources beside ours, e.g. the main branch's), flow-control
# windows of 1 to 60 s (bench/stop/run_windows.sh), stops whose answers are lost
# (bench/stop/run_lost_answer.sh), fan-out over a fleet (bench/fleet/run.sh) and memory at
# a million servers. Their tables go to
# bench/RESULTS.md with the machine and the versions; full outputs to bench/out/*.log. A
# failing step is recorded, the rest run.
# usage: bench/run.sh  (or make bench)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=bench/out
mkdir -p "$out"
results=bench/RESULTS.md
failed=0

# step NAME FIRST_TABLE_LINE_REGEX COMMAND...: runs it, keeps stdout from the regex on.
step() {
  name=$1 from=$2
  shift 2
  echo "== $name" >&2
  "$@" >"$out/$name.log" 2>"$out/$name.err"
  rc=$?
  tail -n 5 "$out/$name.err" >&2
  {
    echo "## $name"
    echo
    echo '```'
    if [ $rc -eq 0 ]; then
      sed -n "/$from/,\$p" "$out/$name.log"
    else
      echo "FAILED (exit $rc); last lines of $out/$name.err:"
      tail -n 15 "$out/$name.err"
    fi
    echo '```'
    echo
  } >>"$results.tmp"
  [ $rc -eq 0 ] || failed=1
}

# The official Node.js SDK (from the npm registry), first: the header names its version.
[ -d bench/node/node_modules ] || (cd bench/node && npm ci --silent)
ver() { "$@" 2>&1 | head -n 1; }
sdk() { sed -n 's/^ *"version": *"\(.*\)".*/\1/p' "bench/node/node_modules/@huaweicloud/$1/package.json" | head -n 1; }
{
  echo "# Benchmark results"
  echo
  echo "Written by bench/run.sh. Benchmarks, not tests: numbers from one machine, one run."
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "- machine: $(uname -m), $(nproc) CPUs"
  echo "- lua5.4: $(ver lua5.4 -v)"
  echo "- luajit: $(ver luajit -v)"
  echo "- node: $(ver node --version)"
  echo "- Node SDK: @huaweicloud/huaweicloud-sdk-core $(sdk huaweicloud-sdk-core), @huaweicloud/huaweicloud-sdk-ecs $(sdk huaweicloud-sdk-ecs)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- lua csrc bench tools CMakeLists.txt 2>/dev/null || echo ' (lua/, csrc/, bench/, tools/ or CMakeLists.txt modified)')"
  [ -z "${BENCH_LUA_DIR:-}" ] || echo "- NOTE: our client's Lua sources from $BENCH_LUA_DIR, not lua/"
  echo
  # The summary against the goals is kept by hand: carried over from the last file, to be
  # checked against the new tables.
  [ -f "$results" ] && sed -n '/^## Summary against the goals/,/^## sign$/p' "$results" | sed '$d'
} >"$results.tmp"

CLOUD_DEPS_EXTRA="gnuplot-nox" bash tools/deps.sh
step sign '^request ' sh bench/sign/run.sh
step stop100k '^stop ' sh bench/stop/run_stop100k.sh
step concurrency '^submit ' env LUA_PATH="${BENCH_LUA_DIR:-lua}/?.lua;${BENCH_LUA_DIR:-lua}/?/init.lua;tools/?.lua;;" \
  LUA_CPATH="build/bench-5.4/?.so;;" lua5.4 bench/stop/concurrency.lua
step floors '^floors:' lua5.4 bench/stop/floors.lua
# Fan-out: cloud.fleet over 10 emulated targets of 10,000 servers, against each alone.
step fleet '^fleet:' sh bench/fleet/run.sh
step reference '^flow control:' sh bench/stop/run_reference.sh
# Flow-control windows of 1, 3, 10 and 60 s: the learned pace against the window-bound ideal.
step windows '^windows:' sh bench/stop/run_windows.sh
# Stops whose answers are lost (the cloud takes each call after the client's timeout):
# confirmed by lookups about when the jobs end.
step lost_answer '^lost answers:' sh bench/stop/run_lost_answer.sh
# Memory at scale: 1,000,000 servers (1000 calls) beside 100,000, our client only.
step memory1m '^stop ' env BENCH_N=1000000 BENCH_SMALL=100000 BENCH_CLIENTS="lua5.4 luajit" BENCH_REPEAT=1 \
  sh bench/stop/run_stop100k.sh
if gnuplot -e "csv='$out/concurrency.csv'; png='bench/concurrency.png'" bench/concurrency.gp; then
  printf '## chart\n\n![wall time against concurrency](concurrency.png)\n' >>"$results.tmp"
else
  failed=1
fi

mv "$results.tmp" "$results"
echo "wrote $results" >&2
exit $failed
