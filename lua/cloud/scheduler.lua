--- One event loop per operation: signs each request when it goes out, keeps at most
-- `concurrency` in flight, retries what is worth retrying after a backoff, and runs
-- timers (job polling) between answers. Nothing here blocks but transport:run.
-- @module cloud.scheduler
local core = require "cloud.core"
local answer = require "cloud.answer"
local retry = require "cloud.retry"

local M = {}
local Scheduler = {}
Scheduler.__index = Scheduler

-- Calls signed ahead wait in the transport for at most one timeout (every call in flight
-- ends by then); with longer timeouts their date could near the gateway's 15 minutes.
local AHEAD_MAX_TIMEOUT = 300

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
--   transport: the HTTP engine (cloud.transport: add, run, drop_queued);
--   sign: function(call) -> {url=, headers=}, the call signed for now;
--   policy: {concurrency=, timeout=, attempts=, base=, cap=} (the engine's concurrency and
--   timeout; the retry policy of cloud.retry);
--   clock: a cloud.clock (the cloud's time, for Retry-After dates and clock skew);
--   log: function(line), or nil;
--   renew: function(call) -> boolean, or nil: fresh temporary keys for a call refused with
--   401 (true when there are new ones to sign it with again, once);
--   on_request: function(info), or nil: called once per HTTP attempt with its answer (see
--   Scheduler:_observe); what it raises is logged and ignored.
function M.new(c)
  local policy = c.policy
  return setmetatable({
    transport = c.transport,
    sign = c.sign,
    policy = policy,
    clock = c.clock,
    log = c.log or ignore,
    on_request = c.on_request,
    renew = c.renew,
    concurrency = policy.concurrency,
    -- As many calls again wait signed in the transport, which starts one the moment
    -- another ends, not after Lua has read that answer and made the next body.
    ahead = policy.timeout <= AHEAD_MAX_TIMEOUT and policy.concurrency or 0,
    inflight = {}, -- calls handed to the transport (under way, or signed ahead), by id
    ninflight = 0,
    waiting = {}, -- FIFO of calls not yet sent: waiting[whead .. wtail]
    whead = 1,
    wtail = 0,
    timers = {},
  }, Scheduler)
end

--- Queues a call: `{service=, method=, path=, query=, body= | body_fn=, idempotent=, label=,
-- decode=, raw_body=}` (`decode(body)` reads a 2xx answer; with `raw_body` it may get a
-- cloud.core.body instead of a string)
-- (`body_fn()` makes the body when the call is first sent).
-- `on_done(result)` gets `{ok=, status=, data=, err=, request_id=, ambiguous=, attempts=}`.
function Scheduler:request(call, on_done)
  call.tries = { attempts = 0, resigned = false } -- the call's whole retry state
  call.on_done = on_done
  self:_enqueue(call)
  self:_pump(self.concurrency) -- those ahead are made once these are under way (run)
end

-- The queue keeps explicit ends: after the head is taken, `#` of the table is not reliable.
function Scheduler:_enqueue(call)
  self.wtail = self.wtail + 1
  self.waiting[self.wtail] = call
end

--- Runs fn after `delay` seconds of the loop's time.
function Scheduler:after(delay, fn)
  local t = { at = core.now() + delay, fn = fn }
  local timers = self.timers
  local i = #timers
  while i > 0 and timers[i].at > t.at do
    timers[i + 1] = timers[i]
    i = i - 1
  end
  timers[i + 1] = t
end

-- Hands waiting calls to the transport, up to `limit` (default: in flight and ahead).
function Scheduler:_pump(limit)
  limit = limit or self.concurrency + self.ahead
  while self.ninflight < limit and self.whead <= self.wtail do
    local call = self.waiting[self.whead]
    self.waiting[self.whead] = nil
    self.whead = self.whead + 1
    self:_send(call)
  end
  if self.whead > self.wtail then
    self.waiting, self.whead, self.wtail = {}, 1, 0
  end
end

function Scheduler:_send(call)
  call.tries.attempts = call.tries.attempts + 1
  if call.body_fn then
    call.body, call.body_fn = call.body_fn(), nil -- kept for retries
  end
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

local function interpret(call, resp)
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
    if data then
      r.ok, r.data = true, data
    else
      r.err = answer.error(resp.status, nil, resp.request_id, nil)
      r.err.code, r.err.message = "cloud.bad_response", why or "the answer is not a JSON object"
      r.retry = call.idempotent
      r.ambiguous = not call.idempotent
    end
    return r
  end
  r.err = answer.error(resp.status, answer.decode(resp.body), resp.request_id, resp.body)
  r.request_id = r.err.request_id
  r.retry = retry.retryable_answer(resp.status, r.err.code)
  return r
end

-- The log line for a call's next step, or nil: every line the scheduler writes is made here.
local function step_line(policy, step, call, r, value)
  local what = call.label or call.path
  if step == "resign" then
    return ("clock: the cloud's clock is %+d s from ours; signing again with its time (%s)")
      :format(math.floor(value + 0.5), what)
  elseif step == "rekey" then
    return ("keys: signing again with fresh temporary keys (%s)"):format(what)
  elseif step == "retry" then
    return ("retry %d/%d in %.2fs: %s %s: %s"):format(call.tries.attempts, policy.attempts - 1,
      value, call.method, what, tostring(r.err))
  elseif not r.ok then
    return ("failed after %d attempt(s): %s %s: %s"):format(call.tries.attempts, call.method, what, tostring(r.err))
  end
end

-- Tells the caller's on_request about one HTTP attempt: what was called (ids left out of
-- the path, so metrics do not grow with the fleet), how it ended and how long it took
-- from being handed to the transport.
function Scheduler:_observe(call, r)
  local ok, e = pcall(self.on_request, {
    service = call.service, method = call.method, path = M.path_template(call.path),
    status = r.status, code = r.err and r.err.code or nil, ok = r.ok == true,
    duration = core.now() - call.sent_at, attempt = call.tries.attempts, request_id = r.request_id,
  })
  if not ok then self.log("on_request raised: " .. tostring(e)) end
