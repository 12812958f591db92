-- Records (docs/records.md): `record = "path"` writes a JSON Lines file as a stop or start
-- goes: a header, every accepted batch, every final outcome, an end line. Each line is
-- flushed when written; the SK never appears; the AK only by its first characters.
local env = require "support.cloudenv"
local cjson = require "cjson"
local cloud = require "cloud"
local errors = require "cloud.errors"

local FLEET = {
  ecs = {
    { count = 6, name = "web-%d", tags = { "env=staging" } },                        -- 1..6
    { count = 2, name = "web-off-%d", status = "SHUTOFF", tags = { "env=staging" } }, -- 7..8
    { count = 1, name = "web-p", tags = { "env=staging", "stop-protect=true" } },      -- 9
  },
}

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- The record's lines, decoded, and the raw text.
local function read_record(path)
  local text, lines = slurp(path), {}
  for line in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = cjson.decode(line) end
  assert.are.equal("\n", text:sub(-1)) -- every line ends: nothing half-written
  return lines, text
end

local function of_type(lines, t)
  local out = {}
  for _, l in ipairs(lines) do if l.type == t then out[#out + 1] = l end end
  return out
end

local function tmpname()
  local p = os.tmpname()
  os.remove(p) -- a record is never written over a file that exists
  return p
end

-- The outcome lines by server: exactly one each, whatever raced (a job's answer, a lookup).
local function outcomes_by_id(lines)
  local by = {}
  for _, o in ipairs(of_type(lines, "outcome")) do
    assert.is_nil(by[o.id], "two outcome lines for " .. tostring(o.id))
    by[o.id] = o
  end
  return by
end

describe("records", function()
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
  before_each(function() assert(fc:reset()) end)

  it("of a stop by filter: header, skipped servers, batches, one outcome per server, an end", function()
    local path = new_path()
    local res = client:stop_ecs{ filter = { tags = { env = "staging" } }, poll_interval = 0.02, record = path }
    assert.is_true(res.ok)
    local lines, text = read_record(path)
    assert.is_nil(text:find(fc.sk, 1, true))
    assert.is_nil(text:find(fc.ak, 1, true)) -- the caller is the AK's first characters only
    for _, l in ipairs(lines) do
      assert.are.equal(fc.project_id, l.project_id)
      assert.truthy(l.time:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"), l.time)
    end
    local h = lines[1]
    assert.are.equal("header", h.type)
    assert.are.same({ "cloud-record/2", "cloud", cloud.VERSION, "stop", "ecs", "filter" },
      { h.format, h.tool, h.version, h.action, h.service, h.selection })
    assert.are.same({ tags = { "env=staging" } }, h.filter)
    assert.are.equal(fc.ak:sub(1, 4) .. "…", h.caller)
    assert.are.equal(fc.url, h.endpoint)
    assert.are.equal("SOFT", h.options.type)
    local batches = of_type(lines, "batch")
    assert.are.equal(1, #batches)
    assert.are.equal(res.jobs[1].job_id, batches[1].job_id)
    assert.truthy(batches[1].request_id:match("^%x+$"))
    assert.are.same(res.stopped, batches[1].ids)
    local by = {}
    for _, o in ipairs(of_type(lines, "outcome")) do
      assert.is_nil(by[o.id], "two outcomes for " .. o.id)
      by[o.id] = o
    end
    for _, id in ipairs(res.stopped) do
      assert.are.same({ "stopped", true, "job", res.jobs[1].job_id }, { by[id].outcome, by[id].changed, by[id].how,
        by[id].job_id })
    end
    -- Found already SHUTOFF: recorded, and recorded as not changed by this operation.
    for _, n in ipairs({ 7, 8 }) do
      local o = by[env.id("ecs", n)]
      assert.are.same({ "skipped", false, "already SHUTOFF", "SHUTOFF" }, { o.outcome, o.changed, o.reason,
        o.server_status })
    end
    assert.are.same({ "skipped", false, "protected" }, { by[env.id("ecs", 9)].outcome, by[env.id("ecs", 9)].changed,
      by[env.id("ecs", 9)].reason })
    local last = lines[#lines]
    assert.are.same({ "end", true, res.requested, 6, 0, 3 }, { last.type, last.ok, last.requested, last.stopped,
      last.failed,
      last.skipped })
  end)

  it("of a stop by id: a server already SHUTOFF is recorded as not changed by it", function()
    local path = new_path()
    local ids = { env.id("ecs", 1), env.id("ecs", 7) }
    client:stop_ecs{ ids = ids, poll_interval = 0.02, record = path, record_source = "--ids-file ids.txt" }
    local lines = read_record(path)
    assert.are.same({ "ids", { count = 2, source = "--ids-file ids.txt" } }, { lines[1].selection, lines[1].ids })
    local by = {}
    for _, o in ipairs(of_type(lines, "outcome")) do by[o.id] = o end
    assert.are.same({ "stopped", true }, { by[ids[1]].outcome, by[ids[1]].changed })
    -- The cloud refused its stop (Ecs.0100); the lookup found it SHUTOFF: skipped, unchanged.
    assert.are.same({ "skipped", false, "already SHUTOFF" }, { by[ids[2]].outcome, by[ids[2]].changed,
      by[ids[2]].reason })
  end)

  it("writes each call ahead: its intent line, with the states before, precedes its batch", function()
    local path = new_path()
    local res = client:stop_ecs{ filter = { tags = { env = "staging" } }, poll_interval = 0.02, record = path }
    assert.is_true(res.ok)
    local lines = read_record(path)
    local seen_intent = {}
    for _, l in ipairs(lines) do
      if l.type == "intent" then
        seen_intent[l.call] = l
        assert.are.equal(#l.ids, l.count)
        for i = 1, #l.ids do assert.are.equal("ACTIVE", l.before[i]) end
      elseif l.type == "batch" then
        assert.truthy(seen_intent[l.call], "a batch before its intent")
        assert.are.same(seen_intent[l.call].ids, l.ids)
      end
    end
    assert.are.equal(1, #of_type(lines, "intent"))
    outcomes_by_id(lines)
  end)

  it("stopping by id, knows each server's state before from a lookup", function()
    local path = new_path()
    local ids = { env.id("ecs", 7), env.id("ecs", 1), env.id("ecs", 2) }
    client:stop_ecs{ ids = ids, poll_interval = 0.02, record = path }
    local intent = of_type(read_record(path), "intent")[1]
    assert.are.same(ids, intent.ids)
    assert.are.same({ "SHUTOFF", "ACTIVE", "ACTIVE" }, intent.before)
  end)

  it("after a lost answer, a lookup marks a server changed only when it was known running before", function()
    -- The cloud takes the call and answers after the client's timeout: the servers are
    -- looked up. One was ACTIVE before (stopped by this call), one SHUTOFF already.
    assert(fc:configure{ faults = { latency = 1, latency_mode = "after_work",
                                    apply_to = { action = true, job = false, list = false } } })
    finally(function() fc:configure{ faults = {} } end)
    local c = env.default_client(fc, { timeout = 0.3 })
    finally(function() c:close() end)
    local path = new_path()
    local ids = { env.id("ecs", 3), env.id("ecs", 8) }
    c:stop_ecs{ ids = ids, poll_interval = 0.02, resend_grace = 0.5, record = path }
    local lines = read_record(path)
    assert.are.equal(0, #of_type(lines, "batch")) -- the answer never came
    local by = outcomes_by_id(lines)
    assert.are.same({ "stopped", "lookup", true }, { by[ids[1]].outcome, by[ids[1]].how, by[ids[1]].changed })
    assert.are.equal(false, by[ids[2]].changed) -- it was SHUTOFF before: not this tool's doing
    assert.are.equal(1, fc:server(ids[1]).stop_requests) -- and never sent twice
  end)

  it("a failed line keeps the cloud's code, message and errorcode_message", function()
    local path = new_path()
    local missing = "00000000-0000-4000-8000-00000000dead"
    local res = client:stop_ecs{ ids = { missing }, poll_interval = 0.02, record = path }
    assert.are.equal(1, #res.failed)
    local o = outcomes_by_id(read_record(path))[missing]
    local f = res.failed[1]
    assert.are.same({ "failed", false, f.code, f.message }, { o.outcome, o.changed, o.code, o.message })
    assert.truthy(f.errorcode_message, "the emulator gives the sub-job's errorcode_message")
    assert.are.equal(f.errorcode_message, o.errorcode_message)
  end)

  it("without waiting: accepted servers are not yet known to be changed", function()
    local path = new_path()
    local res = client:stop_ecs{ ids = { env.id("ecs", 2) }, wait = false, record = path }
    assert.is_true(res.ok)
    local o = of_type(read_record(path), "outcome")[1]
    assert.are.same({ "stopped", "accepted", res.jobs[1].job_id }, { o.outcome, o.how, o.job_id })
    assert.are.equal(cjson.null, o.changed)
  end)

  it("of a start names the action and `started`", function()
    fc:configure{ fleet = { ecs = { { count = 3, status = "SHUTOFF" } } } }
    finally(function() fc:configure{ fleet = FLEET } end)
    local path = new_path()
    local res = client:start_ecs{ ids = env.ids("ecs", 1, 3), poll_interval = 0.02, record = path }
    assert.is_true(res.ok)
    local lines = read_record(path)
    assert.are.equal("start", lines[1].action)
    for _, o in ipairs(of_type(lines, "outcome")) do assert.are.equal("started", o.outcome) end
    assert.are.equal(3, lines[#lines].started)
  end)

  it("of a call that sends nothing: the error in the end line", function()
    local path = new_path()
    local res, err = client:stop_ecs{ filter = { tags = { env = "staging" } }, max_servers = 2, record = path }
    assert.is_nil(res)
    local lines = read_record(path)
    assert.are.same({ "header", "end" }, { lines[1].type, lines[2].type })
    assert.are.same({ false, "cloud.max_servers", "refused" }, { lines[2].ok, lines[2].error.code,
      lines[2].error.kind })
    assert.are.equal(err.code, lines[2].error.code)
  end)

  it("is never written over a file that exists, nor where it cannot be written; nothing is sent", function()
    local path = new_path()
    local f = assert(io.open(path, "wb"))
    f:write("an older record\n")
    f:close()
    local res, err = client:stop_ecs{ ids = { env.id("ecs", 1) }, record = path }
    assert.is_nil(res)
    assert.are.same({ "cloud.record_exists", "refused" }, { err.code, err.kind })
    assert.are.equal("an older record\n", slurp(path))
    res, err = client:stop_ecs{ ids = { env.id("ecs", 1) }, record = "/nonexistent-dir/x.jsonl" }
    assert.is_nil(res)
    assert.are.same({ "cloud.record", "config" }, { err.code, err.kind })
    assert.are.equal(0, fc:stats().calls.total)
    local ok, e = pcall(client.stop_ecs, client, { ids = { "a" }, record = 42 })
    assert.is_false(ok)
    assert.are.same({ "argument", "record" }, { errors.kind(e), e.field })
  end)
end)
