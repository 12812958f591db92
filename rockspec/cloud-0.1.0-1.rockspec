-- The release 0.1.0 (cloud.VERSION). The same build as rockspec/cloud-scm-1.rockspec, which
-- says how to install from a checkout; written by tools/release-rockspec.sh.
rockspec_format = "3.0"
package = "cloud"
version = "0.1.0-1"
source = {
  url = "git+https://example.com/cloud.git",
  tag = "v0.1.0",
}
description = {
  summary = "Stop Huawei Cloud ECS and BMS servers in batches, from Lua and OpenResty",
  detailed = [[
    A C core (AK/SK signing with OpenSSL, concurrent HTTP with libcurl) under a Lua API that
    batches, retries, waits on jobs and reports every server's outcome.
  ]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
}
test_dependencies = {
  "busted",
  "luasocket",
}
-- `luarocks test` (where busted is a rock) runs the specs as .busted says; they need the C
-- core built (luarocks make first) and nginx with its Lua module for the emulator.
test = {
  type = "busted",
}
-- Only the libraries are looked up: Debian keeps curl's headers in a multiarch directory
-- (/usr/include/<triplet>/curl) that the compiler searches but LuaRocks does not.
external_dependencies = {
  CURL = { library = "curl" },
  OPENSSL = { library = "crypto" },
}
build = {
  type = "builtin",
  modules = {
    ["cloud.core"] = {
      sources = {
        "csrc/buf.c", "csrc/canon.c", "csrc/sign.c", "csrc/sign_lua.c", "csrc/secret.c",
        "csrc/http.c", "csrc/response.c", "csrc/http_lua.c", "csrc/jobscan.c",
        "csrc/jobscan_lua.c", "csrc/idset.c", "csrc/idset_lua.c", "csrc/utf8.c", "csrc/body_lua.c",
        "csrc/keyscan.c", "csrc/keyscan_lua.c", "csrc/file.c", "csrc/file_lua.c", "csrc/signals.c",
        "csrc/result.c", "csrc/core.c",
      },
      libraries = { "curl", "crypto" },
      incdirs = { "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)" },
    },
    ["cloud"] = "lua/cloud.lua",
    ["cloud.auth.account"] = "lua/cloud/auth/account.lua",
    ["cloud.op.actions"] = "lua/cloud/op/actions.lua",
    ["cloud.net.answer"] = "lua/cloud/net/answer.lua",
    ["cloud.base.check"] = "lua/cloud/base/check.lua",
    ["cloud.classify"] = "lua/cloud/classify.lua",
    ["cloud.cli.args"] = "lua/cloud/cli/args.lua",
    ["cloud.cli.fleet"] = "lua/cloud/cli/fleet.lua",
    ["cloud.cli.schedule"] = "lua/cloud/cli/schedule.lua",
    ["cloud.cli.schedule_args"] = "lua/cloud/cli/schedule_args.lua",
    ["cloud.cli.schedule_help"] = "lua/cloud/cli/schedule_help.lua",
    ["cloud.cli.help"] = "lua/cloud/cli/help.lua",
    ["cloud.cli.idfile"] = "lua/cloud/cli/idfile.lua",
    ["cloud.cli.main"] = "lua/cloud/cli/main.lua",
    ["cloud.cli.progress"] = "lua/cloud/cli/progress.lua",
    ["cloud.cli.safe"] = "lua/cloud/cli/safe.lua",
    ["cloud.cli.summary"] = "lua/cloud/cli/summary.lua",
    ["cloud.cli.tsv"] = "lua/cloud/cli/tsv.lua",
    ["cloud.cli.tty"] = "lua/cloud/cli/tty.lua",
    ["cloud.cli.words"] = "lua/cloud/cli/words.lua",
    ["cloud.client"] = "lua/cloud/client.lua",
    ["cloud.net.clock"] = "lua/cloud/net/clock.lua",
    ["cloud.auth.credentials"] = "lua/cloud/auth/credentials.lua",
    ["cloud.base.defaults"] = "lua/cloud/base/defaults.lua",
    ["cloud.errors"] = "lua/cloud/errors.lua",
    ["cloud.filter"] = "lua/cloud/filter.lua",
    ["cloud.fleet"] = "lua/cloud/fleet.lua",
    ["cloud.net.fleet_loop"] = "lua/cloud/net/fleet_loop.lua",
    ["cloud.base.json"] = "lua/cloud/base/json.lua",
    ["cloud.base.utc"] = "lua/cloud/base/utc.lua",
    ["cloud.base.tz"] = "lua/cloud/base/tz.lua",
    ["cloud.base.tzrule"] = "lua/cloud/base/tzrule.lua",
    ["cloud.schedule"] = "lua/cloud/schedule/init.lua",
    ["cloud.schedule.days"] = "lua/cloud/schedule/days.lua",
    ["cloud.schedule.engine"] = "lua/cloud/schedule/engine.lua",
    ["cloud.schedule.state"] = "lua/cloud/schedule/state.lua",
    ["cloud.auth.keys"] = "lua/cloud/auth/keys.lua",
    ["cloud.op.inflight"] = "lua/cloud/op/inflight.lua",
    ["cloud.op.ledger"] = "lua/cloud/op/ledger.lua",
    ["cloud.auth.metadata"] = "lua/cloud/auth/metadata.lua",
    ["cloud.nginx"] = "lua/cloud/nginx/init.lua",
    ["cloud.nginx.connect"] = "lua/cloud/nginx/connect.lua",
    ["cloud.nginx.dict"] = "lua/cloud/nginx/dict.lua",
    ["cloud.nginx.every"] = "lua/cloud/nginx/every.lua",
    ["cloud.nginx.handler"] = "lua/cloud/nginx/handler.lua",
    ["cloud.nginx.http"] = "lua/cloud/nginx/http.lua",
    ["cloud.nginx.job"] = "lua/cloud/nginx/job.lua",
    ["cloud.nginx.phase"] = "lua/cloud/nginx/phase.lua",
    ["cloud.nginx.reader"] = "lua/cloud/nginx/reader.lua",
    ["cloud.nginx.schedule"] = "lua/cloud/nginx/schedule.lua",
    ["cloud.nginx.tls"] = "lua/cloud/nginx/tls.lua",
    ["cloud.nginx.transport"] = "lua/cloud/nginx/transport.lua",
    ["cloud.net.pace"] = "lua/cloud/net/pace.lua",
    ["cloud.net.proxy_cause"] = "lua/cloud/net/proxy_cause.lua",
    ["cloud.op.pattern"] = "lua/cloud/op/pattern.lua",
    ["cloud.auth.project"] = "lua/cloud/auth/project.lua",
    ["cloud.record.write"] = "lua/cloud/record/write.lua",
    ["cloud.record.read"] = "lua/cloud/record/read.lua",
    ["cloud.auth.regions"] = "lua/cloud/auth/regions.lua",
    ["cloud.record.restore"] = "lua/cloud/record/restore.lua",
    ["cloud.op.poll_plan"] = "lua/cloud/op/poll_plan.lua",
    ["cloud.net.retry"] = "lua/cloud/net/retry.lua",
    ["cloud.net.scheduler"] = "lua/cloud/net/scheduler.lua",
    ["cloud.op.selection"] = "lua/cloud/op/selection.lua",
    ["cloud.op.servers"] = "lua/cloud/op/servers.lua",
    ["cloud.net.single_flight"] = "lua/cloud/net/single_flight.lua",
    ["cloud.op.act"] = "lua/cloud/op/act.lua",
    ["cloud.op.run"] = "lua/cloud/op/run.lua",
    ["cloud.op.wait_jobs"] = "lua/cloud/op/wait_jobs.lua",
    ["cloud.net.sync"] = "lua/cloud/net/sync.lua",
    ["cloud.net.transport"] = "lua/cloud/net/transport.lua",
  },
  -- The launcher and the script it runs, installed as they are (not wrapped for one Lua):
  -- bin/cloud-stop picks a Lua that loads the module, so the 5.4 and 5.1 rocks can share a
  -- tree's bin/. bin/cloud-start, bin/cloud-schedule and their .lua are symlinks to them;
  -- LuaRocks copies what a symlink points to, and the copy's name says which command it is. nginx/cloud.conf
  -- lands in the rock's conf/ directory, $(luarocks show --rock-dir cloud)/conf/cloud.conf.
  install = {
    bin = { ["cloud-stop"] = "bin/cloud-stop", ["cloud-stop.lua"] = "bin/cloud-stop.lua",
            ["cloud-start"] = "bin/cloud-start", ["cloud-start.lua"] = "bin/cloud-start.lua",
            ["cloud-schedule"] = "bin/cloud-schedule", ["cloud-schedule.lua"] = "bin/cloud-schedule.lua" },
    conf = { ["cloud.conf"] = "nginx/cloud.conf" },
    -- Found before the C module of the same name (package.path comes first): it loads
    -- cloud/core.so and explains a build for another Lua. A module name cannot be both
    -- a C and a Lua entry of `modules`.
    lua = { ["cloud.core"] = "lua/cloud/core.lua" },
  },
  -- The bash completion and man pages (tools/gen_cli_docs.lua), in the rock's directory as
  -- they lie in share/: $(luarocks show --rock-dir cloud)/share/man/man1/cloud-stop.1 and
  -- share/bash-completion/completions/cloud-stop (LuaRocks installs nothing into a tree's share/).
  copy_directories = { "share" },
}
deploy = {
  wrap_bin_scripts = false,
}
