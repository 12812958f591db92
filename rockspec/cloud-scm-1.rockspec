-- Build from a checkout, offline: luarocks --lua-version 5.4 make rockspec/cloud-scm-1.rockspec
-- (and --lua-version 5.1 for LuaJIT). lua-cjson is needed at run time; it is not listed as a
-- rock dependency so that `luarocks make` works offline next to Debian's lua-cjson package.
rockspec_format = "3.0"
package = "cloud"
version = "scm-1"
source = {
  url = "git+https://example.com/cloud.git",
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
        "csrc/jobscan_lua.c", "csrc/idset.c", "csrc/idset_lua.c", "csrc/body_lua.c",
        "csrc/keyscan.c", "csrc/keyscan_lua.c", "csrc/core.c",
      },
      libraries = { "curl", "crypto" },
      incdirs = { "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)" },
    },
    ["cloud"] = "lua/cloud/init.lua",
    ["cloud.answer"] = "lua/cloud/answer.lua",
    ["cloud.check"] = "lua/cloud/check.lua",
    ["cloud.cli.args"] = "lua/cloud/cli/args.lua",
    ["cloud.cli.help"] = "lua/cloud/cli/help.lua",
    ["cloud.cli.idfile"] = "lua/cloud/cli/idfile.lua",
    ["cloud.cli.jsonout"] = "lua/cloud/cli/jsonout.lua",
    ["cloud.cli.main"] = "lua/cloud/cli/main.lua",
    ["cloud.cli.progress"] = "lua/cloud/cli/progress.lua",
    ["cloud.cli.summary"] = "lua/cloud/cli/summary.lua",
    ["cloud.cli.tty"] = "lua/cloud/cli/tty.lua",
    ["cloud.client"] = "lua/cloud/client.lua",
    ["cloud.credentials"] = "lua/cloud/credentials.lua",
    ["cloud.errors"] = "lua/cloud/errors.lua",
    ["cloud.filter"] = "lua/cloud/filter.lua",
    ["cloud.json"] = "lua/cloud/json.lua",
    ["cloud.keys"] = "lua/cloud/keys.lua",
    ["cloud.metadata"] = "lua/cloud/metadata.lua",
    ["cloud.nginx_http"] = "lua/cloud/nginx_http.lua",
    ["cloud.nginx_phase"] = "lua/cloud/nginx_phase.lua",
    ["cloud.nginx_reader"] = "lua/cloud/nginx_reader.lua",
    ["cloud.nginx_transport"] = "lua/cloud/nginx_transport.lua",
    ["cloud.once"] = "lua/cloud/once.lua",
    ["cloud.pattern"] = "lua/cloud/pattern.lua",
    ["cloud.project"] = "lua/cloud/project.lua",
    ["cloud.ready"] = "lua/cloud/ready.lua",
    ["cloud.regions"] = "lua/cloud/regions.lua",
    ["cloud.result"] = "lua/cloud/result.lua",
    ["cloud.retry"] = "lua/cloud/retry.lua",
    ["cloud.scheduler"] = "lua/cloud/scheduler.lua",
    ["cloud.select"] = "lua/cloud/select.lua",
    ["cloud.servers"] = "lua/cloud/servers.lua",
    ["cloud.stop"] = "lua/cloud/stop.lua",
    ["cloud.sync"] = "lua/cloud/sync.lua",
    ["cloud.transport"] = "lua/cloud/transport.lua",
  },
  install = {
    bin = { ["cloud-stop"] = "bin/cloud-stop" },
  },
}
