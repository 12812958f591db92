#!/bin/sh
# Issue 24's figures (not a test): the learned pace against flow-control windows of 1, 3, 10
# and 60 s; see windows.lua. Prints the table on stdout, progress on stderr. About ten minutes.
# usage: bench/stop/run_windows.sh     env: BUILD_TYPE (default Release), BENCH_CASES
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. bench/build.sh
mkdir -p bench/out
LUA_PATH="lua/?.lua;lua/?/init.lua;tools/?.lua;;" LUA_CPATH="build/bench-5.4/?.so;;" \
  lua5.4 bench/stop/windows.lua
