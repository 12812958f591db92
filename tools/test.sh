#!/usr/bin/env bash
# The whole test suite: builds the C core for Lua 5.4, LuaJIT, Lua 5.1 (for the CLI's specs)
# and an ASan+UBSan variant, with warnings as errors; runs every spec under 5.4, LuaJIT, ASan
# and valgrind; checks that both LuaRocks builds install offline into one tree; lints the
# Lua with luacheck and builds the API reference with LDoc, each failing on any warning;
# and prints one closing line "tests: N passed, N failed". All but the installs run with
# loopback only (tools/loopback-only).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)

bash tools/deps.sh || { echo "tests: 0 passed, 1 failed (dependencies)"; exit 1; }

# True when no route of this network namespace leads anywhere but lo (IPv4 and IPv6).
loopback_only() {
  awk 'FNR > 1 && $1 != "lo" { out = 1 } END { exit out }' /proc/net/route &&
    { [ ! -e /proc/net/ipv6_route ] || awk '$NF != "lo" { out = 1 } END { exit out }' /proc/net/ipv6_route; }
}

# Everything after the installs runs with loopback only (tools/loopback-only): no build, spec
# or check can reach another address, even by mistake (a client without keys asks the
# metadata service at 169.254.169.254). Where no network namespace can be made, the suite
# says why and stops; CLOUD_TEST_UNCONFINED=1 runs it unconfined anyway, and says so.
unconfined=""
if loopback_only; then
  export CLOUD_TEST_CONFINED=1 # spec/loopback_spec.lua then fails rather than skips
elif [ -n "${CLOUD_TEST_REENTERED:-}" ]; then
  echo "tests: 0 passed, 1 failed (tools/loopback-only ran, yet routes lead beyond lo)"
  exit 1
elif why=$(tools/loopback-only true 2>&1); then
  CLOUD_TEST_REENTERED=1 exec tools/loopback-only "$BASH" "$root/tools/test.sh" "$@"
elif [ "${CLOUD_TEST_UNCONFINED:-}" = 1 ]; then
  unconfined="NOT confined to loopback (CLOUD_TEST_UNCONFINED=1): $why"
  unset CLOUD_TEST_CONFINED
  echo "== $unconfined"
else
  echo "== the suite runs with loopback only, and cannot here:"
  echo "$why"
  echo "   (CLOUD_TEST_UNCONFINED=1 runs it unconfined: its specs aim at 127.0.0.1 only, but a"
  echo "   mistake would then reach the network)"
  echo "tests: 0 passed, 1 failed (no loopback-only network namespace)"
  exit 1
fi

passed=0
failed=0
log_dir=build/test-logs
mkdir -p "$log_dir"

# Every build of the suite fails on a compiler warning (CMakeLists.txt lists them).
build() { # dir lua [extra cmake args]
  local dir=$1 lua=$2
  shift 2
  cmake -S . -B "$dir" -DLUA="$lua" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARNINGS_AS_ERRORS=ON "$@" >"$dir.cmake.log" 2>&1 &&
    cmake --build "$dir" -j2 >>"$dir.cmake.log" 2>&1 || { cat "$dir.cmake.log"; return 1; }
}

# Runs busted with the given interpreter and build; adds its counts to the totals.
# CLOUD_RUNS picks runs (default all): lua5.4 luajit asan valgrind rocks
want() { [[ " ${CLOUD_RUNS:-lua5.4 luajit asan valgrind rocks} " == *" $1 "* ]]; }

# Runs one set of specs into $log_dir/<name>.log (its status in <name>.rc), printing nothing.
spec_run() { # name interpreter build_dir [env...]
  local name=$1 interp=$2 dir=$3
  shift 3
  local out="$log_dir/$name.log"
  # $interp may carry a wrapper (valgrind ...): split on purpose.
  env LUA_CPATH="$dir/?.so;;" "$@" $interp /usr/bin/busted --output=utfTerminal ${CLOUD_SPECS:-${spec_paths:-spec}} \
    >"$out" 2>&1
  echo $? >"$log_dir/$name.rc"
}

# Prints a run's last lines and adds its counts to passed and failed.
spec_tally() { # name
  local name=$1
  local out="$log_dir/$name.log"
  echo "== specs: $name"
  tail -n 40 "$out"
  local rc
  rc=$(cat "$log_dir/$name.rc" 2>/dev/null || echo 1)
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|definitely lost: [1-9]|Invalid (read|write|free)|uninitialised' "$out"; then
    echo "$name: the sanitizer reported an error (see $out)"
    failed=$((failed + 1))
  elif [ "$rc" -ne 0 ] && grep -q 'LeakSanitizer has encountered a fatal error' "$out" \
      && ! grep -qE ' [1-9][0-9]* (failures?|errors?)' "$out"; then
    # LeakSanitizer's own tracer sometimes crashes in the exit-time check ("Tracer caught
    # signal 11"), a known fault of the tool and no finding; leaks are checked by valgrind too.
    echo "$name: LeakSanitizer's tracer crashed at exit, so its leak check did not run (valgrind's does)"
  elif [ "$rc" -ne 0 ] && ! grep -qE ' [1-9][0-9]* (failures?|errors?)' "$out"; then
    echo "$name: busted exited with status $rc"
    failed=$((failed + 1))
  fi
  local line
  line=$(grep -E '^[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors?' "$out" | tail -1)
  if [ -z "$line" ]; then
    echo "$name: busted did not finish"
    failed=$((failed + 1))
    return
  fi
  read -r ok _ _ bad _ _ errs _ <<<"$line"
  passed=$((passed + ok))
  failed=$((failed + bad + errs))
}

