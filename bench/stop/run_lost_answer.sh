#!/bin/sh
# Issue 24's figures (not a test): stops whose answers were lost, confirmed by lookups; see
# lost_answer.lua. Prints the table on stdout, progress on stderr.
# usage: bench/stop/run_lost_answer.sh     env: BUILD_TYPE (default Release), and the BENCH_*
#        variables of lost_answer.lua (BENCH_BASELINE_DIR=/path/to/lua to add another client)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. bench/build.sh
mkdir -p bench/out
# The driver runs in lua5.4 with the emulator's launcher (tools/); each client is a child.
LUA_PATH="lua/?.lua;lua/?/init.lua;tools/?.lua;;" LUA_CPATH="build/bench-5.4/?.so;;" \
  lua5.4 bench/stop/lost_answer.lua
