-- Overlapping stops inside nginx are joined: 20 concurrent requests for overlapping ids
-- (50 distinct servers) send each server's stop once, and their results together report
-- each server stopped once and joined by every other request that asked for it.
local env = require "support.cloudenv"
local appnginx = require "support.appnginx"
local socket = require "socket"
local cjson = require "cjson"

local REQUESTS, SPAN, SERVERS = 20, 31, 50 -- request k asks for servers k .. k + 30

-- Sends every path at once on its own connection, then reads each answer: the requests
-- overlap in the app nginx (HTTP/1.0, so each answer ends with its connection).
local function all_at_once(app, paths)
  local port = tonumber(app.url:match(":(%d+)$"))
  local conns = {}
  for i, path in ipairs(paths) do
    local s = assert(socket.tcp())
    s:settimeout(120)
    assert(s:connect("127.0.0.1", port))
    assert(s:send("GET " .. path .. " HTTP/1.0\r\nHost: app\r\n\r\n"))
    conns[i] = s
  end
  local out = {}
  for i, s in ipairs(conns) do
    local text = assert(s:receive("*a"))
    s:close()
    local status, body = text:match("^HTTP/1%.%d (%d+).-\r\n\r\n(.*)$")
    assert(status == "200", ("%s: %s"):format(paths[i], text:sub(1, 500)))
    out[i] = cjson.decode(body)
  end
  return out
end

local function paths(base, query)
  local out = {}
  for k = 1, REQUESTS do
    out[k] = ("/joined?from=%d&to=%d%s"):format(base + k, base + k + SPAN - 1, query)
  end
  return out
end

