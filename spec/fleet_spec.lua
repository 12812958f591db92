-- cloud.fleet against two emulators standing in for two regions, and a third target with a
-- project id the cloud does not know: the two succeed, the third reports its error, and
-- each emulator receives only its own servers.
local env = require "support.cloudenv"
local cjson = require "cjson"
local cloud = require "cloud"
local core = require "cloud.core"
local errors = require "cloud.errors"
local launcher = require "fakecloud.launcher"

-- Region a has web servers 1..10; region b has 10 others first, so its web servers are
-- 11..20: the emulator's ids follow fleet positions, and the two sets differ.
local FLEET_A = { ecs = { { count = 10, name = "web-a-%d", tags = { "env=dev" } },
                          { count = 2, name = "off-a-%d", status = "SHUTOFF", tags = { "env=dev" } } } }
local FLEET_B = { ecs = { { count = 10, name = "other-%d", tags = { "env=prod" } },
                          { count = 10, name = "web-b-%d", tags = { "env=dev" } } } }
local PROJECT_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
local WRONG = "ffffffffffffffffffffffffffffffff"

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local function read_lines(path)
  local f = assert(io.open(path, "rb"))
  local out = {}
  for line in f:lines() do out[#out + 1] = cjson.decode(line) end
  f:close()
  return out
end

describe("cloud.fleet", function()
  local a, b
  local files = {}

  setup(function()
    a = assert(launcher.start{ config = { job_duration = 0.05, fleet = FLEET_A } })
    b = assert(launcher.start{ config = { job_duration = 0.05, fleet = FLEET_B, project_id = PROJECT_B } })
  end)
  teardown(function()
    for _, p in ipairs(files) do os.remove(p) end
    if a then a:stop() end
    if b then b:stop() end
  end)
  before_each(function()
    for _, fc in ipairs({ a, b }) do
      assert(fc:configure{ faults = {}, job_duration = 0.05, iam = {} })
      assert(fc:reset())
    end
  end)

  local function fleet(over)
    local opts = {
      ak = a.ak, sk = a.sk, retry = { attempts = 2, base = 0.01, cap = 0.02 },
      targets = {
        { region = "region-a", project_id = a.project_id, endpoints = { ecs = a.url } },
        { region = "region-b", project_id = PROJECT_B, endpoints = { ecs = b.url } },
        { region = "region-a", project_id = WRONG, endpoints = { ecs = a.url } },
      },
    }
    for k, v in pairs(over or {}) do opts[k] = v end
    return cloud.fleet(opts)
  end

  it("stops by filter in both regions; the unknown project reports its error; each cloud gets its own", function()
    local f = fleet()
    local path = tmpname()
    files[#files + 1] = path
    local res = f:stop_ecs{ filter = { tags = { env = "dev" } }, poll_interval = 0.02, record = path }
    f:close()
    assert.is_false(res.ok) -- one target failed
    local t1, t2, t3 = res.targets[1], res.targets[2], res.targets[3]
    assert.are.same({ "region-a", a.project_id, "region-b", PROJECT_B, "region-a", WRONG },
      { t1.region, t1.project_id, t2.region, t2.project_id, t3.region, t3.project_id })
    assert.is_true(t1.result.ok)
    assert.is_true(t2.result.ok)
    assert.are.same(env.ids("ecs", 1, 10), t1.result.stopped)
    assert.are.same(env.ids("ecs", 11, 20), t2.result.stopped)
    assert.is_nil(t3.result)
    assert.are.equal("cloud", t3.err.kind)
    assert.are.equal(403, t3.err.status)
    -- Merged: the two targets' servers, their skips (each naming its target).
    assert.are.equal(20, res.requested)
    assert.are.equal(20, #res.stopped)
    assert.are.equal(0, #res.failed)
    assert.are.equal(2, #res.skipped)
    assert.are.same({ "region-a", a.project_id, "already SHUTOFF" },
      { res.skipped[1].region, res.skipped[1].project_id, res.skipped[1].reason })
    -- Each emulator received only its own servers.
    local sa, sb = a:stats(), b:stats()
    assert.are.same({ 10, 10, 0 }, { sa.stop_requests.total, sa.stop_requests.servers,
      sa.stop_requests.sent_more_than_once })
    assert.are.same({ 10, 10, 0 }, { sb.stop_requests.total, sb.stop_requests.servers,
      sb.stop_requests.sent_more_than_once })
    -- (An emulator without the id at all answers nil.)
    for _, id in ipairs(env.ids("ecs", 11, 20)) do
      assert.are.equal(0, (a:server(id) or { stop_requests = 0 }).stop_requests)
    end
    for _, id in ipairs(env.ids("ecs", 1, 10)) do assert.are.equal(0, b:server(id).stop_requests) end
    assert.are.equal(10, sb.servers.ecs.SHUTOFF)
    -- One record for the fleet, the target on every line.
    local lines = read_lines(path)
    local headers, ends = {}, {}
    for _, l in ipairs(lines) do
      assert.truthy(l.project_id == a.project_id or l.project_id == PROJECT_B or l.project_id == WRONG, cjson.encode(l))
      assert.truthy(l.region == "region-a" or l.region == "region-b", cjson.encode(l))
      if l.type == "header" then headers[l.project_id] = l end
      if l.type == "end" then ends[l.project_id] = l end
    end
    assert.truthy(headers[a.project_id] and headers[PROJECT_B] and headers[WRONG])
    assert.is_true(ends[a.project_id].ok)
    assert.is_true(ends[PROJECT_B].ok)
    assert.are.equal(403, ends[WRONG].error.status)
  end)

  it("restores the fleet's record: every region's servers run again, the others untouched", function()
    local path = tmpname()
    files[#files + 1] = path
    local f = fleet()
    assert.is_false(f:stop_ecs{ filter = { tags = { env = "dev" } }, poll_interval = 0.02, record = path }.ok)
    local res = f:restore{ record = path, poll_interval = 0.02 }
    f:close()
    assert.is_true(res.targets[1].result.ok)
    assert.is_true(res.targets[2].result.ok)
    assert.are.same(env.ids("ecs", 1, 10), res.targets[1].result.started)
    assert.are.same(env.ids("ecs", 11, 20), res.targets[2].result.started)
    assert.are.equal(0, #res.targets[3].result.started) -- its stop never began
    assert.are.equal(20, #res.started)
    assert.are.same({ ACTIVE = 10, SHUTOFF = 2 }, a:stats().servers.ecs)
    assert.are.same({ ACTIVE = 20 }, b:stats().servers.ecs)
    assert.are.same({ 10, 0 }, { a:stats().start_requests.total, a:stats().start_requests.sent_more_than_once })
    assert.are.equal(10, b:stats().start_requests.total)
  end)

  it("runs the targets at once: their progress interleaves", function()
    -- Each call to either cloud is answered 0.1 s after it arrives: run one after the
    -- other, every event of the first target would come before any of the second's.
    for _, fc in ipairs({ a, b }) do assert(fc:configure{ faults = { latency = 0.1 }, job_duration = 0.2 }) end
    local seen = {}
    local f = fleet()
    local res = f:stop_ecs{ filter = { tags = { env = "dev" } }, poll_interval = 0.05,
      on_progress = function(e) seen[#seen + 1] = e.project_id end }
    f:close()
    assert.are.equal(20, #res.stopped)
    local first_b, last_a
    for i, p in ipairs(seen) do
      if p == PROJECT_B and not first_b then first_b = i end
      if p == a.project_id then last_a = i end
    end
    assert.truthy(first_b and last_a and first_b < last_a, table.concat(seen, " "))
  end)

  it("keeps at most total_concurrency calls in flight across the fleet", function()
    local f = fleet{ total_concurrency = 2, concurrency = 8 }
    local engine, most = f.engine, 0
    local run = engine.run
    f.loop.engine = setmetatable({
      run = function(_, wait)
        local done = run(engine, wait)
        most = math.max(most, (engine:pending()))
        return done
      end,
    }, { __index = function(_, k) return function(_, ...) return engine[k](engine, ...) end end })
    local res = f:list_ecs{}
    f:close()
    assert.is_true(most <= 2, "in flight: " .. most)
    assert.is_true(most >= 1)
    assert.are.equal(12, #res.targets[1].result)
    assert.are.equal(20, #res.targets[2].result)
    assert.are.equal(403, res.targets[3].err.status)
    assert.is_false(res.ok)
    assert.are.equal(32, res.count)
  end)

  it("runs the targets one after another where coroutines cannot yield across pcall", function()
    local f = fleet()
    f.loop.interleave = false -- as under plain Lua 5.1
    local res = f:stop_ecs{ ids = { [a.project_id] = env.ids("ecs", 1, 3), [PROJECT_B] = env.ids("ecs", 11, 12) },
      poll_interval = 0.02 }
    f:close()
    assert.are.same(env.ids("ecs", 1, 3), res.targets[1].result.stopped)
    assert.are.same(env.ids("ecs", 11, 12), res.targets[2].result.stopped)
    assert.are.equal(0, res.targets[3].result.requested) -- no ids for it: nothing asked
    assert.is_true(res.ok)
    assert.are.equal(3, a:stats().stop_requests.total)
    assert.are.equal(2, b:stats().stop_requests.total)
  end)

  it("in the default set-up (each target's project found through IAM): stops, records and restores", function()
    assert(a:configure{ iam = { projects = { { id = a.project_id, name = "region-a" } } } })
    assert(b:configure{ iam = { projects = { { id = PROJECT_B, name = "region-b" } } } })
    local function default_fleet()
      return cloud.fleet{ ak = a.ak, sk = a.sk, retry = { attempts = 2, base = 0.01, cap = 0.02 }, targets = {
        { region = "region-a", endpoints = { ecs = a.url, iam = a.url } },
        { region = "region-b", endpoints = { ecs = b.url, iam = b.url } } } }
    end
    local f = default_fleet()
    local path = tmpname()
    files[#files + 1] = path
    local res = assert(f:stop_ecs{ filter = { tags = { env = "dev" } }, poll_interval = 0.02, record = path })
    f:close()
    assert.is_true(res.ok)
    assert.are.equal(20, #res.stopped)
    local projects = {}
    for _, l in ipairs(read_lines(path)) do projects[l.project_id] = true end
    assert.are.same({ [a.project_id] = true, [PROJECT_B] = true }, projects) -- never null
    f = default_fleet()
    local back = assert(f:restore{ record = path, poll_interval = 0.02 })
    f:close()
    assert.is_true(back.ok)
    assert.are.equal(20, #back.started)
    assert.are.same({ 10, 0 }, { a:stats().start_requests.total, a:stats().start_requests.sent_more_than_once })
    assert.are.same({ 10, 0 }, { b:stats().start_requests.total, b:stats().start_requests.sent_more_than_once })
  end)

  it("refuses a target named twice before any call: no server is stopped twice", function()
    local function raises_repeat(targets)
      local ok, e = pcall(cloud.fleet, { ak = a.ak, sk = a.sk, targets = targets })
      assert.is_false(ok)
      assert.are.same({ "argument", "targets[2]" }, { errors.kind(e), e.field })
      assert.truthy(e.problem:find("same target as targets[1]", 1, true), e.problem)
    end
    -- The same region and project; the same region to be found through IAM with the same
    -- keys; another region's name with the same endpoint and project (the same cloud).
    raises_repeat({ { region = "region-a", project_id = a.project_id, endpoints = { ecs = a.url } },
                    { region = "region-a", project_id = a.project_id, endpoints = { ecs = a.url } } })
    raises_repeat({ { region = "region-a", endpoints = { ecs = a.url, iam = a.url } },
                    { region = "region-a", endpoints = { ecs = a.url, iam = a.url } } })
    raises_repeat({ { region = "region-a", project_id = a.project_id, endpoints = { ecs = a.url } },
                    { region = "region-x", project_id = a.project_id, endpoints = { ecs = a.url } } })
    -- Given on one, found through IAM on the other: the same project, known once it is found.
    assert(a:configure{ iam = { projects = { { id = a.project_id, name = "region-a" } } } })
    local f = cloud.fleet{ ak = a.ak, sk = a.sk, targets = {
      { region = "region-a", project_id = a.project_id, endpoints = { ecs = a.url } },
      { region = "region-a", endpoints = { ecs = a.url, iam = a.url } } } }
    local res, err = f:stop_ecs{ filter = { tags = { env = "dev" } } }
    f:close()
    assert.is_nil(res)
    assert.are.same({ "cloud.fleet_repeat", "refused" }, { err.code, err.kind })
    assert.are.equal(0, a:stats().calls.action)
    assert.are.equal(0, a:stats().calls.list)
    assert.are.equal(0, a:stats().stop_requests.total)
  end)

  it("raises on a mistake before anything is sent", function()
    local function raises(field, fn)
      local ok, e = pcall(fn)
      assert.is_false(ok)
      assert.are.equal("argument", errors.kind(e), tostring(e))
      assert.are.equal(field, e.field, tostring(e))
    end
    raises("targets", function() cloud.fleet{ targets = {} } end)
    raises("colour", function() cloud.fleet{ targets = { { region = "x", colour = 1 } } } end)
    raises("total_concurrency", function() cloud.fleet{ targets = { { region = "x" } }, total_concurrency = 0 } end)
    local f = fleet()
    raises("ids", function() f:stop_ecs{ ids = { "a" } } end)
    raises("type", function() f:start_ecs{ filter = { all = true }, type = "HARD" } end)
    raises("record", function() f:restore{} end)
    f:close()
    assert.are.equal(0, a:stats().calls.total)
    assert.are.equal(0, b:stats().calls.total)
  end)
end)

describe("cloud.projects", function()
  local fc
  setup(function()
    fc = assert(launcher.start{ config = { iam = { projects = {
      { id = "p1", name = "cn-north-4" }, { id = "p2", name = "cn-north-4_dev" }, { id = "p3", name = "MOS" },
      { id = "p4", name = "ap-southeast-1", enabled = false }, { id = "p5", name = "eu-west-101" } } } } })
  end)
  teardown(function() if fc then fc:stop() end end)

  it("lists the account's enabled projects of real regions, signed, without a project id", function()
    local list = assert(cloud.projects{ ak = fc.ak, sk = fc.sk, endpoints = { iam = fc.url } })
    assert.are.same({ { id = "p1", name = "cn-north-4", region = "cn-north-4" },
                      { id = "p2", name = "cn-north-4_dev", region = "cn-north-4" },
                      { id = "p5", name = "eu-west-101", region = "eu-west-101" } }, list)
    assert.are.same({ { id = "p5", name = "eu-west-101", region = "eu-west-101" } },
      cloud.projects({ ak = fc.ak, sk = fc.sk, endpoints = { iam = fc.url } }, { "eu-west-101" }))
    local st = fc:stats()
    assert.are.same({ 2, 0 }, { st.calls.projects, st.signature_failures })
    local none, err = cloud.projects{ ak = fc.ak, sk = "WRONG000000000000000000000000000000000",
      endpoints = { iam = fc.url },
      retry = { attempts = 1 } }
    assert.is_nil(none)
    assert.are.equal("APIGW.0301", err.code)
  end)
end)

describe("core.http drop_queued(ids)", function()
  local fc
  setup(function() fc = assert(launcher.start{ config = {} }) end)
  teardown(function() if fc then fc:stop() end end)

  it("drops only the queued calls of the ids given, returning them; the rest are sent", function()
    local e = core.http{ concurrency = 1 }
    for id = 1, 4 do e:add(id, "GET", fc.url .. "/__admin/stats", {}) end
    local n, dropped = e:drop_queued({ [2] = true, [4] = true, [99] = true })
    assert.are.same({ 2, { 2, 4 } }, { n, dropped })
    assert.are.same({ 0, 2 }, { e:pending() })
    local got = {}
    local deadline = core.now() + 5
    while #got < 2 and core.now() < deadline do
      for _, r in ipairs(e:run(0.1) or {}) do got[#got + 1] = r.id end
    end
    table.sort(got)
    assert.are.same({ 1, 3 }, got)
    assert.are.same({ 0, {} }, { e:drop_queued({}) })
    assert.are.same({ 0, {} }, { e:drop_queued() })
    e:close()
  end)
end)
