-- Starting servers: the stop's machinery run with the start action's data (cloud.op.actions):
-- its body, its wanted state ACTIVE, its task state powering-on, `started` in the result.
local env = require "support.cloudenv"
local cloud = require "cloud"
local actions = require "cloud.op.actions"
local classify = require "cloud.classify"
local errors = require "cloud.errors"

local FLEET = {
  ecs = {
    { count = 20, name = "web-%02d", status = "SHUTOFF", tags = { "env=staging" } },      -- 1..20
    { count = 5, name = "web-on-%d", tags = { "env=staging" } },                         -- 21..25
    { count = 2, name = "web-p-%d", status = "SHUTOFF", tags = { "env=staging", "stop-protect=true" } }, -- 26..27
  },
  bms = { { count = 3, name = "bm-%d", status = "SHUTOFF" } },
}

describe("starting servers", function()
  local fc, client

  setup(function()
    fc = env.start{ job_duration = 0.05, fleet = FLEET }
    client = env.client(fc)
  end)
  teardown(function()
    if client then client:close() end
    if fc then fc:stop() end
  end)
  before_each(function()
    assert(fc:configure{ faults = {}, job_duration = 0.05 })
    assert(fc:reset())
  end)

  it("starts SHUTOFF servers by id through os-start jobs, with `started` in the result", function()
    local ids = env.ids("ecs", 1, 5)
    local res = client:start_ecs{ ids = ids, poll_interval = 0.02 }
    assert.is_true(res.ok, cloud.to_json(res))
    assert.are.same(ids, res.started)
    assert.is_nil(res.stopped)
    assert.are.equal(5, res.requested)
    assert.are.equal("SUCCESS", res.jobs[1].status)
    for _, id in ipairs(ids) do assert.are.equal("ACTIVE", fc:server(id).status) end
    local st = fc:stats()
    assert.are.equal(5, st.start_requests.total)
    assert.are.equal(0, st.stop_requests.total)
    assert.are.equal(0, st.start_requests.sent_more_than_once)
  end)

  it("by filter skips servers already ACTIVE and protected ones, and ends ok", function()
    local res = client:start_ecs{ filter = { tags = { env = "staging" } }, poll_interval = 0.02 }
    assert.is_true(res.ok, cloud.to_json(res))
    assert.are.equal(20, #res.started)
    local reasons = {}
    for _, s in ipairs(res.skipped) do reasons[s.reason] = (reasons[s.reason] or 0) + 1 end
    assert.are.same({ ["already ACTIVE"] = 5, protected = 2 }, reasons)
    assert.are.equal(20, fc:stats().start_requests.total) -- nothing sent for the skipped
  end)

  it("of servers all already ACTIVE, by filter, sends nothing and ends ok", function()
    local res = client:start_ecs{ filter = { name = "^web%-on%-" } }
    assert.is_true(res.ok)
    assert.are.equal(0, #res.started)
    assert.are.equal(5, #res.skipped)
    assert.are.equal(0, fc:stats().calls.action)
  end)

  it("of servers already ACTIVE, by id, ends ok: each refused with Ecs.0100, looked up, skipped as already", function()
    local on = env.ids("ecs", 21, 23)
    local off = env.id("ecs", 1)
    local ids = { on[1], on[2], on[3], off }
    local res, err = client:start_ecs{ ids = ids, poll_interval = 0.02 }
    assert.is_table(res, tostring(err))
    env.assert_ledger(res, ids)
    assert.is_true(res.ok)
    assert.are.same({ off }, res.started)
    assert.are.same({}, res.failed)
    local already = {}
    for _, sk in ipairs(res.skipped) do
      if sk.reason == "already ACTIVE" then already[#already + 1] = sk.id end
    end
    table.sort(already)
    table.sort(on)
    assert.are.same(on, already)
    -- Started by this call: the one that was SHUTOFF; each id was sent once.
    assert.are.equal(0, fc:stats().start_requests.sent_more_than_once)
  end)

  it("starts bare-metal servers, and cloud.start_ecs / start_bms build their own client", function()
    local b = env.ids("bms", 1, 2)
    local res = client:start_bms{ ids = b, poll_interval = 0.02 }
    assert.is_true(res.ok)
    assert.are.same(b, res.started)
    local one = cloud.start_ecs{ ids = { env.id("ecs", 6) }, project_id = fc.project_id, ak = fc.ak, sk = fc.sk,
      endpoints = { ecs = fc.url }, poll_interval = 0.02 }
    assert.is_true(one.ok)
    assert.are.same({ env.id("ecs", 6) }, one.started)
    assert.are.equal("ACTIVE", fc:server(env.id("ecs", 6)).status)
  end)

  it("settles a start whose answer was lost by a lookup: powering-on is waited for, ACTIVE is started", function()
    fc:configure{ job_duration = 0.3, faults = { drop_after = 1, apply_to = { action = true, job = false,
      list = false } } }
    local ids = env.ids("ecs", 7, 9)
    local res = client:start_ecs{ ids = ids, poll_interval = 0.05, force = true }
    assert.is_true(res.ok, cloud.to_json(res))
    assert.are.same(ids, res.started)
    -- Started means ACTIVE: a SHUTOFF server being powered on is waited for, not counted.
    for _, id in ipairs(ids) do assert.are.equal("ACTIVE", fc:server(id).status) end
    local st = fc:stats()
    assert.are.equal(3, st.start_requests.total) -- looked up, never sent twice
    assert.are.equal(0, st.start_requests.sent_more_than_once)
  end)

  it("reports a start of a server that does not exist as failed, with the cloud's code", function()
    local ids = { env.id("ecs", 10), "00000000-dead-4000-a000-000000000000" }
    local res = client:start_ecs{ ids = ids, poll_interval = 0.02 }
    env.assert_ledger({ ok = res.ok, requested = res.requested, stopped = res.started, failed = res.failed }, ids)
    assert.are.same({ ids[1] }, res.started)
    assert.are.equal("Ecs.0114", res.failed[1].code)
  end)

  it("takes no type, and names start_* in its argument errors", function()
    local ok, e = pcall(client.start_ecs, client, { ids = { "a" }, type = "HARD" })
    assert.is_false(ok)
    assert.are.equal("argument", errors.kind(e))
    assert.are.equal("type", e.field)
    assert.truthy(tostring(e):find("client:start_ecs: option 'type' is unknown", 1, true), tostring(e))
    ok, e = pcall(cloud.start_bms, { filter = {} })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("cloud.start_bms", 1, true) or tostring(e):find("client:start_bms", 1, true),
      tostring(e))
    assert.are.equal(0, fc:stats().calls.total)
  end)

  it("refuses more than max_servers, saying start", function()
    local res, err = client:start_ecs{ filter = { tags = { env = "staging" } }, max_servers = 3 }
    assert.is_nil(res)
    assert.are.equal("refused", err.kind)
    assert.truthy(err.message:find("refusing to start 20 servers", 1, true), err.message)
    assert.are.equal(0, fc:stats().calls.action)
  end)
end)

describe("cloud.op.actions", function()
  it("agree with cloud.classify on what each action wants", function()
    for name, want in pairs(classify.wanted) do
      assert.are.equal(want, actions[name].wanted, name)
    end
  end)

  it("build the bodies of the API reference", function()
    local function text(b) local s = b:string() b:close() return s end
    assert.are.equal('{"os-stop":{"type":"SOFT","servers":[{"id":"a"}]}}', text(actions.stop.body({ "a" }, "SOFT")))
    assert.are.equal('{"os-start":{"servers":[{"id":"a"}]}}', text(actions.start.body({ "a" })))
  end)
end)
