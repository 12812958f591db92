#!/bin/sh
# Stop benchmark (not a test): 100,000 ECS servers stopped by our client under lua5.4
# and luajit and by the official Node.js SDK, against one local fakecloud; see
# stop100k.lua. Prints the table on stdout, progress on stderr.
# usage: bench/stop/run_stop100k.sh     env: BUILD_TYPE (default Release), and the
#        BENCH_* variables of stop100k.lua (BENCH_LUA_DIR to try another lua/ tree)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bt=${BUILD_TYPE:-Release}
# Own build dirs, so the lead's build/5.4 and build/luajit keep their settings.
for lua in 5.4 luajit; do
  cmake -S . -B "build/bench-$lua" -DLUA=$lua -DCMAKE_BUILD_TYPE="$bt" >/dev/null
  cmake --build "build/bench-$lua" >/dev/null
done
[ -d bench/node/node_modules ] || (cd bench/node && npm ci --silent)
mkdir -p bench/out
# The driver runs in lua5.4 with the emulator's launcher (tools/); each client is a child.
LUA_PATH="lua/?.lua;lua/?/init.lua;tools/?.lua;;" LUA_CPATH="build/bench-5.4/?.so;;" \
  lua5.4 bench/stop/stop100k.lua
