-- cloud.nginx.job in a real nginx: a stop that runs once across workers, reloads, a binary
-- upgrade (USR2: a new master with empty shared memory beside the old one) and workers
-- killed with SIGKILL at each phase of the stop, resumed from its record without sending
-- any server a second stop, every server it stopped reported in its result file.
local env = require "support.cloudenv"
local appnginx = require "support.appnginx"
local proc = require "fakecloud.proc"
local socket = require "socket"
local cjson = require "cjson"

local N = 12
local NGINX = "/usr/sbin/nginx" -- absolute: a binary upgrade executes it again

local function mktemp()
  local p = assert(io.popen("mktemp -d /tmp/nginx_job.XXXXXX"))
  local dir = p:read("*l")
  p:close()
  proc.exec("chmod 777 " .. proc.quote(dir)) -- the workers of a root master may run as another user
  return dir
end

local function wait_for(what, seconds, fn)
  local t0 = socket.gettime()
  while socket.gettime() - t0 < seconds do
    local v = fn()
    if v then return v end
    socket.sleep(0.02)
  end
  error("timed out waiting for " .. what)
end

local function result(dir)
  local text = proc.read(dir .. "/boot.result")
  return text and cjson.decode(text)
end

local function record(dir, n)
  return proc.read(("%s/boot.%d.record"):format(dir, n)) or ""
end

-- The worker holding the job, from the note in its lock file.
local function holder(dir)
  local pid = (proc.read(dir .. "/boot.lock") or ""):match("pid (%d+)")
  return pid and tonumber(pid)
end

local function sorted(list)
  local copy = {}
  for i, v in ipairs(list) do copy[i] = v end
  table.sort(copy)
  return copy
end

