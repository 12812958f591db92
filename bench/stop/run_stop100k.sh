#!/bin/sh
# Stop benchmark (not a test): 100,000 ECS servers stopped by our client under lua5.4
# and luajit and by the official Node.js SDK, against one local fakecloud; see
# stop100k.lua. Prints the table on stdout, progress on stderr.
# usage: bench/stop/run_stop100k.sh     env: BUILD_TYPE (default Release), and the
#        BENCH_* variables of stop100k.lua (BENCH_LUA_DIR to try another lua/ tree)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. bench/build.sh
[ -d bench/node/node_modules ] || (cd bench/node && npm ci --silent)
mkdir -p bench/out
# The driver runs in lua5.4 with the emulator's launcher (tools/); each client is a child.
LUA_PATH="lua/?.lua;lua/?/init.lua;tools/?.lua;;" LUA_CPATH="build/bench-5.4/?.so;;" \
  lua5.4 bench/stop/stop100k.lua
