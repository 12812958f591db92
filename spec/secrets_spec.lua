-- The SK never shows: not in errors, results, log lines, tostring, or the client's fields,
-- on every path that can fail. The key used here is easy to spot.
local env = require "support.cloudenv"
local core = require "cloud.core"
local cloud = require "cloud"
local cjson = require "cjson"

local SK = "SKSPOTME0123456789SKSPOTME0123456789ABCD"

local function never(where, text)
  assert.is_nil(tostring(text):find(SK, 1, true), where .. " shows the SK")
  assert.is_nil(tostring(text):find("SKSPOTME", 1, true), where .. " shows part of the SK")
end

-- Walks any Lua value, failing on a string that holds the SK.
local function scan(where, v, seen)
  seen = seen or {}
  if type(v) == "string" then return never(where, v) end
  if type(v) ~= "table" or seen[v] then return end
  seen[v] = true
  for k, x in pairs(v) do
    scan(where, k, seen)
    scan(where .. "." .. tostring(k), x, seen)
  end
end

describe("secrets", function()
  local fc, lines

  setup(function()
    fc = env.start{ job_duration = 0.02, credentials = { { ak = "SPOTAK", sk = SK } } }
  end)
  teardown(function() fc:stop() end)
  before_each(function()
    lines = {}
    fc:configure{ faults = { seed = 1 }, clock_skew = 0 }
    fc:reset()
  end)

  local function client(over)
    local opts = { ak = "SPOTAK", sk = SK, logger = function(l) lines[#lines + 1] = l end }
    for k, v in pairs(over or {}) do opts[k] = v end
    return env.client(fc, opts)
  end

  local function check_result(where, res, err)
    scan(where .. " result", res)
    if err then never(where .. " err", tostring(err)) scan(where .. " err", err) end
    if res then never(where .. " json", cjson.encode(res)) end
    for _, l in ipairs(lines) do never(where .. " log", l) end
  end

  -- Every field of the client, as text, and every string it holds.
  local function never_in(where, c)
    never("tostring(" .. where .. ")", tostring(c))
    for k, v in pairs(c) do
      never(where .. "." .. tostring(k), tostring(v))
      if type(v) == "table" then scan(where .. "." .. tostring(k), v) end
    end
  end

  it("keeps the SK out of the client table and its tostring, before and after close", function()
    local made, c = env.secrets_made(client)
    assert.are.equal(1, #made) -- the SK, copied into C memory once (no security token here)
    never_in("client", c)
    assert.are.equal("cloud.core.secret (hidden)", tostring(made[1]))
    c:close()
    -- Closed, the secret is wiped (its tostring says so) and the client still shows none of it.
    assert.are.equal("cloud.core.secret (closed)", tostring(made[1]))
    never_in("closed client", c)
  end)

  it("on every failure path of a stop", function()
    local paths = {
      { "success", {}, {} },
      { "wrong key", { ak = "SPOTAK", sk = SK .. "X" }, {} },
      { "all 500", {}, { faults = { seed = 1, status = { [500] = 1 } } } },
      { "throttled", {}, { faults = { seed = 2, status = { [429] = 0.5 }, retry_after = 0 } } },
      { "drops", {}, { faults = { seed = 3, drop = 0.5, drop_after = 0.3 } } },
      { "malformed", {}, { faults = { seed = 4, malformed = 0.5 } } },
      { "hung", { timeout = 0.2 }, { faults = { seed = 5, hang = 0.5, hang_rate = 0.5 } } },
      { "clock skew", {}, { clock_skew = 1500 } },
    }
    for _, p in ipairs(paths) do
      fc:configure(p[3])
      fc:reset()
      lines = {}
      local c = client(p[2])
      local res, err = c:stop_ecs{ ids = env.ids("ecs", 1, 5), poll_interval = 0.02, wait_timeout = 5 }
      c:close()
      check_result(p[1], res, err)
      fc:configure{ faults = { seed = 1 }, clock_skew = 0 }
    end
  end)

  it("in argument errors and nil, err", function()
    local function raised(fn)
      local ok, e = pcall(fn)
      assert.is_false(ok)
      never("error", e)
    end
    raised(function() cloud.new{ ak = "A", sk = SK, colour = 1 } end)
    raised(function() cloud.new{ ak = "A", sk = SK, concurrency = "x" } end)
    -- core.sign with a valid call's fields, some of them replaced.
    local function sign(extra)
      local o = { method = "GET", host = "h", path = "/", ak = "A", sk = SK }
      for k, v in pairs(extra) do o[k] = v end
      return function() core.sign(o) end
    end
    raised(sign{ query = { x = { {} } } })
    raised(sign{ ak = "A,B" })
    raised(sign{ headers = { ["X\n"] = SK } })
    raised(sign{ headers = { X = SK .. "\n" } })
    local c = client()
    raised(function() c:stop_ecs{ ids = { 1 } } end)
    raised(function() c:stop_ecs{ filter = { name = "[" } } end)
    c:close()
    local none, err = cloud.new{ ak = "A", sk = SK, endpoints = { ecs = fc.url } }
    assert.is_nil(none)
    never("no project id", tostring(err))
    local bad = assert(cloud.new{ ak = "SPOTAK", sk = SK, project_id = "0123456789abcdef0123456789abcdef",
      endpoints = { ecs = "http://127.0.0.1:1" }, connect_timeout = 0.2, retry = { attempts = 1 } })
    local res = bad:stop_ecs{ ids = { "x" }, force = true }
    check_result("connection refused", res)
    local r2, e2 = bad:stop_ecs{ filter = { status = "ACTIVE" } }
    check_result("listing failed", r2, e2)
    bad:close()
  end)

  it("wipes the key when the client is closed (and __gc does the same)", function()
    local made, c = env.secrets_made(client)
    local secret = made[1]
    c:close()
    local ok, e = pcall(core.sign, { method = "GET", host = "h", path = "/", ak = "A", sk = secret })
    assert.is_false(ok)
    assert.are.same({ "argument", "sk", "is a closed secret" }, { e.kind, e.field, e.problem })
    c:close() -- idempotent
  end)
end)
