-- The ledger (cloud.op.ledger): the only owner of a stop's outcomes and of its C set. Batches
-- are handles holding their ids and number together; job answers are applied through it.
local ledger = require "cloud.op.ledger"
local errors = require "cloud.errors"

-- A job answer as the cloud writes it: subs = { {server_id, status, error_code, fail_reason} ... }
local function answer(status, subs, top)
  local parts = {}
  for i, s in ipairs(subs) do
    local function q(v) return v and ('"' .. v .. '"') or "null" end
    parts[i] = ('{"status":%s,"error_code":%s,"fail_reason":%s,"entities":{"server_id":%s}}')
      :format(q(s[2]), q(s[3]), q(s[4]), q(s[1]))
  end
  return ('{"status":"%s"%s,"entities":{"sub_jobs":[%s]}}'):format(status, top or "", table.concat(parts, ","))
end

local function closed(l)
  return tostring(l.set):find("closed", 1, true) ~= nil
end

describe("the ledger", function()
  it("records the servers an ended job stopped and hands back the rest, judged", function()
    local l = ledger.new({ "a", "b", "c", "d", "e" })
    local b = l:batch(1, 5)
    assert.are.same({ "a", "b", "c", "d", "e" }, b.ids)
    local v = l:apply_job(answer("FAIL", { { "a", "SUCCESS" }, { "b", "FAIL", "Ecs.0100", "off" },
      { "c", "FAIL" }, { "d", "RUNNING" } }, ',"error_code":"Ecs.9","fail_reason":"job failed"'), b)
    assert.are.same({ "FAIL", true }, { v.status, v.ended })
    assert.are.same({ { id = "b", code = "Ecs.0100", message = "off" },
                      { id = "c", code = "Ecs.9", message = "job failed" } }, v.failed)
    assert.are.same({ "e", "d" }, v.unknown) -- no sub-job at all, then one that did not end
    assert.is_false(l:pending("a"))
    for _, id in ipairs({ "b", "c", "d", "e" }) do assert.is_true(l:pending(id)) end
    -- Nothing but the stop is recorded: failures are the stop's to decide on.
    assert.are.same({ 1, 0, 0 }, { l:settled() })
  end)

  it("writes one outcome per server to its record, whichever of a job and a lookup settles it first", function()
    local lines = {}
    local recorder = {
      intent = function(_, ids) lines[#lines + 1] = { "intent", #ids } return 1 end,
      batch = function(_, job_id) lines[#lines + 1] = { "batch", job_id } end,
      done = function(_, ids, how) for _, id in ipairs(ids) do lines[#lines + 1] = { id, how } end end,
      failed = function(_, f) lines[#lines + 1] = { f.id, "failed" } end,
      skipped = function(_, list) for _, x in ipairs(list) do lines[#lines + 1] = { x.id, "skipped" } end end,
    }
    local l = ledger.new({ "a", "b", "c" })
    l:record_to(recorder)
    local b = l:batch(1, 3)
    assert.is_true(l:sending(b))
    l:job(b, "job-1", "req-1")
    l:stopped("b") -- a lookup's answer came first for b
    l:apply_job(answer("SUCCESS", { { "a", "SUCCESS" }, { "b", "SUCCESS" }, { "c", "SUCCESS" } }), b)
    l:stopped("a") -- and then one for a, after the job's
    l:failed("c", { code = "X", message = "late" }) -- c is settled already
    l:already("a", "SHUTOFF")
    assert.are.same({ { "intent", 3 }, { "batch", "job-1" }, { "b", "lookup" }, { "a", "job" }, { "c", "job" } },
      lines)
    l:close()
  end)

  it("applies nothing while the job runs, and says an answer is no job answer", function()
    local l = ledger.new({ "a" })
    local b = l:batch(1, 1)
    local v = l:apply_job(answer("RUNNING", { { "a", "SUCCESS" } }), b)
    assert.are.same({ "RUNNING", false, {}, {} }, { v.status, v.ended, v.failed, v.unknown })
    assert.is_true(l:pending("a"))
    local none, why = l:apply_job("[1]", b)
    assert.is_nil(none)
    assert.is_string(why)
  end)

  it("reads a resend's answer against the ids sent again", function()
    local l = ledger.new({ "a", "b", "c" })
    local b = l:batch_of({ "c", "a" })
    assert.are.same({ "c", "a" }, b.ids)
    local v = l:apply_job(answer("SUCCESS", { { "a", "SUCCESS" }, { "b", "SUCCESS" } }), b)
    assert.are.same({ "c" }, v.unknown)
    assert.are.same({ "open", "stopped", "open" }, { l.set:state("b"), l.set:state("a"), l.set:state("c") })
  end)

  it("refuses a batch that is not its own", function()
    local l, other = ledger.new({ "a" }), ledger.new({ "a" })
    local theirs = other:batch(1, 1)
    assert.has_error(function() l:apply_job(answer("SUCCESS", {}), theirs) end,
      "cloud.op.ledger: not a batch of this ledger")
    assert.has_error(function() l:stopped_batch({ ids = { "a" }, number = 1 }) end,
      "cloud.op.ledger: not a batch of this ledger")
    assert.has_error(function() l:job(theirs, "job-1") end, "cloud.op.ledger: not a batch of this ledger")
  end)

  it("lists the jobs of its batches and stops a whole batch at once", function()
    local l = ledger.new({ "a", "b", "c" })
    local b = l:batch(2, 3)
    local job = l:job(b, "job-1")
    l:stopped_batch(b)
    local res = l:finish()
    assert.are.same({ { job_id = "job-1", ids = { "b", "c" }, status = job.status } }, res.jobs)
    assert.are.same({ "b", "c" }, res.stopped)
    assert.are.same({ "a" }, { res.failed[1].id })
  end)

  it("keeps a sub-job's errorcode_message beside its code and message", function()
    local l = ledger.new({ "a", "b" })
    local b = l:batch(1, 2)
    local body = '{"status":"FAIL","entities":{"sub_jobs":['
      .. '{"status":"FAIL","error_code":"Ecs.0114","fail_reason":"server a does not exist",'
      .. '"entities":{"server_id":"a","errorcode_message":"Ecs.0114: server a does not exist"}},'
      .. '{"status":"FAIL","error_code":"Ecs.0605","fail_reason":"locked","entities":{"server_id":"b"}}]}}'
    local v = l:apply_job(body, b)
    assert.are.same({ id = "a", code = "Ecs.0114", message = "server a does not exist",
                      errorcode_message = "Ecs.0114: server a does not exist" }, v.failed[1])
    assert.is_nil(v.failed[2].errorcode_message)
    l:failed("a", v.failed[1])
    l:failed("b", v.failed[2])
    local res = l:finish()
    assert.are.equal("Ecs.0114: server a does not exist", res.failed[1].errorcode_message)
    assert.are.equal("server a does not exist", res.failed[1].message)
    assert.is_nil(res.failed[2].errorcode_message)
  end)

  it("reports a server found already in the wanted state as skipped, neither stopped nor failed", function()
    local l = ledger.new({ "a", "b", "c" })
    l:stopped("a")
    l:already("b", "SHUTOFF")
    l:failed("b", { code = "X", message = "late" }) -- the first outcome stands
    l:already("c", "SHUTOFF")
    assert.are.same({ 3, 0, 2 }, { l:settled() }) -- two of the three found already off
    assert.has_error(function() l:already("a", "ACTIVE") end,
      "cloud.op.ledger: one operation wants one state, not ACTIVE")
    local res = l:finish({ skipped = { { id = "p", reason = "protected" } } })
    assert.is_true(res.ok)
    assert.are.same({ "a" }, res.stopped)
    assert.are.same({}, res.failed)
    assert.are.same({ { id = "p", reason = "protected" },
                      { id = "b", status = "SHUTOFF", reason = "already SHUTOFF" },
                      { id = "c", status = "SHUTOFF", reason = "already SHUTOFF" } }, res.skipped)
    assert.are.equal(3, res.requested)
  end)

  it("is the only one to close its set: on narrowing, and when it finishes", function()
    local ids = { "a", "b", "c" }
    local l = assert(ledger.checked(ids))
    assert.are.equal(ids, l:ids()) -- the caller's own array: no repeats
    assert.are.equal(l, l:narrow(l:ids()))
    local narrow = l:narrow({ "b" })
    assert.is_true(closed(l))
    assert.are.same({ "b" }, narrow:ids())
    narrow:stopped("b")
    local res = narrow:finish()
    assert.is_true(closed(narrow))
    assert.are.same({ true, 1, { "b" } }, { res.ok, res.requested, res.stopped })
    narrow:close() -- closing again is harmless
  end)

  it("checks a caller's ids, raising from C the argument error of the call they were given to", function()
    local ok, e = pcall(ledger.checked, { "a", "" }, "client:stop_ecs")
    assert.is_false(ok)
    assert.are.same({ "argument", "client:stop_ecs", "ids[2]" }, { errors.kind(e), e.where, e.field })
    ok, e = pcall(ledger.new, { "a", 7 })
    assert.is_false(ok)
    assert.are.same({ "argument", "cloud.op.ledger", "ids[2]", "is not a string" },
      { errors.kind(e), e.where, e.field, e.problem })
  end)
  it("names the result's array of servers done as the action asks", function()
    local l = ledger.new({ "a", "b" })
    l:stopped("a")
    local res = l:finish({}, "started")
    assert.are.same({ "a" }, res.started)
    assert.is_nil(res.stopped)
    assert.are.equal("b", res.failed[1].id)
  end)

  it("tells its recorder every accepted batch and every outcome, once each, as it happens", function()
    local seen = {}
    local rec = {
      batch = function(_, job_id, request_id, ids) seen[#seen + 1] = { "batch", job_id, request_id, #ids } end,
      done = function(_, ids, how, job_id) seen[#seen + 1] = { "done", table.concat(ids, ","), how, job_id } end,
      failed = function(_, f) seen[#seen + 1] = { "failed", f.id, f.code } end,
    }
    local l = ledger.new({ "a", "b", "c", "d", "e", "f" })
    l:record_to(rec)
    local b = l:batch(1, 4)
    l:job(b, "job-1", "req-1")
    -- A running job applies nothing; an ended one records its successes (applied in C) once.
    l:apply_job(answer("RUNNING", { { "a", "SUCCESS" } }), b)
    l:apply_job(answer("FAIL", { { "a", "SUCCESS" }, { "b", "SUCCESS" }, { "c", "FAIL", "Ecs.0100", "off" } }), b)
    l:apply_job(answer("FAIL", { { "a", "SUCCESS" }, { "b", "SUCCESS" } }), b) -- polled again: nothing new
    l:failed("c", { code = "Ecs.0100", message = "off" })
    l:failed("c", { code = "X", message = "second" }) -- the first outcome stands, recorded once
    l:stopped("d") -- a lookup's
    local b2 = l:batch(5, 6)
    l:job(b2, "job-2", "req-2")
    l:stopped("e")
    l:stopped_batch(b2) -- wait = false: e already has its outcome
    l:finish()
    assert.are.same({
      { "batch", "job-1", "req-1", 4 },
      { "done", "a,b", "job", "job-1" },
      { "failed", "c", "Ecs.0100" },
      { "done", "d", "lookup" },
      { "batch", "job-2", "req-2", 2 },
      { "done", "e", "lookup" },
      { "done", "f", "accepted", "job-2" },
    }, seen)
  end)
end)
