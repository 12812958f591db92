-- A list answer's count never decides how much is asked for or held: a count past any
-- real fleet (1e9, 1e400, -1, 2.5) is a bad answer, named as such, and the pages asked for
-- at once are bounded whatever the count says. The memory cases run in a child process
-- whose peak resident memory (VmHWM) is measured, under a hard timeout.
local env = require "support.cloudenv"
local bounded = require "support.bounded"
local servers = require "cloud.op.servers"
local defaults = require "cloud.base.defaults"

local MIB = 1024 * 1024
local LIST = { action = false, job = false, list = true }

describe("list answers", function()
  local fc

  setup(function()
    fc = env.start{ job_duration = 0.02, fleet = { ecs = { { count = 20000, name = "web-%d", status = "ACTIVE" } } } }
  end)
  teardown(function() if fc then fc:stop() end end)
  before_each(function()
    assert(fc:configure{ hostile = {}, faults = {} })
    assert(fc:reset())
  end)

  for _, count in ipairs({ "1e9", "1e400", "1000001" }) do
    it("with count = " .. count .. ": cloud.bad_response at once, memory not following the count", function()
      assert(fc:configure{ hostile = { mode = "count", count = count, apply_to = LIST } })
      local r = assert(bounded.call(fc, {}, "list_ecs", {}, 60))
      assert.are.equal("cloud.bad_response", r.err.code)
      assert.truthy(r.err.message:find("count", 1, true), r.err.message)
      assert.are.equal(1, fc:stats().calls.list)
      -- The first page of 1000 servers decoded, and nothing more (a count of 1e9 used to
      -- queue a million requests and run out of memory; 1e400 grew to 1.5 GB).
      assert.is_true(r.peak < 200 * MIB, ("peak %.0f MiB"):format(r.peak / MIB))
      assert.is_true(r.took < 5, ("took %.2fs"):format(r.took))
    end)
  end

  it("with a count of a million and 20,000 servers: the pages asked for stop soon after the last short one", function()
    assert(fc:configure{ hostile = { mode = "count", count = "1000000", apply_to = LIST } })
    local r = assert(bounded.call(fc, {}, "list_ecs", {}, 120))
    assert.is_nil(r.err)
    assert.are.equal(20000, r.listed)
    -- 20 full pages and an empty 21st; beyond it, only the window already asked for.
    local calls = fc:stats().calls.list
    assert.is_true(calls >= 21 and calls <= 21 + servers.WINDOW, "list calls: " .. calls)
  end)

  it("a filter stop and the protection check name the bad count too, sending no stop", function()
    assert(fc:configure{ hostile = { mode = "count", count = "1e400", apply_to = LIST } })
    local client = env.client(fc)
    local res, err = client:stop_ecs{ filter = { name = "^web" } }
    assert.is_nil(res)
    assert.are.equal("cloud.bad_response", err.code)
    res = client:stop_ecs{ ids = env.ids("ecs", 1, 2) }
    client:close()
    assert.are.equal("cloud.bad_response", res.error.code)
    assert.are.equal(0, fc:stats().calls.action)
  end)
end)

describe("servers.read_page", function()
  local page = {}
  for i = 1, 3 do page[i] = { id = "s" .. i } end

  it("takes an honest page and its count", function()
    local list, n = servers.read_page({ servers = page, count = 3 })
    assert.are.equal(page, list)
    assert.are.equal(3, n)
    assert.are.same({ page, 3 }, { servers.read_page({ servers = page }) }) -- no count: the page's
    assert.are.same({ page, 7 }, { servers.read_page({ servers = page, count = "7" }) })
  end)

  it("refuses counts that are no number of servers, and more servers than a page holds", function()
    local max = defaults.list.max_count
    for _, c in ipairs({ -1, 2.5, 0 / 0, math.huge, max + 1, 1e9, "1e400", "lots", true, {} }) do
      local list, why = servers.read_page({ servers = page, count = c })
      assert.is_nil(list, tostring(c))
      assert.truthy(why:find("count", 1, true), why)
    end
    assert.are.equal(page, (servers.read_page({ servers = page, count = max })))
    local big = {}
    for i = 1, servers.PAGE + 1 do big[i] = { id = tostring(i) } end
    assert.is_nil(servers.read_page({ servers = big, count = #big }))
    assert.is_nil(servers.read_page({ servers = { a = 1 } }))
    assert.is_nil(servers.read_page({ count = 1 }))
    assert.is_nil(servers.read_page("servers"))
  end)
end)
