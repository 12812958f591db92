#!/usr/bin/env bash
# Writes rockspec/cloud-<VERSION>-1.rockspec from rockspec/cloud-scm-1.rockspec: the same
# build, with the version cloud.VERSION reports and a source tag (spec/rockspec_spec.lua
# checks that the two agree). Run it after changing the module list of the scm rockspec.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^local M = { VERSION = "\([^"]*\)" }.*/\1/p' lua/cloud.lua)
[ -n "$version" ] || { echo "release-rockspec: no VERSION in lua/cloud.lua" >&2; exit 1; }
out="rockspec/cloud-$version-1.rockspec"
{
  echo "-- The release $version (cloud.VERSION). The same build as rockspec/cloud-scm-1.rockspec, which"
  echo "-- says how to install from a checkout; written by tools/release-rockspec.sh."
  sed -n '/^rockspec_format/,$p' rockspec/cloud-scm-1.rockspec |
    sed -e "s/^version = \"scm-1\"/version = \"$version-1\"/" \
        -e "s|^\(  url = .*\)$|\1\n  tag = \"v$version\",|"
} >"$out"
echo "wrote $out"
