#!/bin/sh
# The benchmarks' own builds of the C core (build/bench-5.4, build/bench-luajit), so the
# test builds (build/5.4, build/luajit) keep their settings. Sourced by the bench scripts
# from the repository root; BUILD_TYPE (default Release).
for lua in 5.4 luajit; do
  cmake -S . -B "build/bench-$lua" -DLUA=$lua -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" >/dev/null
  cmake --build "build/bench-$lua" >/dev/null
done
