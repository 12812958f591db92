-- A host name that does not resolve (a mistyped region, say) will not resolve on the next
-- try either: the curl transport fails at once instead of retrying for half a minute.
-- Names under .invalid never resolve (RFC 6761), so no DNS server is needed. The C library
-- would still ask the machine's name server, an address other than loopback: the child
-- runs with no network but a loopback that is down, where the lookup fails just as it does
-- for a name no server knows (RES_OPTIONS keeps a slow failure under a second either way).
local subprocess = require "support.subprocess"

-- Without user namespaces the lookup would leave the machine: the spec is pending then.
local offline_it = subprocess.offline_available() and it or pending

describe("an endpoint whose host name does not resolve", function()
  offline_it("fails at once with cloud.dns through the curl transport, without retrying", function()
    local out = subprocess.run([[
      local core = require "cloud.core"
      local lines = {}
      local c = assert(require("cloud").new{ project_id = "0123456789abcdef0123456789abcdef", ak = "AK", sk = "SK",
        endpoints = { ecs = "http://cloud-spec.invalid:8080" }, transport = "curl",
        logger = function(line) lines[#lines + 1] = line end })
      local t0 = core.now()
      local res = c:stop_ecs{ ids = { "00000000-0000-4000-8000-000000000001" }, force = true }
      local retries = 0
      for _, l in ipairs(lines) do if l:find("^retry") then retries = retries + 1 end end
      local f = res.failed[1]
      print(f.code, retries, core.now() - t0 < 3, f.message)
    ]], { RES_OPTIONS = "timeout:1 attempts:1" }, nil, true)
    local code, retries, fast, message = out:match("^(%S+)\t(%d+)\t(%a+)\t([^\n]*)\n$")
    assert(code, out)
    assert.are.same({ "cloud.dns", "0", "true" }, { code, retries, fast })
    assert.matches("cloud-spec.invalid", message, 1, true)
  end)
end)