run_specs() { # name interpreter build_dir [env...]
  want "$1" || return 0
  spec_run "$@"
  spec_tally "$1"
}

# One check of the installed rocks: counts it, and prints the log when it fails.
rock_check() { # description command...
  local what=$1
  shift
  if "$@" >>build/rocks.log 2>&1; then
    echo "== rocks: $what"
    passed=$((passed + 1))
  else
    echo "== rocks: $what: FAILED (build/rocks.log)"
    tail -n 30 build/rocks.log
    failed=$((failed + 1))
  fi
}

# Every module of the tree's rock for Lua $2 loads under interpreter $1.
rock_loads() { # interpreter lua-version
  local tree=build/rocks v=$2
  LUA_PATH="$tree/share/lua/$v/?.lua;$tree/share/lua/$v/?/init.lua;;" LUA_CPATH="$tree/lib/lua/$v/?.so;;" \
    "$1" -e 'for m in io.popen("cd lua && find cloud -name \"*.lua\""):lines() do
        require((m:gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")))
      end
      assert(require("cloud").new and require("cloud.core").sign{method="GET", host="h", path="/", ak="a", sk="b"})'
}

# The tree's cloud-stop runs (outside the checkout) with CLOUD_LUA=$1, or as it chooses;
# and so do its cloud-start and cloud-schedule, each saying which it is.
rock_command() { # [interpreter]
  local name
  for name in cloud-stop cloud-start cloud-schedule; do
    (cd / && CLOUD_LUA=${1:-} "$root/build/rocks/bin/$name" --version) | grep -q "^$name " || return 1
  done
}

# The bash completion and man pages (tools/gen_cli_docs.lua) as share/ holds them: in the
# rock's directory (copy_directories), or under the prefix $1 of a CMake install.
CLI_DOCS="bash-completion/completions/cloud-stop bash-completion/completions/cloud-start
  bash-completion/completions/cloud-schedule man/man1/cloud-stop.1 man/man1/cloud-start.1
  man/man1/cloud-schedule.1"
cli_docs_in() { # share-directory
  local f
  for f in $CLI_DOCS; do cmp "share/$f" "$1/$f" || return 1; done
}
rock_cli_docs() {
  cli_docs_in "$(luarocks --lua-version 5.4 --tree build/rocks show --rock-dir cloud)/share"
}

# A CMake install of build/5.4 into a scratch prefix: bin/cloud-start is installed as the
# symlink it is in git, and still starts; run outside the checkout.
cmake_install_runs() {
  local prefix name rc=0
  prefix=$(mktemp -d)
  cmake --install build/5.4 --prefix "$prefix" || rc=1
  for name in cloud-stop cloud-start cloud-schedule; do
    (cd / && "$prefix/bin/$name" --version) | grep -q "^$name " || rc=1
  done
  cli_docs_in "$prefix/share" || rc=1
  rm -rf "$prefix"
  return "$rc"
}

# Both rocks into one tree as the README installs them: offline, next to Debian's lua-cjson.
check_rocks() {
  want rocks || return 0
  local tree=build/rocks
  rm -rf "$tree"
  : >build/rocks.log
  rock_check "the rockspecs pass luarocks lint" \
    sh -c 'for r in rockspec/*.rockspec; do luarocks lint "$r" || exit 1; done'
  rock_check "luarocks --lua-version 5.4 make --deps-mode=none" \
    luarocks --lua-version 5.4 --tree "$tree" make --deps-mode=none rockspec/cloud-scm-1.rockspec
  rock_check "luarocks --lua-version 5.1 make --deps-mode=none, into the same tree" \
    luarocks --lua-version 5.1 --tree "$tree" make --deps-mode=none rockspec/cloud-scm-1.rockspec
  rock_check "every module loads under lua5.4" rock_loads lua5.4 5.4
  rock_check "every module of the 5.1 rock loads under luajit" rock_loads luajit 5.1
  rock_check "every module of the 5.1 rock loads under lua5.1" rock_loads lua5.1 5.1
  for lua in "" lua5.4 luajit lua5.1; do
    rock_check "the tree's cloud-stop, cloud-start and cloud-schedule run${lua:+ with CLOUD_LUA=$lua}" rock_command "$lua"
  done
  rock_check "cmake --install of build/5.4: the three commands run, completion and man pages in share/" \
    cmake_install_runs
  rock_check "the rock's share/ holds the completion and man pages" rock_cli_docs
  rock_check "nginx/cloud.conf is in the rock's conf/" \
    cmp nginx/cloud.conf "$(luarocks --lua-version 5.1 --tree "$tree" show --rock-dir cloud)/conf/cloud.conf"
}

# The suite carries its own data (spec/fixtures): nothing may reach for a folder beside the
# checkout, which a user's clone does not have. (The pattern is spelled so as not to match itself.)
outside=$(grep -rlE '(\.\./|CLOUD_)shared|shared[/]' --exclude-dir=node_modules --exclude-dir=out spec tools bench Makefile .ci)
if [ -n "$outside" ]; then
  echo "== these files read data from outside the project (use spec/fixtures):"
  echo "$outside"
  failed=$((failed + 1))
else
  passed=$((passed + 1))
fi

# luacheck over the whole checkout (.luacheckrc): any warning fails, so a new one fails CI.
lint=$(luacheck --no-color --formatter plain . 2>&1)
lint_rc=$?
if [ "$lint_rc" -eq 0 ] && [ -z "$lint" ]; then
  echo "== luacheck: 0 warnings"
  passed=$((passed + 1))
else
  echo "== luacheck: FAILED (exit $lint_rc, $(printf '%s\n' "$lint" | grep -c .) warnings or errors)"
  printf '%s\n' "$lint" | head -n 40
  failed=$((failed + 1))
fi

# The API reference (config.ld) into a scratch directory: LDoc reports some problems only
# as lines on stderr, with exit status 0, so any line but its banner is a failure.
docs_tmp=$(mktemp -d)
docs_out=$(ldoc -q --fatalwarnings -d "$docs_tmp" . 2>&1)
docs_rc=$?
docs_out=$(printf '%s\n' "$docs_out" | grep -v '^reading configuration from config.ld$')
if [ "$docs_rc" -eq 0 ] && [ -z "$docs_out" ] && [ -s "$docs_tmp/index.html" ]; then
  echo "== ldoc: no warnings"
  passed=$((passed + 1))
else
  echo "== ldoc: FAILED (exit $docs_rc)"
  printf '%s\n' "$docs_out" | head -n 40
  failed=$((failed + 1))
fi
rm -rf "$docs_tmp"

# build/5.1 (plain Lua 5.1, whose C API lacks LuaJIT's additions) is for the CLI's specs.
build build/5.4 5.4 && build build/luajit luajit && build build/5.1 5.1 && build build/asan 5.4 -DSANITIZE=ON || {
  echo "tests: $passed passed, $((failed + 1)) failed (build)"
  exit 1
}

# The two interpreters' runs side by side: their specs mostly wait (on the emulator's jobs,
# timeouts, flow-control windows), so together they take little more than one of them.
# CLOUD_SERIAL=1 runs them one after the other.
if want lua5.4 && want luajit && [ -z "${CLOUD_SERIAL:-}" ]; then
  spec_run lua5.4 lua5.4 build/5.4 &
  lua54_run=$!
  spec_run luajit luajit build/luajit
  wait "$lua54_run"
  spec_tally lua5.4
  spec_tally luajit
else
  run_specs lua5.4 lua5.4 build/5.4
  run_specs luajit luajit build/luajit
fi
# The memory checks leave out the spec/nginx_* files: the module they test runs inside nginx,
# which loads build/luajit whatever the spec process is, so neither ASan nor valgrind sees
# it; those files run under lua5.4 and luajit above (under lua5.4 their cases took 80 s,
# nginx_schedule_spec 9 s of it, in a busted -o json run of the whole suite).
memcheck_paths=$(ls spec/*_spec.lua | grep -v '^spec/nginx_' | tr '\n' ' ')
# valgrind follows no child process, so it also leaves out the files whose subject runs in
# one (the CLI's specs, deadline_spec's bounded calls, record_crash_spec's killed runs);
# ASan, whose runtime the children inherit through LD_PRELOAD, checks those.
valgrind_paths=$(ls spec/*_spec.lua | grep -vE '^spec/(nginx_|cli_|deadline_spec|record_crash_spec)' | tr '\n' ' ')
# The sanitizer runtime must be loaded before the interpreter starts.
asan_libs="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
spec_paths=$memcheck_paths run_specs asan lua5.4 build/asan LD_PRELOAD="$asan_libs" \
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" CLOUD_GC_AGGRESSIVE=1
# memcheck with the collector made aggressive, so every __gc path runs (alone: make valgrind).
spec_paths=$valgrind_paths run_specs valgrind "valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=33 lua5.4" \
  build/5.4 CLOUD_GC_AGGRESSIVE=1
check_rocks

[ -z "$unconfined" ] || echo "== $unconfined"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
