#!/bin/sh
# Fan-out benchmark (not a test): cloud.fleet over 10 emulated targets of 10,000 servers
# each; see fleet.lua. Prints the table on stdout, progress on stderr.
# usage: bench/fleet/run.sh     env: BUILD_TYPE (default Release), the BENCH_* of fleet.lua
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. bench/build.sh
mkdir -p bench/out
export LUA_PATH="lua/?.lua;lua/?/init.lua;tools/?.lua;;" LUA_CPATH="build/bench-5.4/?.so;;"
# The figure: the cloud's response time and job length as a cloud's, 10 targets of 10,000.
lua5.4 bench/fleet/fleet.lua
echo
# What one process sustains: no response time, short jobs, so the client (and the emulators,
# on the same cores) are all there is to wait for.
BENCH_LATENCY=0 BENCH_JOB=0.2 BENCH_POLL=0.2 BENCH_SPLITS="${BENCH_SUSTAIN_SPLITS:-1}" lua5.4 bench/fleet/fleet.lua