end

function Scheduler:_finish(resp)
  local call = self.inflight[resp.id]
  if not call then return end
  self.inflight[resp.id] = nil
  self.ninflight = self.ninflight - 1
  local r = interpret(call, resp)
  if self.on_request then self:_observe(call, r) end
  r.retry_after = retry.parse_retry_after(resp.retry_after, self.clock:now())
  local skew = r.status == 401 and self.clock:skew(resp.date) or nil
  local step, delay = retry.next_step(self.policy, call.tries, r, skew)
  -- Temporary keys that expired on the way: signed again, once, with fresh ones (renew
  -- says whether there are any; fixed keys have none).
  if step == "done" and r.status == 401 and not call.tries.rekeyed and self.renew and self.renew(call) then
    step = "rekey"
  end

  local line = step_line(self.policy, step, call, r, step == "resign" and skew or delay)
  if line then self.log(line) end
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
    r.ok = r.ok or false
    -- Done with: a body in C memory (core.stop_body) is freed now, not at the next GC.
    if type(call.body) == "userdata" then call.body:close() end
    call.on_done(r)
  end
  self:_pump()
end

local function loop(self)
  while true do
    local now = core.now()
    while self.timers[1] and self.timers[1].at <= now do
      table.remove(self.timers, 1).fn()
    end
    self:_pump(self.concurrency)
    if self.ninflight == 0 and not self.timers[1] then break end
    local wait = 1
    if self.timers[1] then wait = math.min(wait, math.max(0, self.timers[1].at - core.now())) end
    -- Calls to sign ahead: the transport starts those it can first, so a burst's first
    -- calls leave before the rest are made.
    if self.whead <= self.wtail and self.ninflight < self.concurrency + self.ahead then wait = 0 end
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
