-- Restore: client:restore{ record = path } starts exactly what the record shows this tool
-- stopped, against the emulator (which, as the real API, fails a start of an ACTIVE server
-- and a stop of a SHUTOFF one with Ecs.0100).
local env = require "support.cloudenv"
local cjson = require "cjson"
local cloud = require "cloud"
local subprocess = require "support.subprocess"
local socket = require "socket"
local unpack = table.unpack or unpack

local FLEET = {
  ecs = {
    { count = 30, name = "web-%02d", tags = { "env=staging" } },                         -- 1..30
    { count = 10, name = "web-off-%d", status = "SHUTOFF", tags = { "env=staging" } },  -- 31..40
    { count = 5, name = "db-%d", tags = { "env=prod" } },                               -- 41..45
  },
}

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

local function statuses(fc, from, to)
  local out = {}
  for n = from, to do out[#out + 1] = fc:server(env.id("ecs", n)).status end
  return out
end

local function all(v, n)
  local out = {}
  for i = 1, n do out[i] = v end
  return out
end

local function reasons(res)
  local out = {}
  for _, s in ipairs(res.skipped) do out[s.reason] = (out[s.reason] or 0) + 1 end
  return out
end

describe("restore", function()
  local fc, client
  local paths = {}
  local function new_path()
    local p = tmpname()
    paths[#paths + 1] = p
    return p
  end

  setup(function()
    fc = env.start{ job_duration = 0.05, fleet = FLEET }
    client = env.default_client(fc) -- keys and a region: the project is found through IAM
  end)
  teardown(function()
    for _, p in ipairs(paths) do os.remove(p) end
    if client then client:close() end
    if fc then fc:stop() end
  end)
  before_each(function()
    assert(fc:configure{ faults = {}, job_duration = 0.05, flow_control = {}, fleet = FLEET })
    assert(fc:reset())
  end)

  it("after a stop by filter: what was ACTIVE is ACTIVE again, what was SHUTOFF untouched, no id sent twice", function()
    local path = new_path()
    local stopped = client:stop_ecs{ filter = { tags = { env = "staging" } }, poll_interval = 0.02, record = path }
    assert.is_true(stopped.ok)
    assert.are.equal(30, #stopped.stopped)
    assert.are.same(all("SHUTOFF", 40), statuses(fc, 1, 40))
    local res = client:restore{ record = path, poll_interval = 0.02 }
    assert.is_true(res.ok, cloud.to_json(res))
    assert.are.same(stopped.stopped, res.started)
    assert.are.same({ ["already SHUTOFF before the stop"] = 10 }, reasons(res))
    assert.are.equal(40, res.requested)
    assert.are.same(all("ACTIVE", 30), statuses(fc, 1, 30))
    assert.are.same(all("SHUTOFF", 10), statuses(fc, 31, 40))
    local st = fc:stats()
    assert.are.same({ 30, 0 }, { st.stop_requests.total, st.stop_requests.sent_more_than_once })
    assert.are.same({ 30, 0 }, { st.start_requests.total, st.start_requests.sent_more_than_once })
    for n = 31, 40 do assert.are.equal(0, fc:server(env.id("ecs", n)).start_requests) end
    -- Restoring again starts nothing: they are ACTIVE, started since the stop.
    local again = client:restore{ record = path }
    assert.is_true(again.ok)
    assert.are.equal(0, #again.started)
    assert.are.same({ ["already SHUTOFF before the stop"] = 10, ["started since the stop"] = 30 }, reasons(again))
    assert.are.equal(30, fc:stats().start_requests.total)
  end)

  it("exclude: ids the record shows stopped are left off, reported skipped as excluded", function()
    local path = new_path()
    local ids = { env.id("ecs", 1), env.id("ecs", 2), env.id("ecs", 3) }
    assert.is_true(client:stop_ecs{ ids = ids, poll_interval = 0.02, record = path }.ok)
    local res = client:restore{ record = path, poll_interval = 0.02, exclude = { ids[2] } }
    assert.is_true(res.ok, cloud.to_json(res))
    table.sort(res.started)
    assert.are.same({ ids[1], ids[3] }, res.started)
    assert.are.same({ excluded = 1 }, reasons(res))
    assert.are.same({ "ACTIVE", "SHUTOFF", "ACTIVE" }, statuses(fc, 1, 3))
    assert.are.equal(0, fc:server(ids[2]).start_requests)
    assert.has_error(function() client:restore{ record = path, exclude = "x" } end)
  end)

  it("skips servers started by hand or deleted since, and one refused by id as already SHUTOFF", function()
    local path = new_path()
    local ids = { env.id("ecs", 1), env.id("ecs", 2), env.id("ecs", 3), env.id("ecs", 31) }
    client:stop_ecs{ ids = ids, poll_interval = 0.02, record = path }
    -- A person starts web-02; web-03 is deleted (the emulator's fleet without it: a new fleet
    -- whose third server has another id).
    require("fakecloud.client").for_emulator(fc):start("ecs", { ids[2] })
    socket.sleep(0.2)
    local res = client:restore{ record = path, poll_interval = 0.02, dry_run = true }
    assert.is_true(res.dry_run)
    assert.are.same({ { id = ids[1] }, { id = ids[3] } }, res.selected)
    assert.are.equal(1, fc:stats().start_requests.total) -- the dry run sent no start
    fc:configure{ fleet = { ecs = { { count = 2, name = "web-%02d", tags = { "env=staging" } },
      { id = "someone-else", name = "x" }, { count = 37, name = "rest-%d" } } } }
    -- The reconfigured fleet starts fresh: make web-01 SHUTOFF again, as the stop left it.
    require("fakecloud.client").for_emulator(fc):stop("ecs", { ids[1] })
    socket.sleep(0.2)
    res = client:restore{ record = path, poll_interval = 0.02 }
    assert.is_true(res.ok, cloud.to_json(res))
    assert.are.same({ ids[1] }, res.started)
    local by = {}
    for _, s in ipairs(res.skipped) do by[s.id] = s.reason end
    assert.are.equal("started since the stop", by[ids[2]])
    assert.are.equal("deleted since the stop", by[ids[3]])
    assert.are.equal("already SHUTOFF before the stop", by[ids[4]])
  end)

  it("after a stop not waited for, asks the jobs which servers it stopped", function()
    local path = new_path()
    local ids = { env.id("ecs", 5), env.id("ecs", 6), env.id("ecs", 35) }
    local s = client:stop_ecs{ ids = ids, wait = false, record = path }
    assert.is_true(s.ok) -- accepted: the record cannot say yet who changed what
    socket.sleep(0.2)
    local res = client:restore{ record = path, poll_interval = 0.02 }
    assert.is_true(res.ok, cloud.to_json(res))
    assert.are.same({ ids[1], ids[2] }, res.started)
    assert.are.same({ ["already SHUTOFF before the stop (Ecs.0100)"] = 1 }, reasons(res))
    assert.are.equal(0, fc:server(ids[3]).start_requests)
  end)

  it("of a stop killed half-way: the record reads, and the restore starts only what had been stopped", function()
    -- 2,500 servers go in three calls, one at a time, each answered 0.2 s after it arrived; the
    -- cloud's budget takes two calls' worth (2,000 servers a minute), so the third is refused
    -- and the child is killed once the second batch is in its record.
    assert(fc:configure{ job_duration = 0.3, flow_control = { budget = 2000, window = 60 },
      faults = { latency = 0.2, apply_to = { action = true, job = false, list = false } },
      fleet = { ecs = { { count = 2500, name = "big-%d", tags = { "env=big" } },
                        { count = 10, name = "big-off-%d", status = "SHUTOFF", tags = { "env=big" } } } } })
    local path = new_path()
    local child = subprocess.spawn(([[
      local cloud = require "cloud"
      local client = assert(cloud.new{ region = "cn-north-4", ak = %q, sk = %q,
                                       endpoints = { ecs = %q, iam = %q }, concurrency = 1 })
      local res = client:stop_ecs{ filter = { tags = { env = "big" } }, poll_interval = 0.05, record = %q }
      print(cloud.to_json(res))
    ]]):format(fc.ak, fc.sk, fc.url, fc.url, path), { LUA_CPATH = os.getenv("LUA_CPATH") })
    finally(child.clean)
    local function batches(text)
      local n = 0
      for _ in text:gmatch('"type":"batch"') do n = n + 1 end
      return n
    end
    local deadline = socket.gettime() + 30
    while batches(slurp(path)) < 2 and socket.gettime() < deadline do socket.sleep(0.01) end
    child.kill("KILL")
    assert.are.equal(137, child.exit_code(5), child.output())
    -- Readable up to the kill: every whole line is JSON; the record never ended.
    local text = slurp(path)
    local recorded = {}
    for line in text:gmatch("([^\n]*)\n") do
      local l = cjson.decode(line)
      if l.type == "batch" then
        for _, id in ipairs(l.ids) do recorded[#recorded + 1] = id end
      end
      assert.are_not.equal("end", l.type)
    end
    assert.are.equal(2000, #recorded)
    assert.are.equal(2000, fc:stats().stop_requests.total) -- the third call was refused
    socket.sleep(0.4) -- the accepted jobs end in the cloud
    assert(fc:configure{ faults = {}, job_duration = 0.05, flow_control = {} })
    assert.are.same({ ACTIVE = 500, SHUTOFF = 2010 }, fc:stats().servers.ecs)
    local res = client:restore{ record = path, poll_interval = 0.02 }
    assert.is_true(res.ok, cloud.to_json(res.failed))
    assert.is_false(res.record.complete)
    table.sort(recorded)
    local started = { unpack(res.started) }
    table.sort(started)
    assert.are.same(recorded, started)
    -- The third call was sent (its intent line is in the record) and refused: its servers
    -- were found ACTIVE, so the record shows the call did not stop them.
    local reasons_seen = reasons(res)
    assert.are.same({ ["already SHUTOFF before the stop"] = 10,
                      ["not stopped: its stop call did not reach it (now ACTIVE)"] = 500 }, reasons_seen)
    local st = fc:stats()
    assert.are.same({ ACTIVE = 2500, SHUTOFF = 10 }, st.servers.ecs)
    assert.are.same({ 2000, 0 }, { st.start_requests.total, st.start_requests.sent_more_than_once })
  end)

  -- A record written by hand, as a crash or an attacker could leave it: a header and the
  -- given lines, each stamped with the emulator's project and region.
  local function hand_record(lines)
    local path = new_path()
    local f = assert(io.open(path, "wb"))
    local stamp = { project_id = fc.project_id, region = "cn-north-4", time = "2026-01-01T00:00:00.000Z" }
    local function put(t)
      for k, v in pairs(stamp) do t[k] = v end
      f:write(cjson.encode(t), "\n")
    end
    put{ type = "header", format = "cloud-record/2", tool = "cloud", action = "stop", service = "ecs",
         selection = "ids" }
    for _, l in ipairs(lines) do put(l) end
    f:close()
    return path
  end

  it("never puts a record's job id that is no plain token into a URL; the lookup decides instead", function()
    local id = env.id("ecs", 1)
    assert(client:stop_ecs{ ids = { id }, poll_interval = 0.02 })
    local path = hand_record{
      { type = "intent", call = 1, ids = { id }, count = 1, before = { "ACTIVE" } },
      { type = "batch", call = 1, ids = { id }, count = 1, job_id = "../../v3/projects", request_id = "r" } }
    local asked = {}
    local c = env.default_client(fc, { on_request = function(info) asked[#asked + 1] = info.path end })
    finally(function() c:close() end)
    local res = c:restore{ record = path, poll_interval = 0.02 }
    for _, p in ipairs(asked) do assert.is_nil(p:find("..", 1, true), p) end -- the job was never asked
    assert.is_true(#asked > 0)
    assert.is_true(res.ok)
    assert.are.same({ id }, res.started)
    assert.are.equal("ACTIVE", fc:server(id).status)
  end)

  it("of a record that cannot show a server was running before its lost call: not started, not ok", function()
    local known, unknown, off, busy = env.id("ecs", 2), env.id("ecs", 3), env.id("ecs", 31), env.id("ecs", 4)
    client:stop_ecs{ ids = { known, unknown }, poll_interval = 0.02 }
    assert(fc:configure{ job_duration = 30 }) -- still powering-off during the restore
    client:stop_ecs{ ids = { busy }, wait = false }
    -- A job's length is fixed when it is made: the restore's own start job is quick.
    assert(fc:configure{ job_duration = 0.05 })
    local path = hand_record{
      { type = "intent", call = 1, ids = { known, unknown, off, busy }, count = 4,
        before = { "ACTIVE", cjson.null, "SHUTOFF", "ACTIVE" } } }
    local res = client:restore{ record = path, poll_interval = 0.02 }
    assert.is_false(res.ok)
    assert.is_false(res.record.complete)
    assert.are.same({ known }, res.started)
    local why = {}
    for _, s in ipairs(res.skipped) do why[s.id] = s end
    assert.truthy(why[unknown].reason:find("cannot show it was running before", 1, true), why[unknown].reason)
    assert.truthy(why[unknown].error)
    assert.are.same({ "already SHUTOFF before the stop" }, { why[off].reason, why[off].error })
    assert.truthy(why[busy].reason:find("still being stopped", 1, true), why[busy].reason)
    assert.truthy(why[busy].error)
    assert.are.equal(0, fc:server(busy).start_requests)
    for _, id in ipairs({ unknown, off }) do
      assert.are.equal("SHUTOFF", fc:server(id).status)
      assert.are.equal(0, fc:server(id).start_requests)
    end
  end)

  it("refuses a record of another project, of a start, or no record at all; nothing is sent", function()
    local path = new_path()
    client:start_ecs{ ids = { env.id("ecs", 31) }, poll_interval = 0.02, record = path }
    local before = fc:stats().calls.total
    local res, err = client:restore{ record = path }
    assert.is_nil(res)
    assert.are.same({ "cloud.record_target", "refused" }, { err.code, err.kind })
    assert.truthy(err.message:find("of a start", 1, true), err.message)
    local other = env.client(fc, { project_id = "ffffffffffffffffffffffffffffffff" })
    res, err = other:restore{ record = path }
    other:close()
    assert.is_nil(res)
    assert.truthy(err.message:find("no servers of project ffff", 1, true), err.message)
    local junk = new_path()
    local f = assert(io.open(junk, "wb"))
    f:write("hello\n")
    f:close()
    err = select(2, client:restore{ record = junk })
    assert.are.same({ "cloud.record", "config" }, { err.code, err.kind })
    assert.are.equal(before, fc:stats().calls.total)
    local ok, e = pcall(client.restore, client, {})
    assert.is_false(ok)
    assert.are.equal("record", e.field)
    ok, e = pcall(client.restore, client, { record = path, type = "HARD" })
    assert.is_false(ok)
    assert.are.equal("type", e.field)
  end)

  it("cloud.restore{} in one call: a client from the options, the restore, the client closed", function()
    local path = new_path()
    local stopped = client:stop_ecs{ ids = env.ids("ecs", 1, 5), poll_interval = 0.02, record = path }
    assert.is_true(stopped.ok)
    local opts = { region = "cn-north-4", ak = fc.ak, sk = fc.sk,
                   endpoints = { ecs = fc.url, bms = fc.url, iam = fc.url }, record = path, poll_interval = 0.02 }
    local made, res, err = env.secrets_made(function() return cloud.restore(opts) end)
    assert.is_nil(err)
    assert.is_true(res.ok, cloud.to_json(res))
    assert.are.same(env.ids("ecs", 1, 5), res.started)
    assert.are.same(all("ACTIVE", 5), statuses(fc, 1, 5))
    -- The one secret it made (the SK) is wiped: the client was closed.
    assert.are.equal(1, #made)
    assert.are.equal("cloud.core.secret (closed)", tostring(made[1]))
    -- A mistake raises naming cloud.restore and the field, before any client or request.
    local before = fc:stats().calls.total
    for _, bad in ipairs({ { { record = path, type = "HARD" }, "type" }, { {}, "record" },
                           { { record = path, wait = "yes" }, "wait" },
                           { { record = path, timeout = -1 }, "timeout" } }) do
      local ok, e = pcall(cloud.restore, bad[1])
      assert.is_false(ok)
      assert.are.same({ "argument", bad[2] }, { e.kind, e.field })
      assert.truthy(tostring(e):find(bad[2] == "timeout" and "cloud.new" or "cloud.restore", 1, true), tostring(e))
    end
    assert.is_false((pcall(cloud.restore, "stop.jsonl")))
    assert.are.equal(before, fc:stats().calls.total)
    -- Nothing to build a client from: cloud.new's error comes back, not a raise.
    res, err = cloud.restore{ record = path, endpoints = { ecs = fc.url } }
    assert.is_nil(res)
    assert.are.equal("cloud.no_project_id", err.code)
  end)
end)
