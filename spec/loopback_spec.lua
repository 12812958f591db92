-- The suite never reaches past loopback: tools/test.sh runs it in a network namespace whose
-- only interface is lo (tools/loopback-only), so any other address fails at once; and a
-- client without keys, in a spec or in a process a spec starts, finds the metadata service
-- on loopback (support.no_metadata), never at 169.254.169.254.
local cloud = require "cloud"
local socket = require "socket"
local cli = require "support.cli"
local no_metadata = require "support.no_metadata"
local subprocess = require "support.subprocess"

-- TEST-NET-1 (RFC 5737): documentation only, routed nowhere. Not confined, nothing is sent
-- to it (the confinement is checked first, from the routing tables).
local OUTSIDE = "192.0.2.1"
-- A project id of the form IAM gives (checked before any call); no cloud knows it.
local PROJECT = "0123456789abcdef0123456789abcdef"

-- The devices of the routes in a /proc routing table other than lo; nil when it is absent
-- (a kernel without IPv6). `column`: where the device is.
local function devices(path, column, header)
  local f = io.open(path, "r")
  if not f then return nil end
  local out, n = {}, 0
  for line in f:lines() do
    n = n + 1
    if not (header and n == 1) then
      local fields = {}
      for w in line:gmatch("%S+") do fields[#fields + 1] = w end
      local dev = column > 0 and fields[column] or fields[#fields]
      if dev and dev ~= "lo" then out[#out + 1] = dev end
    end
  end
  f:close()
  return out
end

-- Nil when every route of this process's network namespace goes through lo; else the
-- devices that lead elsewhere.
local function routes_elsewhere()
  local found, seen = {}, {}
  for _, list in ipairs({ devices("/proc/net/route", 1, true) or {}, devices("/proc/net/ipv6_route", 0) or {} }) do
    for _, d in ipairs(list) do
      if not seen[d] then found[#found + 1], seen[d] = d, true end
    end
  end
  if #found > 0 then return table.concat(found, ", ") end
end

-- A client without keys, with the environment shut out but for the metadata endpoint.
local function keyless(opts)
  local getenv = os.getenv
  os.getenv = function(k) -- luacheck: ignore 122
    if k:match("^HUAWEICLOUD_") or k == "HOME" or k == "CLOUD_METADATA_FALLBACK" then return nil end
    return getenv(k)
  end
  local ok, c, err = pcall(cloud.new, opts)
  os.getenv = getenv -- luacheck: ignore 122
  assert(ok, c)
  return assert(c, err)
end

describe("loopback only", function()
  it("the suite's network has no route but through lo: other addresses fail at once", function()
    local elsewhere = routes_elsewhere()
    if elsewhere then
      -- tools/test.sh says when it confined the run: then this is a failure, not a skip.
      assert.is_nil(os.getenv("CLOUD_TEST_CONFINED"),
        "CLOUD_TEST_CONFINED is set, yet routes lead out through " .. elsewhere)
      return pending("not confined to loopback (routes through " .. elsewhere .. "): tools/test.sh runs the"
        .. " specs with tools/loopback-only; nothing was sent")
    end
    -- A plain socket: no route, so the kernel refuses before anything is sent. A timeout
    -- instead would mean a packet went out looking for the address.
    local t = socket.tcp()
    t:settimeout(20)
    local ok, err = t:connect(OUTSIDE, 9)
    t:close()
    assert.is_nil(ok)
    assert.are.equal("Network is unreachable", err)
    -- The library's engine: refused (curl's "Couldn't connect"), not timed out after 30 s.
    local c = assert(cloud.new{ project_id = PROJECT, ak = "a", sk = "b", connect_timeout = 30,
                                endpoints = { ecs = "http://" .. OUTSIDE .. ":9" }, retry = { attempts = 1 } })
    local res, lerr = c:list_ecs()
    c:close()
    assert.is_nil(res)
    assert.are.equal("cloud.connect", lerr.code)
    assert.truthy(lerr.message:find("Couldn't connect to server", 1, true), lerr.message)
    -- And the real metadata address, named on purpose: it fails the same way here.
    c = keyless{ project_id = PROJECT, region = "cn-north-4",
                 endpoints = { ecs = "http://127.0.0.1:1", metadata = "http://169.254.169.254" } }
    res, lerr = c:list_ecs()
    c:close()
    assert.is_nil(res)
    assert.are.equal("cloud.no_credentials", lerr.code)
    assert.truthy(lerr.message:find("metadata service (http://169.254.169.254): no answer (Failed to connect",
      1, true), lerr.message)
  end)
end)

describe("no spec falls back to 169.254.169.254", function()
  local SAYS = "metadata service (" .. no_metadata.ENDPOINT .. "): no answer"

  it("a client without keys in the specs' process asks a closed port on loopback", function()
    local c = keyless{ project_id = PROJECT, region = "cn-north-4", endpoints = { ecs = "http://127.0.0.1:1" } }
    local res, err = c:list_ecs()
    c:close()
    assert.is_nil(res)
    assert.are.equal("cloud.no_credentials", err.code)
    assert.truthy(err.message:find(SAYS, 1, true), err.message)
  end)

  it("so does one in a process a spec starts, unless the spec names the endpoint", function()
    local code = [[
      local c = assert(require("cloud").new{ project_id = "]] .. PROJECT .. [[", region = "cn-north-4",
                                              endpoints = { ecs = "http://127.0.0.1:1" } })
      print(select(2, c:list_ecs()).message)
    ]]
    local out = subprocess.run(code, { HOME = "/nonexistent" }, 60)
    assert.truthy(out:find(SAYS, 1, true), out)
    out = subprocess.run(code, { HOME = "/nonexistent", CLOUD_METADATA_ENDPOINT = "http://127.0.0.1:2" }, 60)
    assert.truthy(out:find("metadata service (http://127.0.0.1:2): no answer", 1, true), out)
  end)

  it("and in the CLI the specs run", function()
    local r = cli.run({ "ecs", "--region", "cn-north-4", "--project-id", PROJECT, "--endpoint", "http://127.0.0.1:1",
                        "i-1" }, {}, { timeout = 60 })
    assert.are.equal(3, r.code, r.stderr)
    assert.truthy(r.stderr:find(SAYS, 1, true), r.stderr)
  end)
end)
