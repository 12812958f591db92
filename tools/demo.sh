#!/usr/bin/env bash
# The demo: a local cloud emulator with a few thousand ECS and BMS servers (some protected
# with stop-protect=true, some already SHUTOFF, 10% of calls throttled with 429), and
# cloud-stop stopping the staging web servers in it. Run after the build: `make demo`.
# DEMO_LUA=luajit (or lua5.1) runs cloud-stop under LuaJIT (or Lua 5.1) instead of Lua 5.4.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

lua=${DEMO_LUA:-lua5.4}
case $lua in
  luajit) build=build/luajit ;;
  lua5.1) build=build/5.1 ;;
  *) build=build/5.4 ;;
esac
if [ ! -f "$build/cloud/core.so" ]; then
  echo "demo: $build/cloud/core.so is missing; build first (make build)" >&2
  exit 1
fi

work=$(mktemp -d /tmp/cloud-demo.XXXXXX)
prefix=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  if [ -n "$prefix" ] && [ -f "$prefix/nginx.pid" ]; then
    pid=$(cat "$prefix/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  [ -n "$prefix" ] && rm -rf "$prefix"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A fresh secret key for this run: the demo passes it the way a user would (environment),
# and never prints it.
sk=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
ak=DEMOAK$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
project=0123456789abcdef0123456789abcdef

cat >"$work/config.json" <<JSON
{
  "project_id": "$project",
  "credentials": [ { "ak": "$ak", "sk": "$sk" } ],
  "job_duration": 2,
  "fleet": {
    "ecs": [
      { "count": 2400, "name": "web-%04d",     "tags": ["env=staging"] },
      { "count": 100,  "name": "web-p-%03d",   "tags": ["env=staging", "stop-protect=true"] },
      { "count": 300,  "name": "web-off-%03d", "tags": ["env=staging"], "status": "SHUTOFF" },
      { "count": 400,  "name": "web-prod-%03d", "tags": ["env=prod"] },
      { "count": 300,  "name": "db-%03d",      "tags": ["env=staging"] }
    ],
    "bms": [
      { "count": 600, "name": "bm-%03d",     "tags": ["env=staging"] },
      { "count": 40,  "name": "bm-p-%02d",   "tags": ["env=staging", "stop-protect=true"] },
      { "count": 60,  "name": "bm-off-%02d", "tags": ["env=staging"], "status": "SHUTOFF" },
      { "count": 100, "name": "bm-prod-%03d", "tags": ["env=prod"] }
    ]
  },
  "faults": { "seed": 42, "status": { "429": 0.1 }, "retry_after": 0 }
}
JSON

echo "== starting the cloud emulator (fakecloud) on 127.0.0.1"
lua5.4 tools/fakecloud/fakecloud --config "$work/config.json" --background >"$work/fakecloud.txt" 2>&1 || {
  cat "$work/fakecloud.txt" >&2
  exit 1
}
url=$(sed -n 's/^ *endpoint (ECS and BMS): *//p' "$work/fakecloud.txt")
prefix=$(sed -n 's/.*&& rm -rf //p' "$work/fakecloud.txt")
if [ -z "$url" ] || [ -z "$prefix" ]; then
  echo "demo: could not read the emulator's address" >&2
  exit 1
fi
echo "   $url: 3500 ECS servers, 800 BMS servers; 10% of requests answered 429 (throttled)"
echo "   staging web servers: 2400 ECS + 600 BMS to stop; 100 + 40 protected (stop-protect=true);"
echo "   300 + 60 already SHUTOFF"

export HUAWEICLOUD_SDK_AK=$ak HUAWEICLOUD_SDK_SK=$sk HUAWEICLOUD_SDK_PROJECT_ID=$project
unset HUAWEICLOUD_SDK_SECURITY_TOKEN HUAWEICLOUD_SDK_REGION HUAWEICLOUD_SDK_CREDENTIALS_FILE

status=0
# Shows an argument as a user would type it.
shown() {
  case $1 in
    *[!A-Za-z0-9_=./:,-]*) printf " '%s'" "$1" ;;
    *) printf ' %s' "$1" ;;
  esac
}

run() {
  echo
  local line="\$ cloud-stop"
  for a in "$@"; do line+=$(shown "$a"); done
  echo "$line --endpoint $url"
  set +e
  "$lua" "$root/bin/cloud-stop.lua" "$@" --endpoint "$url"
  local rc=$?
  set -e
  echo "(exit status $rc)"
  [ "$rc" -eq 0 ] || status=1
}

run ecs --name '^web%-' --tag env=staging --yes
run bms --name '^bm%-' --tag env=staging --yes

echo
"$lua" -e '
  local cjson = require "cjson"
  local s = cjson.decode(io.read("*a"))
  print(("== the emulator saw %d stop requests (%d sent twice), %d requests throttled with 429;")
    :format(s.stop_requests.total, s.stop_requests.sent_more_than_once, s.statuses["429"] or 0))
  local e, b = s.servers.ecs, s.servers.bms
  print(("   now ECS %d ACTIVE / %d SHUTOFF, BMS %d ACTIVE / %d SHUTOFF")
    :format(e.ACTIVE or 0, e.SHUTOFF or 0, b.ACTIVE or 0, b.SHUTOFF or 0))
' < <(curl -s "$url/__admin/stats" 2>/dev/null || echo '{}') || true
exit $status
