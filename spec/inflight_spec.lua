-- cloud.op.inflight, the registry of stops in flight, driven directly: an owner's ledger
-- publishes each outcome, and a joiner follows it on a real scheduler (timers only).
local core = require "cloud.core"
local actions = require "cloud.op.actions"
local errors = require "cloud.errors"
local inflight = require "cloud.op.inflight"
local ledger = require "cloud.op.ledger"
local scheduler = require "cloud.net.scheduler"
local env = require "support.cloudenv"

describe("cloud.op.inflight", function()
  local engine, scope_n = nil, 0

  setup(function() engine = core.http{ concurrency = 1 } end)
  teardown(function() engine:close() end)

  -- A scope of its own per test: the worker's registry outlives each of them.
  local function scope()
    scope_n = scope_n + 1
    return "http://127.0.0.1:1 p ecs stop " .. scope_n
  end

  local function sched(deadline)
    return scheduler.new{ transport = engine, sign = function() error("no call is sent here") end,
      policy = { concurrency = 1, timeout = 5, attempts = 1, base = 0.01, cap = 0.02 }, deadline = deadline }
  end

  -- An owner: its claim, and its ledger telling the claim each outcome.
  local function owner(reg, sc, ids, deadline)
    local c = inflight.claim(reg, sc, ids, deadline)
    local l = ledger.new(c.own)
    l:observe(function(id, state, failure) c:settled(id, state, failure) end)
    return c, l
  end

  it("claims each server once: another claim joins it", function()
    local reg, sc = inflight.worker_registry(), scope()
    local deadline = core.now() + 30
    local a = inflight.claim(reg, sc, { "s1", "s2" }, deadline)
    local b = inflight.claim(reg, sc, { "s2", "s3" }, deadline)
    assert.are.same({ "s1", "s2" }, a.own)
    assert.are.same({ "s3" }, b.own)
    assert.are.same({ { id = "s2" } }, b.joined)
    -- Another scope (another project, service, action or endpoint) is another server.
    local other = inflight.claim(reg, sc .. "x", { "s2" }, deadline)
    assert.are.same({ "s2" }, other.own)
    a:release()
    b:release()
    other:release()
  end)

  it("reports the owner's outcomes to joiners: stopped, already, and failed with its code", function()
    local reg, sc = inflight.worker_registry(), scope()
    local deadline = core.now() + 30
    local a, l = owner(reg, sc, { "s1", "s2", "s3" }, deadline)
    local b = inflight.claim(reg, sc, { "s1", "s2", "s3", "s4" }, deadline)
    assert.are.same({ "s4" }, b.own)
    local s = sched(deadline)
    b:follow(s, 0.05, actions.stop, 30, deadline)
    s:after(0.1, function()
      l:stopped("s1")
      l:already("s2", "SHUTOFF")
      l:failed("s3", errors.new("Ecs.0114", "the server was not found"))
    end)
    s:run()
    assert.are.same({ { id = "s1", outcome = "stopped" }, { id = "s2", outcome = "already" },
      { id = "s3", outcome = "failed", code = "Ecs.0114", message = "the server was not found" } }, b.joined)
    -- A published outcome ends the claim: a later stop is sent again, not joined to it.
    local c = inflight.claim(reg, sc, { "s1" }, deadline)
    assert.are.same({ "s1" }, c.own)
    l:close()
    for _, x in ipairs({ a, b, c }) do x:release() end
  end)

  it("tells joiners when the owner ends without an outcome for a server", function()
    local reg, sc = inflight.worker_registry(), scope()
    local deadline = core.now() + 30
    local a, l = owner(reg, sc, { "s1" }, deadline)
    local b = inflight.claim(reg, sc, { "s1" }, deadline)
    local s = sched(deadline)
    b:follow(s, 0.05, actions.stop, 30, deadline)
    s:after(0.1, function() a:release() end) -- e.g. it raised, or its request was aborted
    s:run()
    assert.are.equal("failed", b.joined[1].outcome)
    assert.are.equal("cloud.unconfirmed", b.joined[1].code)
    assert.matches("the operation that sent it ended without an outcome for it", b.joined[1].message, 1, true)
    l:close()
  end)

  it("tells joiners when the owner's claim expired unpublished (its worker died)", function()
    local reg, sc = inflight.worker_registry(), scope()
    -- A claim lasts a minute past its owner's deadline: this one ends 0.2 s from now.
    local a = inflight.claim(reg, sc, { "s1" }, core.now() - 59.8)
    local deadline = core.now() + 10
    local b = inflight.claim(reg, sc, { "s1" }, deadline)
    assert.are.same({}, b.own)
    local s = sched(deadline)
    b:follow(s, 0.05, actions.stop, 10, deadline)
    s:run()
    assert.are.equal("failed", b.joined[1].outcome)
    assert.are.equal("cloud.unconfirmed", b.joined[1].code)
    assert.matches("ended without an outcome for this server known here", b.joined[1].message, 1, true)
    assert.is_true(core.now() < deadline, "concluded when the claim expired, not at the deadline")
    a:release()
  end)

  it("times a joined server out at the joiner's own deadline, saying the stop may yet complete", function()
    local reg, sc = inflight.worker_registry(), scope()
    local a, l = owner(reg, sc, { "s1" }, core.now() + 60)
    local deadline = core.now() + 0.3
    local b = inflight.claim(reg, sc, { "s1" }, deadline)
    local s = sched(deadline)
    b:follow(s, 0.05, actions.start, 0.3, deadline)
    s:run()
    assert.are.equal("failed", b.joined[1].outcome)
    assert.are.equal("cloud.wait_timeout", b.joined[1].code)
    assert.matches("the start this call joined, another operation's, was still in flight after 0.3s",
      b.joined[1].message, 1, true)
    -- The owner's outcome after that changes nothing for the joiner that gave up.
    l:stopped("s1")
    assert.are.equal("failed", b.joined[1].outcome)
    l:close()
    a:release()
  end)

  it("names the action's done state: a joined start is started", function()
    local reg, sc = inflight.worker_registry(), scope()
    local deadline = core.now() + 30
    local a, l = owner(reg, sc, { "s1" }, deadline)
    local b = inflight.claim(reg, sc, { "s1" }, deadline)
    local s = sched(deadline)
    b:follow(s, 0.05, actions.start, 30, deadline)
    s:after(0.05, function() l:stopped("s1") end)
    s:run()
    assert.are.same({ { id = "s1", outcome = "started" } }, b.joined)
    l:close()
    a:release()
  end)

  it("lets a claim whose owner's deadline is long past be taken over", function()
    local reg, sc = inflight.worker_registry(), scope()
    local a = inflight.claim(reg, sc, { "s1" }, core.now() - 3600) -- an owner that vanished
    local b = inflight.claim(reg, sc, { "s1" }, core.now() + 30)
    assert.are.same({ "s1" }, b.own)
    a:release()
    b:release()
  end)

  it("gives joined servers the interruption's error when the call ends first", function()
    local reg, sc = inflight.worker_registry(), scope()
    local deadline = core.now() + 30
    local a = inflight.claim(reg, sc, { "s1" }, deadline)
    local b = inflight.claim(reg, sc, { "s1" }, deadline)
    b:release(errors.new("cloud.interrupted", "interrupted; stops already accepted may still complete"))
    assert.are.same({ { id = "s1", outcome = "failed", code = "cloud.interrupted",
      message = "interrupted; stops already accepted may still complete" } }, b.joined)
    a:release()
  end)

  it("hears of servers a ledger settles in C: a batch accepted without waiting", function()
    local l = ledger.new({ "s1", "s2", "s3" })
    local told = {}
    l:observe(function(id, state) told[#told + 1] = id .. "=" .. state end)
    l:failed("s2", errors.new("Ecs.0114", "the server was not found"))
    local b = l:batch(1, 3)
    l:job(b, "job-1")
    l:stopped_batch(b)
    assert.are.same({ "s2=failed", "s1=done", "s3=done" }, told)
    l:close()
  end)

  it("makes a result not ok when a joined stop failed, each server still once", function()
    local l = ledger.new({ "s1" })
    l:stopped("s1")
    local res = l:finish({ joined = { { id = "s2", outcome = "failed", code = "cloud.wait_timeout", message = "m" },
                                      { id = "s3", outcome = "stopped" } } }, "stopped", { requested = 3 })
    assert.is_false(res.ok)
    env.assert_ledger(res, { "s1", "s2", "s3" })
    l = ledger.new({ "s1" })
    l:stopped("s1")
    res = l:finish({ joined = { { id = "s3", outcome = "stopped" } } }, "stopped", { requested = 2 })
    assert.is_true(res.ok)
    env.assert_ledger(res, { "s1", "s3" })
  end)

  it("is counted by outcome in the command line's summary, and encoded as an array", function()
    local lines = {}
    local out = { write = function(_, text) lines[#lines + 1] = text end }
    require("cloud.cli.summary").result(out, { requested = 3, stopped = { "s1" }, failed = {}, skipped = {},
      jobs = {}, joined = { { id = "s2", outcome = "stopped" }, { id = "s3", outcome = "failed", code = "c",
      message = "m" } } }, "ecs", 1, false)
    assert.matches("Joined 2 (another call's, in flight): 1 stopped, 1 failed", table.concat(lines), 1, true)
    assert.matches('"joined":[]', require("cloud").to_json({ joined = {} }), 1, true)
  end)

  it("registers nothing outside nginx, and refuses a join_dict there naming the option", function()
    assert.is_nil(inflight.registry(nil, "cloud.new", "join_dict"))
    local ok, err = pcall(inflight.registry, "cloud_inflight", "cloud.new", "join_dict")
    assert.is_false(ok)
    assert.are.equal("argument", errors.kind(err))
    assert.matches("cloud.new: option 'join_dict' needs nginx", tostring(err), 1, true)
  end)
end)