-- Each server asked for: stopped by exactly one request, joined by every other that asked.
local function assert_joined_once(results, base)
  local stopped, joined, asked = {}, {}, {}
  for k, r in ipairs(results) do
    assert(r.ok, ("request %d: %s"):format(k, r.error or cjson.encode(r.failed[1])))
    assert.are.equal(0, #r.failed)
    assert.are.equal(SPAN, r.requested)
    assert.are.equal(SPAN, #r.stopped + #r.joined) -- each of its servers once
    for _, id in ipairs(r.stopped) do stopped[id] = (stopped[id] or 0) + 1 end
    for _, j in ipairs(r.joined) do
      assert.are.equal("stopped", j.outcome)
      joined[j.id] = (joined[j.id] or 0) + 1
    end
    for n = base + k, base + k + SPAN - 1 do
      local id = env.id("ecs", n)
      asked[id] = (asked[id] or 0) + 1
    end
  end
  local distinct = 0
  for id, n in pairs(asked) do
    distinct = distinct + 1
    assert.are.equal(1, stopped[id], id .. " stopped by one request")
    assert.are.equal(n - 1, joined[id] or 0, id .. " joined by the others")
  end
  assert.are.equal(SERVERS, distinct)
end

local function assert_sent_once(fc)
  local st = fc:stats()
  assert.are.equal(SERVERS, st.stop_requests.total)
  assert.are.equal(0, st.stop_requests.sent_more_than_once)
end

describe("overlapping stops in nginx", function()
  local fc

  setup(function()
    -- Jobs take long enough for every request to arrive while the first stops are in flight.
    fc = env.start{ job_duration = 1, fleet = { ecs = { { count = 600, status = "ACTIVE" } } } }
  end)

  teardown(function()
    if fc then fc:stop() end
  end)

  before_each(function() fc:reset() end)

  describe("in one worker", function()
    local app

    setup(function()
      app = assert(appnginx.start{ emulator = fc })
    end)

    teardown(function()
      if app then app:stop() end
    end)

    it("are joined with a client per request: each server's stop sent once", function()
      local results = all_at_once(app, paths(0, ""))
      assert_joined_once(results, 0)
      assert_sent_once(fc)
    end)

    it("are joined with one shared client", function()
      local results = all_at_once(app, paths(100, "&shared=1"))
      assert_joined_once(results, 100)
      assert_sent_once(fc)
    end)

    it("send again once the stop they could have joined has ended", function()
      local first = app:json("/joined?from=201&to=203")
      assert.are.equal(3, #first.stopped)
      local again = app:json("/joined?from=201&to=203")
      -- Nothing in flight to join: sent, and the emulator says they are off already.
      assert.are.equal(0, #again.joined)
      assert.are.equal(3, #again.skipped)
      assert.are.equal("already SHUTOFF", again.skipped[1].reason)
    end)

    it("time a joined stop out truthfully within the joiner's own wait_timeout", function()
      fc:configure{ job_duration = 3 }
      finally(function() fc:configure{ job_duration = 1 } end)
      local results = all_at_once(app, { "/joined?from=301&to=302&wait_timeout=20",
                                         "/joined?from=301&to=302&wait_timeout=0.5&delay=0.2" })
      local owner, joiner = results[1], results[2]
      assert.are.equal(2, #owner.stopped)
      assert.is_true(owner.ok)
      assert.are.equal(0, #joiner.stopped)
      assert.are.equal(2, #joiner.joined)
      assert.is_false(joiner.ok)
      for _, j in ipairs(joiner.joined) do
        assert.are.equal("failed", j.outcome)
        assert.are.equal("cloud.wait_timeout", j.code)
        assert.matches("was still in flight after 0.5s", j.message, 1, true)
      end
      assert.are.equal(2, fc:stats().stop_requests.total)
    end)

    it("report the failure of the stop they joined: an owner whose wait_timeout ended", function()
      fc:configure{ job_duration = 3 }
      finally(function() fc:configure{ job_duration = 1 } end)
      local results = all_at_once(app, { "/joined?from=311&to=312&wait_timeout=0.5",
                                         "/joined?from=311&to=312&wait_timeout=20&delay=0.2" })
      local owner, joiner = results[1], results[2]
      assert.are.equal(2, #owner.failed)
      assert.are.equal("cloud.wait_timeout", owner.failed[1].code)
      assert.are.equal(2, #joiner.joined)
      assert.is_false(joiner.ok)
      for _, j in ipairs(joiner.joined) do
        assert.are.equal("failed", j.outcome)
        assert.are.equal("cloud.wait_timeout", j.code)
      end
      assert.are.equal(2, fc:stats().stop_requests.total)
    end)
  end)

  describe("across two workers", function()
    local app

    setup(function()
      -- A socket per worker: the kernel spreads the 20 connections over both.
      app = assert(appnginx.start{ emulator = fc, workers = 2, reuseport = true })
    end)

    teardown(function()
      if app then app:stop() end
    end)

    it("are joined through the lua_shared_dict the client names", function()
      local results = all_at_once(app, paths(400, "&dict=joins"))
      assert_joined_once(results, 400)
      assert_sent_once(fc)
      local pids = {}
      for _, r in ipairs(results) do pids[r.pid] = true end
      assert.is_truthy(next(pids, next(pids)), "every request went to one worker: nothing crossed workers")
    end)

    it("are each sent by both workers without the dict: the negative control", function()
      local results = all_at_once(app, paths(550, ""))
      local pids = {}
      for _, r in ipairs(results) do pids[r.pid] = true end
      assert.is_truthy(next(pids, next(pids)), "every request went to one worker")
      assert.is_true(fc:stats().stop_requests.sent_more_than_once > 0)
    end)

    it("are joined with the shared client that names the dict", function()
      local results = all_at_once(app, paths(500, "&shared=1"))
      assert_joined_once(results, 500)
      assert_sent_once(fc)
    end)

    it("refuse a join_dict that names no lua_shared_dict, naming the option", function()
      local code, body = app:get("/new?opt=join_dict&value=nope")
      assert.are.equal(200, code)
      assert.matches("cloud.new: option 'join_dict' names no lua_shared_dict", body, 1, true)
    end)
  end)
end)
