--- One event loop per operation: signs each request when it goes out, keeps at most
-- `concurrency` in flight, retries what is worth retrying after a backoff, and runs
-- timers (job polling) between answers. What an answer means is cloud.classify's; how
-- fast calls go is the operation's pace (cloud.net.pace): calls that name servers (stops)
-- wait in a queue of their own for it, and flow control sends them again at the pace
-- it sets, never counted as a failed attempt. Nothing here blocks but transport:run.
--
-- An operation may have a deadline. Every wait (a timer, a backoff, a Retry-After) ends
-- by it. At the deadline, what waits to be sent is finished unsent; then comes a last
-- round: the timers due then run, the operation's deadline hook (`at_deadline`) runs, and
-- of the calls they make, as many go out as the engine starts at once. After that nothing
-- is sent: the calls in flight end within their timeout, every other call is finished
-- unsent, and the loop returns at most one request timeout after the deadline. A stop call
-- the pace has no room for before the deadline is finished unsent at once.
--
-- A process may begin shutting down (`stopping`, inside nginx ngx.worker.exiting()): from
-- then on no stop call is sent, each ends unsent with cloud.shutdown, and with the
-- operation's at_shutdown the deadline comes `grace` seconds later, as above.
-- @module cloud.net.scheduler
local core = require "cloud.core"
local answer = require "cloud.net.answer"
local classify = require "cloud.classify"
local errors = require "cloud.errors"
local pace = require "cloud.net.pace"
local retry = require "cloud.net.retry"

local caught_signal = core.caught_signal

local M = {}
local Scheduler = {}
Scheduler.__index = Scheduler

-- Calls signed ahead wait in the transport for at most one timeout (every call in flight
-- ends by then); with longer timeouts their date could near the gateway's 15 minutes.
local AHEAD_MAX_TIMEOUT = 300
-- A stop call due this close to now goes now: waking the loop for less costs more than it
-- keeps to the pace.
local PACE_SLACK = 0.001

-- Request ids are unique over the process, not per loop: answers to an earlier, abandoned
-- operation on the same engine can then never be taken for this one's.
local last_id = 0

local function ignore() end

--- The path of a call with its ids left out, for metrics: "/v1/{project_id}/jobs/{job_id}".
-- Every ECS and BMS path starts with the project id; a job id ends a job's path.
function M.path_template(path)
  return (path:gsub("^/v1/[^/]+/", "/v1/{project_id}/"):gsub("/jobs/[^/]+$", "/jobs/{job_id}"))
end