-- The job's result names each of the N servers stopped once, and the emulator saw one stop each.
local function assert_once(fc, res, attempts)
  assert.are.same(sorted(env.ids("ecs", 1, N)), sorted(res.stopped))
  assert.are.equal(0, #res.failed)
  assert.is_true(res.ok)
  assert.are.equal(attempts, res.attempts)
  local stats = fc:stats()
  assert.are.equal(0, stats.stop_requests.sent_more_than_once)
  assert.are.equal(N, stats.stop_requests.total)
  assert.are.equal(N, stats.servers.ecs.SHUTOFF)
end

describe("cloud.nginx.job", function()
  local fc, app, dir

  -- `prepare(dir)`, when given, runs before nginx starts (an earlier attempt's record, say).
  local function start(emulator, workers, prepare, resend_grace)
    dir = mktemp()
    fc = env.start(emulator)
    if prepare then prepare(dir) end
    app = assert(appnginx.start{ emulator = fc, workers = workers or 2, nginx = NGINX,
      job = { service = "ecs", filter = { name = "^job%-" }, dir = dir, every = 0.1, resend_grace = resend_grace } })
  end

  local function fleet(extra)
    local cfg = { job_duration = 0.05, fleet = { ecs = { { count = N, name = "job-%02d", status = "ACTIVE" } } } }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return cfg
  end

  after_each(function()
    if app then app:stop() end
    if fc then fc:stop() end
    if dir then proc.exec("rm -rf " .. proc.quote(dir)) end
    app, fc, dir = nil, nil, nil
  end)

  it("runs once across two workers, and a reload does not run it again", function()
    start(fleet())
    local res = wait_for("the job's result", 30, function() return result(dir) end)
    assert_once(fc, res, 1)
    assert.are.same({ dir .. "/boot.1.record" }, res.records)
    app:reload()
    socket.sleep(0.5) -- the new workers' timers have asked several times by now
    assert.are.equal(N, fc:stats().stop_requests.total)
    assert.are.same(res, result(dir))
    -- The marks gone from the dictionary (evicted, or a new master's): the result file says done.
    app:json("/jobflush")
    socket.sleep(0.5)
    assert.are.equal(N, fc:stats().stop_requests.total)
    local state = app:json("/jobstate")
    assert.is_nil(state.job_raised)
    assert.is_nil(state.job_nil)
    assert.are.equal(1, state.job_ran)
    assert.truthy(state.job_done > 0)
  end)

  it("is not run again by the new master's workers of a binary upgrade (USR2)", function()
    start(fleet{ job_duration = 5 })
    -- The job is waiting for the cloud's job when the upgrade starts.
    wait_for("the stop's batch line", 30, function() return record(dir, 1):find('"type":"batch"', 1, true) end)
    local old = assert(proc.read(app.prefix .. "/nginx.pid")):match("%d+")
    proc.exec("kill -USR2 " .. old)
    local new = wait_for("the new master", 10, function()
      local pid = (proc.read(app.prefix .. "/nginx.pid") or ""):match("%d+")
      return pid ~= old and proc.read(app.prefix .. "/nginx.pid.oldbin") and pid
    end)
    socket.sleep(0.5) -- both masters' workers ask, the old job still running (5 s)
    -- The old master goes as an upgrade ends; its worker finishes (or leaves) the job.
    proc.exec("kill -QUIT " .. old)
    local res = wait_for("the job's result", 30, function() return result(dir) end)
    socket.sleep(0.5)
    assert_once(fc, res, res.attempts)
    assert.are.equal(N, fc:stats().stop_requests.total)
    assert.truthy(proc.alive(tonumber(new)))
    -- Only the new master's workers answer now: they were told "running", then "done",
    -- and ran it only when the old worker left it unfinished (a second attempt).
    local state = app:json("/jobstate")
    assert.truthy(state.job_running > 0)
    assert.truthy(state.job_done > 0)
    if res.attempts == 1 then assert.is_nil(state.job_ran) end
  end)

  -- Kills the job's worker with SIGKILL when `ready(record)` says the phase is reached; the
  -- master starts another worker, and one of the workers resumes the job.
  local function killed_when(ready)
    local pid = wait_for("the phase", 30, function()
      local p = holder(dir)
      return p and ready(record(dir, 1)) and p
    end)
    assert(pid ~= nil)
    proc.exec("kill -9 " .. pid)
    local res = wait_for("the resumed job's result", 60, function() return result(dir) end)
    assert.is_nil(app:json("/jobstate").job_raised)
    return res
  end

  it("resumes a job whose worker was killed while listing, and stops every server once", function()
    start(fleet{ faults = { latency = 3, apply_to = { list = true, action = false, job = false } } })
    local t0
    local res = killed_when(function(text)
      if text == "" then return false end
      t0 = t0 or socket.gettime()
      -- The header is written, the listing (3 s long) under way, nothing sent.
      return socket.gettime() - t0 > 0.3 and not text:find('"intent"', 1, true)
    end)
    assert.are.equal(0, #record(dir, 1):gsub("[^\n]", "") - 1) -- the header line alone
    assert_once(fc, res, 2)
  end)

  it("resumes a job whose worker was killed after its stop call left, without sending it again", function()
    start(fleet{ faults = { latency = 3, apply_to = { list = false, action = true, job = false } } })
    -- Killed once the emulator has the call (its answer is 3 s away).
    local res = killed_when(function(text)
      return text:find('"type":"intent"', 1, true) and fc:stats().stop_requests.total == N
    end)
    assert.is_nil(record(dir, 1):find('"type":"batch"', 1, true)) -- no answer came to it
    assert_once(fc, res, 2)
    assert.truthy(record(dir, 2):find('"type":"header"', 1, true))
  end)

  it("resumes a job whose worker was killed while waiting for the cloud's job", function()
    start(fleet{ job_duration = 2 })
    local res = killed_when(function(text) return text:find('"type":"batch"', 1, true) end)
    assert.is_nil(record(dir, 1):find('"type":"outcome"', 1, true))
    assert_once(fc, res, 2)
  end)

  it("resumes, in a new nginx, a job whose nginx was killed whole while it waited", function()
    start(fleet{ job_duration = 2 })
    wait_for("the stop's batch line", 30, function() return record(dir, 1):find('"type":"batch"', 1, true) end)
    local master = assert(proc.read(app.prefix .. "/nginx.pid")):match("%d+")
    local p = assert(io.popen("ps -o pid= --ppid " .. master))
    local pids = { master }
    for pid in p:read("*a"):gmatch("%d+") do pids[#pids + 1] = pid end
    p:close()
    proc.exec("kill -9 " .. table.concat(pids, " "))
    app:stop()
    app = assert(appnginx.start{ emulator = fc, workers = 2, nginx = NGINX,
      job = { service = "ecs", filter = { name = "^job%-" }, dir = dir, every = 0.1 } })
    local res = wait_for("the resumed job's result", 60, function() return result(dir) end)
    assert_once(fc, res, 2)
  end)

  it("resumes the servers an earlier attempt never reached, and those it never sent, once each", function()
    -- An earlier attempt's record, as a worker killed between an intent line and its call
    -- leaving would leave it (servers 1-3: named, never reached), and one cut short before
    -- it sent servers 4-5 (their outcome: failed, never sent). Both must be stopped now.
    local ids = env.ids("ecs", 1, N)
    start(fleet(), 2, function(d)
      local function line(t) return cjson.encode(t) .. "\n" end
      local p = fc.project_id
      local text = line{ type = "header", project_id = p, format = "cloud-record/2", tool = "cloud",
                         action = "stop", selection = "filter", service = "ecs" }
        .. line{ type = "intent", project_id = p, call = 1, ids = { ids[1], ids[2], ids[3] }, count = 3,
                 before = { "ACTIVE", "ACTIVE", "ACTIVE" } }
      for i = 4, 5 do
        text = text .. line{ type = "outcome", project_id = p, id = ids[i], outcome = "failed", changed = false,
                             code = "cloud.shutdown" }
      end
      proc.write(d .. "/boot.1.record", text)
    end, 1)
    local res = wait_for("the resumed job's result", 60, function() return result(dir) end)
    assert_once(fc, res, 2)
  end)

  it("refuses a dictionary that holds other keys, and bad options, naming the field", function()
    start(fleet{ fleet = { ecs = { { count = 1, name = "other", status = "ACTIVE" } } } })
    local r = app:json("/jobcheck?case=shared")
    assert.matches("cloud.nginx.job: option 'dict' names lua_shared_dict app, which holds other keys too", r.raised,
      1, true)
    assert.matches("option 'key' must be 1 to 128 letters", app:json("/jobcheck?case=key").raised, 1, true)
    assert.matches("option 'dir' is required", app:json("/jobcheck?case=dir").raised, 1, true)
    assert.matches("option 'stop.record' is the job's own", app:json("/jobcheck?case=record").raised, 1, true)
    assert.matches("option 'ttl' must be a positive number", app:json("/jobcheck?case=ttl").raised, 1, true)
    r = app:json("/jobcheck?case=nodir")
    assert.matches("cannot take the job's lock: .*/nowhere/x.lock: No such file or directory", r.error)
  end)
end)

describe("cloud.nginx.once", function()
  it("does not evict others' entries to store its mark, and says why it could not", function()
    local fc = env.start{ job_duration = 0.02 }
    local app = assert(appnginx.start{ emulator = fc })
    local ok, r = pcall(app.json, app, "/oncefull")
    app:stop()
    fc:stop()
    assert(ok, r)
    assert.are.equal(r.before, r.after) -- every entry that filled the dictionary is still there
    assert.is_nil(r.won)
    assert.matches("cannot record", r.err, 1, true)
  end)
end)
