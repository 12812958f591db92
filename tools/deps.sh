#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, only those missing.
# The OpenResty LuaJIT branch (luajit2) is used: Debian's libnginx-mod-http-lua needs
# lua-resty-core, which needs libluajit2-5.1-2, which conflicts with plain luajit.
set -euo pipefail

packages=(
  cmake make gcc pkg-config openssl
  lua5.4 liblua5.4-dev lua5.1 liblua5.1-0-dev luajit2 libluajit2-5.1-dev
  lua-cjson lua-busted lua-socket luarocks
  lua-check lua-ldoc lua-markdown
  libcurl4-openssl-dev libssl-dev
  nginx libnginx-mod-http-lua
  valgrind tmux
  man-db groff-base # man -l, which spec/cli_docs_spec.lua renders the man pages with (skipped without)
  iproute2 # ip, which brings lo up in the suite's own network namespace (tools/loopback-only)
  tzdata # /usr/share/zoneinfo, the time zones of schedule files (cloud.base.tz)
)
[ "${CLOUD_DEPS_EXTRA:-}" ] && read -r -a extra <<<"$CLOUD_DEPS_EXTRA" && packages+=("${extra[@]}")

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