--- Builds a scheduler from what it works with; it knows nothing of the client.
-- @tparam table c
--   transport: the HTTP engine (cloud.net.transport: add, run, drop_queued);
--   sign: function(call) -> {url=, headers=}, the call signed for now;
--   policy: {concurrency=, timeout=, attempts=, base=, cap=, later=} (the engine's
--   concurrency and timeout; the retry policy of cloud.net.retry);
--   clock: a cloud.net.clock (the cloud's time, for Retry-After dates and clock skew);
--   log: function(line), or nil;
--   renew: function(call) -> boolean, or nil: fresh temporary keys for a call refused with
--   401 (true when there are new ones to sign it with again, once);
--   on_request: function(info), or nil: called once per HTTP attempt with its answer (see
--   Scheduler:_observe); what it raises is logged and ignored.
--   trace: function(line), or nil: one line per HTTP attempt with its verdict (see
--   trace_line), for debugging;
--   deadline: the core.now() time after which nothing is sent, or nil for none;
--   servers_per_minute: the pace of stop calls, or nil to learn it (cloud.net.pace);
--   stopping: function() -> true once the process is shutting down, or nil.
function M.new(c)
  local policy = c.policy
  return setmetatable({
    pace = pace.new{ concurrency = policy.concurrency, servers_per_minute = c.servers_per_minute },
    transport = c.transport,
    sign = c.sign,
    policy = policy,
    clock = c.clock,
    log = c.log or ignore,
    on_request = c.on_request,
    trace = c.trace,
    renew = c.renew,
    deadline = c.deadline,
    stopping = c.stopping,
    shutdown = false, -- the process began shutting down: no stop call is sent
    listing = c.listing, -- the client's, for cloud.op.servers: enterprise project, id form
    closed = false, -- past the deadline: nothing more is sent ...
    last_round = false, -- ... but for the deadline's last round
    concurrency = policy.concurrency,
    -- As many calls again wait signed in the transport, which starts one the moment
    -- another ends, not after Lua has read that answer and made the next body.
    ahead = policy.timeout <= AHEAD_MAX_TIMEOUT and policy.concurrency or 0,
    inflight = {}, -- calls handed to the transport (under way, or signed ahead), by id
    ninflight = 0,
    waiting = {}, -- FIFO of calls not yet sent: waiting[whead .. wtail]
    whead = 1,
    wtail = 0,
    paced = {}, -- FIFO of calls naming servers, sent as the pace allows: paced[phead .. ptail]
    phead = 1,
    ptail = 0,
    nstops = 0, -- of those, handed to the transport
    timers = {},
  }, Scheduler)
end

--- Queues a call: `{service=, method=, path=, query=, body= | body_fn=, idempotent=, label=,
-- decode=, raw_body=, servers=, expects_job=}` (`decode(body)` reads a 2xx answer; with
-- `raw_body` it may get a cloud.core.body instead of a string; `body_fn()` makes the body
-- when the call is first sent, `body_fn(false)` when it never will be; returning nil, err
-- it refuses to be sent, and the call ends unsent with err). `servers`: how many servers the call names (a stop): it
-- goes at the operation's pace, and flow control sends it again until the deadline.
-- `expects_job`: a 2xx answer is acceptance only with a job_id (cloud.classify).
-- `on_done(result)` gets `{ok=, status=, data=, err=, request_id=, ambiguous=, attempts=,
-- class=, scope=}` (class and scope: cloud.classify's, when the cloud answered; `unsent =
-- true`, and an `err` with `unsent = true`: the deadline came before it was sent).
function Scheduler:request(call, on_done)
  call.tries = { attempts = 0, resigned = false, throttled = 0 } -- the call's whole retry state
  call.on_done = on_done
  self:_enqueue(call)
  self:_pump(false) -- those ahead are made once these are under way (run)
end

-- The queues keep explicit ends: after the head is taken, `#` of a table is not reliable.
function Scheduler:_enqueue(call)
  if call.servers then
    self.ptail = self.ptail + 1
    self.paced[self.ptail] = call
    return
  end
  self.wtail = self.wtail + 1
  self.waiting[self.wtail] = call
end

-- A stop call flow control turned back goes first again: it was the oldest.
function Scheduler:_requeue_first(call)
  if self.phead > 1 then
    self.phead = self.phead - 1
    self.paced[self.phead] = call
  else
    table.insert(self.paced, 1, call)
    self.ptail = self.ptail + 1
  end
end

--- False once the deadline's last round is over: a call queued from then on is finished
-- unsent.
function Scheduler:can_send()
  return not self.closed or self.last_round
end

--- Sets `fn` to run in the deadline's last round (after the timers due then), should the
-- operation still be running at its deadline.
function Scheduler:at_deadline(fn)
  self.on_deadline = fn
end

--- Sets `fn(deadline)` to run once should the process begin shutting down (`stopping`):
-- the deadline then comes `grace` seconds later, if it was not due sooner.
function Scheduler:at_shutdown(grace, fn)
  self.shutdown_grace, self.on_shutdown = grace, fn
end

--- Runs fn after `delay` seconds of the loop's time, or at the deadline if that comes first.
-- Returns the timer, for :cancel.
function Scheduler:after(delay, fn)
  local at = core.now() + delay
  if self.deadline and at > self.deadline then at = self.deadline end
  local t = { at = at, fn = fn }
  local timers = self.timers
  local i = #timers
  while i > 0 and timers[i].at > t.at do
    timers[i + 1] = timers[i]
    i = i - 1
  end
  timers[i + 1] = t
  return t
end

--- Takes a timer of :after back, if it has not run: a timer left waiting would keep the
-- loop (and the operation) running until it came due.
function Scheduler:cancel(t)
  local timers = self.timers
  for i = 1, #timers do
    if timers[i] == t then
      table.remove(timers, i)
      return
    end
  end
end

-- Takes the head of the paced queue off it.
function Scheduler:_pop_paced()
  local call = self.paced[self.phead]
  self.paced[self.phead] = nil
  self.phead = self.phead + 1
  return call
end

-- Whether the process began shutting down; the first time it is seen, the shutdown begins.
-- nginx changes ngx.worker.exiting() only between events, so one look per pump is a look
-- before each of its stop calls.
function Scheduler:_check_shutdown()
  if not self.shutdown and self.stopping and self.stopping() then self:_shutdown() end
  return self.shutdown
end

-- The calls queued in the transport (signed ahead, never sent) come back to the queue,
-- their attempt uncounted.
function Scheduler:_take_back_queued()
  local _, dropped = self.transport:drop_queued()
  for _, id in ipairs(dropped or {}) do
    local call = self.inflight[id]
    if call then
      self.inflight[id] = nil
      self.ninflight = self.ninflight - 1
      if call.servers then self.nstops = self.nstops - 1 end
      call.tries.attempts = call.tries.attempts - 1 -- signed, never sent
      self:_enqueue(call)
    end
  end
end

-- The shutdown: stop calls signed ahead come back from the transport and every stop call
-- not sent ends unsent; other calls (job polls, lookups) go on until the deadline, which
-- the operation's at_shutdown brings forward. Timers due later come due then.
function Scheduler:_shutdown()
  self.shutdown = true
  self.log("shutdown: the process is exiting; no stop call is sent from now on")
  self:_take_back_queued()
  self:_expire_paced()
  if not self.on_shutdown then return end
  local at = core.now() + self.shutdown_grace
  if self.deadline and self.deadline <= at then return self.on_shutdown(self.deadline) end
  self.deadline = at
  for _, t in ipairs(self.timers) do -- still in order: those moved are the last ones
    if t.at > at then t.at = at end
  end
  self.on_shutdown(at)
end

function Scheduler:_expire_paced()
  while self.phead <= self.ptail do self:_not_sent(self:_pop_paced()) end
  self.paced, self.phead, self.ptail = {}, 1, 0
end

-- Hands stop calls to the transport as the pace allows, up to `limit` calls in flight and
-- `stops` stop calls. A call the pace has no room for before the deadline ends unsent.
function Scheduler:_pump_paced(limit, stops, now)
  self.paced_at = nil
  if self.phead <= self.ptail and self:_check_shutdown() then return self:_expire_paced() end
  while self.ninflight < limit and self.phead <= self.ptail and self.nstops < stops do
    local at = self.pace:when(now, self.paced[self.phead].servers)
    if self.deadline and at > self.deadline then
      self:_not_sent(self:_pop_paced(), at)
    elseif at > now + PACE_SLACK then
      self.paced_at = at -- the loop wakes then
      break
    else
      local call = self:_pop_paced()
      self.nstops = self.nstops + 1
      self.pace:sent(call.servers, now)
      self:_send(call)
    end
  end
  if self.phead > self.ptail then
    self.paced, self.phead, self.ptail = {}, 1, 0
  end
end

-- Hands waiting calls to the transport: as many as the pace allows in flight, and with
-- `ahead` (the default) as many again signed ahead. Stop calls go at the pace.
-- Without `ahead`, self.held says whether calls ahead would have gone.
function Scheduler:_pump(ahead)
  -- Closed, nothing is held back: a stale `held` would have the loop poll the transport
  -- without waiting, and inside nginx never yield to the calls still in flight.
  if self.closed and not self.last_round then self.held = false return end
  local cap = self.pace:limit()
  local full = cap + (self.ahead > 0 and math.min(cap, self.ahead) or 0)
  -- The last round sends what the engine starts at once, nothing signed ahead.
  local limit = (ahead == false or self.last_round) and cap or full
  -- Stop calls in the transport: the pace's window; once it is fully open, as many again
  -- signed ahead as for other calls (the transport starts them as soon as a call ends).
  local stops = self.pace:stop_window()
  local stops_full = stops >= self.concurrency and stops + (full - cap) or stops
  if stops >= self.concurrency then stops = stops + (limit - cap) end
  -- Polls and lookups first: the operation's plan keeps them few, and behind a thousand
  -- stop calls they would learn of the first jobs' ends only once every stop was sent.
  while self.ninflight < limit and self.whead <= self.wtail do
    local call = self.waiting[self.whead]
    self.waiting[self.whead] = nil
    self.whead = self.whead + 1
    self:_send(call)
  end
  if self.whead > self.wtail then
    self.waiting, self.whead, self.wtail = {}, 1, 0
  end
  self:_pump_paced(limit, stops, core.now())
  self.held = self.ninflight < full and (self.whead <= self.wtail
    or (self.phead <= self.ptail and not self.paced_at and self.nstops < stops_full))
end

function Scheduler:_send(call)
  if call.body_fn then
    local body, err = call.body_fn(true)
    call.body_fn = nil
    if body == nil then return self:_refused_to_send(call, err) end
    call.body = body -- kept for retries
  end
  call.tries.attempts = call.tries.attempts + 1
  local req = self.sign(call)
  call.sent_at = core.now()
  last_id = last_id + 1
  local id = last_id
  self.inflight[id] = call
  self.ninflight = self.ninflight + 1
  -- A call that must not run twice gets its own connection (libcurl would silently
  -- re-send it if a reused connection died before the answer).
  -- raw_body: a 2xx answer's body may stay in C memory (core.http), for call.decode only.
  self.transport:add(id, call.method, req.url, req.headers, call.body, not call.idempotent, call.raw_body)
end

-- What the cloud's answer means (cloud.classify): r.class and r.scope, and whether another
-- attempt may succeed; r.min_delay, the least wait before it that the code asks for
-- (Ecs.0603's minute, or the policy's `later` in its place).
local function classified(r, policy, status, code, has_job_id)
  local v = classify.answer{ status = status, code = code, has_job_id = has_job_id }
  r.class, r.scope = v.class, v.scope
  r.retry = retry.again(v)
  local least = retry.least_wait(policy, v)
  if least > 0 then r.min_delay = least end
  return v
end

local function has_job_id(data)
  return type(data.job_id) == "string" and data.job_id ~= ""
end

local function interpret(call, resp, policy)
  local r = { status = resp.status ~= 0 and resp.status or nil, request_id = resp.request_id,
              date = resp.date, attempts = call.tries.attempts }
  if resp.error then
    r.err = answer.transport_error(resp)
    -- A request never written out is safe to send again; one that may have arrived is
    -- safe only when repeating it changes nothing.
    local maybe_arrived = resp.sent
    -- A refused certificate, an oversized answer or a host name that does not resolve
    -- will be the same next time.
    local lasting = resp.error == "too_large" or resp.error == "tls" or resp.error == "dns"
    r.retry = not lasting and (not maybe_arrived or call.idempotent)
    r.ambiguous = maybe_arrived and not call.idempotent
    return r
  end
  if resp.status >= 200 and resp.status < 300 then
    -- A call may bring its own reader (job answers: the C scanner, not a full decode).
    local body = resp.body
    local data, why = (call.decode or answer.decode)(body)
    if type(body) == "userdata" then body:close() end -- read: free it now, not at the next GC
    if not data then
      r.err = answer.error(resp.status, nil, resp.request_id, nil)
      r.err.code, r.err.message = "cloud.bad_response", why or "the answer is not a JSON object"
      r.retry = call.idempotent
      r.ambiguous = not call.idempotent
      return r
    end
    -- A 2xx answer may still be a refusal: flow control is 202 Common.0024 without a job_id.
    -- (An answer read by the call's own reader is that reader's to judge; of other calls
    -- than a stop, only an error object is a refusal: a job's error_code is the job's.)
    local code = not call.decode and answer.code(data, not call.expects_job) or nil
    local has_job -- nil: the call expects no job_id
    if call.expects_job then has_job = has_job_id(data) end
    if code == nil and has_job ~= false then
      -- The common answer, as cloud.classify has it (2xx, no code: ok), without a verdict
      -- table for each of a million-server stop's answers.
      r.ok, r.data, r.retry, r.class, r.scope = true, data, false, "ok", "call"
      return r
    end
    local v = classified(r, policy, resp.status, code, has_job)
    if v.class == "ok" or v.class == "ambiguous" then
      r.ok, r.data, r.retry = true, data, false
    else
      r.err = answer.error(resp.status, data, resp.request_id)
      r.request_id = r.err.request_id
    end
    return r
  end
  local data = answer.decode(resp.body)
  r.err = answer.error(resp.status, data, resp.request_id, resp.body)
  r.request_id = r.err.request_id
  classified(r, policy, resp.status, answer.code(data), nil)
  return r
end

-- The log line for a call's next step, or nil: every line the scheduler writes is made here.
-- `retry_after`: the server's Retry-After header as it came, shown whatever was made of it.
local function step_line(policy, step, call, r, value, retry_after, wait)
  local what = call.label or call.path
  if step == "resign" then
    return ("clock: the cloud's clock is %+d s from ours; signing again with its time (%s)")
      :format(math.floor(value + 0.5), what)
  elseif step == "rekey" then
    return ("keys: signing again with fresh temporary keys (%s)"):format(what)
  elseif step == "retry" then
    local asked = retry_after and (" (the cloud's Retry-After: %s)"):format(tostring(retry_after):sub(1, 64)) or ""
    return ("retry %d/%d in %.2fs%s: %s %s: %s"):format(call.tries.attempts, policy.attempts - 1,
      value, asked, call.method, what, tostring(r.err))
  elseif step == "throttled" then -- value: the pace
    local spm = value:servers_per_minute()
    return ("throttled: %s %s: %s; sent again in %.2fs at the earliest, at the pace: %s servers a minute,"
      .. " %d call(s) in flight"):format(call.method, what, tostring(r.err), wait,
      spm and ("%.0f"):format(spm) or "unpaced", value:limit())
  elseif not r.ok then
    return ("failed after %d attempt(s): %s %s: %s"):format(call.tries.attempts, call.method, what, tostring(r.err))
  end
end

-- The debug line of one HTTP attempt: what was called (a path template: no project, job
-- or server id, no query), its answer (status, the cloud's code and request id), which
-- attempt, how long it took, and what comes of it. Never a header: no key, token or
-- signature can be in it.
local function trace_line(call, r, attempt, took, verdict)
  local code = r.err and r.err.code and (" " .. tostring(r.err.code)) or ""
  return ("http %s %s %s -> %s%s request_id=%s attempt=%d %.3fs: %s"):format(call.service, call.method,
    M.path_template(call.path), r.status and tostring(r.status) or "no answer", code,
    tostring(r.request_id or "-"), attempt, took, verdict)
end

-- What comes of an answer, for its trace line (`step`: cloud.net.retry's next step).
local function verdict_of(step, r, delay)
  if step == "retry" then return ("retry in %.2fs"):format(delay) end
  if step == "resign" then return "resign (the cloud's clock differs)" end
  if step == "rekey" then return "rekey (fresh temporary keys)" end
  if r.ok then return "ok" end
  return r.retry and "failed (no attempts left)" or "failed"
end

-- Tells the caller's on_request about one HTTP attempt: what was called (ids left out of
-- the path, so metrics do not grow with the fleet), how it ended and how long it took
-- from being handed to the transport.
function Scheduler:_observe(call, r)
  local ok, e = pcall(self.on_request, {
    service = call.service, method = call.method, path = M.path_template(call.path),
    status = r.status, code = r.err and r.err.code or nil, ok = r.ok == true,
    -- The HTTP attempt of this call: flow control's resends count here, not against the retries.
    duration = core.now() - call.sent_at, attempt = call.tries.attempts + call.tries.throttled,
    request_id = r.request_id,
  })
  if not ok then self.log("on_request raised: " .. tostring(e)) end
end

-- Hands a finished call its result: the body in C memory (core.stop_body) is freed now,
-- not at the next GC.
local function complete(call, r)
  r.ok = r.ok or false
  if type(call.body) == "userdata" then call.body:close() end
  call.on_done(r)
end

-- A stop call not sent because the process is shutting down: never accepted (its last
-- attempt, if any, was refused or not sent), so safe to send again later.
local function not_sent_shutdown(call)
  local why = "not sent: the process began shutting down (nginx: ngx.worker.exiting())"
  local last = call.last and call.last.err
  if last then why = why .. "; its last attempt: " .. tostring(last) end
  local err = errors.new("cloud.shutdown", why)
  err.unsent = true
  if call.body_fn then call.body, call.body_fn = call.body_fn(false), nil end
  complete(call, { ok = false, attempts = call.tries.attempts, unsent = true, err = err })
end

-- A stop call the pace has no room for before the deadline, or still refused by flow
-- control when it came: finished unsent, with the refusal it last got, if any (never
-- accepted: its servers were not stopped). `at`: when the pace would have sent it.
function Scheduler:_not_sent(call, at)
  if self.shutdown and call.servers then return not_sent_shutdown(call) end
  local spm = self.pace:servers_per_minute()
  local why = self.shutdown and self.on_shutdown
    and "not sent: the process is shutting down and the shutdown's grace ended first"
    or at and ("not sent: at the pace flow control set (%s servers a minute) its turn came"
    .. " after the operation's wait_timeout"):format(spm and ("%.0f"):format(spm) or "unpaced")
    or call.last and "not sent again: the operation's wait_timeout ended first"
    or "not sent: the operation's wait_timeout ended first"
  local r = call.last
  if r and r.err and (r.class == "throttled" or at) then
    -- The answer it last got, and that it was not sent again.
    r.err = errors.new(r.err.code, r.err.message .. "; " .. why, r.err.status, r.err.request_id)
  elseif not r then
    local err = errors.new("cloud.wait_timeout", why)
    err.unsent = true
    r = { ok = false, attempts = call.tries.attempts, unsent = true, err = err }
  end
  if at then self.log(("%s %s: %s"):format(call.method, call.label or call.path, why)) end
  -- A call's on_done may count on what its body_fn sets up (stop_op makes its batch there);
  -- false: it is not being sent.
  if call.body_fn then call.body, call.body_fn = call.body_fn(false), nil end
  complete(call, r)
end

-- A call whose body_fn refused it (its write-ahead record line could not be written):
-- finished unsent with that error, never handed to the transport.
function Scheduler:_refused_to_send(call, err)
  if call.servers then self.nstops = self.nstops - 1 end
  self.log(("%s %s: not sent: %s"):format(call.method, call.label or call.path, tostring(err)))
  complete(call, { ok = false, attempts = call.tries.attempts, unsent = true, err = err })
end

-- Flow control on a stop call: the call waits its turn again at the head of its queue,
-- not counted as an attempt, and the pace (already cut) sends it. Returns false and that
-- turn when it would come after the deadline.
function Scheduler:_throttled(call, r, now)
  call.tries.throttled = call.tries.throttled + 1
  -- Retry-After is honoured up to the retry cap, as for any other call (cloud.retry.delay).
  if r.retry_after then self.pace:not_before(now + math.min(r.retry_after, self.policy.cap)) end
  local at = self.pace:when(now, call.servers)
  if self.closed or self.shutdown or (self.deadline and at > self.deadline) then return false, at end
  call.tries.attempts = call.tries.attempts - 1
  self.log(step_line(self.policy, "throttled", call, r, self.pace, nil, at - now))
  r.ok = false
  call.last = r
  self:_requeue_first(call)
  return true, at
end

-- What the pace learns from an answer.
function Scheduler:_learn(call, r, now)
  if r.class == "throttled" then
    self.pace:throttled(call.servers or 0, call.sent_at or now, now)
  elseif call.servers and r.ok and r.class == "ok" then
    self.pace:accepted(call.servers, now, call.sent_at)
  else
    self.pace:answered(call.servers)
  end
end

function Scheduler:_finish(resp)
  local call = self.inflight[resp.id]
  if not call then return end
  self.inflight[resp.id] = nil
  self.ninflight = self.ninflight - 1
  if call.servers then self.nstops = self.nstops - 1 end
  local r = interpret(call, resp, self.policy)
  if self.on_request then self:_observe(call, r) end
  local attempt, took = call.tries.attempts + call.tries.throttled, core.now() - call.sent_at
  r.retry_after = retry.parse_retry_after(resp.retry_after, self.clock:now())
  local now = core.now()
  self:_learn(call, r, now)
  if call.servers and r.class == "throttled" then
    local again, at = self:_throttled(call, r, now)
    if self.trace then
      self.trace(trace_line(call, r, attempt, took, again and ("throttled: sent again in %.2fs at the pace")
        :format(math.max(0, at - now)) or "throttled: not sent again (the operation's wait_timeout)"))
    end
    if not again then
      call.last = r
      self:_not_sent(call, at)
    end
    return self:_pump()
  end
  local skew = r.status == 401 and self.clock:skew(resp.date) or nil
  local step, delay = retry.next_step(self.policy, call.tries, r, skew)
  if step ~= "done" and self.closed then step = "done" end -- nothing more is sent
  if step == "retry" and self.deadline then
    delay = math.max(0, math.min(delay, self.deadline - core.now()))
  end
  -- Temporary keys that expired on the way: signed again, once, with fresh ones (renew
  -- says whether there are any; fixed keys have none).
  if step == "done" and not self.closed and r.status == 401 and not call.tries.rekeyed and self.renew
    and self.renew(call) then
    step = "rekey"
  end

  if self.trace then self.trace(trace_line(call, r, attempt, took, verdict_of(step, r, delay))) end
  local line = step_line(self.policy, step, call, r, step == "resign" and skew or delay, resp.retry_after)
  if line then self.log(line) end
  if step ~= "done" then
    r.ok = false
    call.last = r -- its result, should the deadline come before it is sent again
  end
  if step == "resign" then
    call.tries.resigned = true
    self.clock:adjust(skew)
    self:_enqueue(call) -- signed again when sent
  elseif step == "rekey" then
    call.tries.rekeyed = true
    self:_enqueue(call) -- signed again, with the fresh keys, when sent
  elseif step == "retry" then
    self:after(delay, function()
      self:_enqueue(call)
      self:_pump()
    end)
  else
    complete(call, r)
  end
  self:_pump()
end

-- At the deadline: the calls queued in the transport come back, and every call not sent
-- is finished unsent; their callbacks may queue calls for the last round.
function Scheduler:_close()
  self.closed, self.last_round = true, true
  self:_take_back_queued()
  self:_expire(self.wtail, self.ptail)
end

-- Finishes the calls not sent, up to queue positions `last` and `last_paced` (default:
-- all, and those their callbacks queue meanwhile).
function Scheduler:_expire(last, last_paced)
  while self.phead <= (last_paced or self.ptail) do self:_not_sent(self:_pop_paced()) end
  if self.phead > self.ptail then self.paced, self.phead, self.ptail = {}, 1, 0 end
  while self.whead <= (last or self.wtail) do
    local call = self.waiting[self.whead]
    self.waiting[self.whead] = nil
    self.whead = self.whead + 1
    self:_not_sent(call)
  end
  if self.whead > self.wtail then self.waiting, self.whead, self.wtail = {}, 1, 0 end
end

local function loop(self)
  while true do
    -- SIGTERM or SIGHUP, where the command line trapped them (core.trap_signals; nil
    -- otherwise), ends the operation as Ctrl-C does, before anything more is sent: calls
    -- are added here but only go out in transport:run. That waits at most a second: curl's
    -- poll returns early on the signal (EINTR, taken as a timeout), but the engine then
    -- waits out the rest of its timeout, so the signal is seen within that second.
    if caught_signal() then errors.interrupt() end
    self:_check_shutdown()
    local now = core.now()
    local closing = not self.closed and self.deadline ~= nil and now >= self.deadline
    if closing then self:_close() end
    while self.timers[1] and self.timers[1].at <= now do
      table.remove(self.timers, 1).fn()
    end
    if closing and self.on_deadline then self.on_deadline() end
    self:_pump(false)
    self.last_round = false
    if self.closed then self:_expire() end
    local paced = self.phead <= self.ptail
    if self.ninflight == 0 and not self.timers[1] and self.whead > self.wtail and not paced then break end
    local wait = 1
    if self.timers[1] then wait = math.min(wait, math.max(0, self.timers[1].at - core.now())) end
    if self.deadline and not self.closed then wait = math.min(wait, math.max(0, self.deadline - core.now())) end
    -- Stop calls waiting for the pace: wake when the next may go.
    if paced and self.paced_at then wait = math.min(wait, math.max(0, self.paced_at - core.now())) end
    -- Calls to sign ahead: the transport starts those it can first, so a burst's first
    -- calls leave before the rest are made.
    if self.held then wait = 0 end
    local done = self.transport:run(wait) -- nil when nothing finished
    for i = 1, done and #done or 0 do self:_finish(done[i]) end
    self:_pump()
  end
end

--- Runs until every queued call has finished and no timer is left. When anything raises
-- meanwhile, the calls the transport has not started are dropped before the error goes
-- on: an abandoned operation sends nothing more (its calls signed ahead would otherwise
-- leave during the next operation's run on the same client).
function Scheduler:run()
  local ok, err = pcall(loop, self)
  if not ok then
    self.transport:drop_queued()
    error(err, 0)
  end
end

return M
