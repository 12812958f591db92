--- One event loop per operation: signs each request when it goes out, keeps at most
-- `concurrency` in flight, retries what is worth retrying after a backoff, and runs
-- timers (job polling) between answers. Nothing here blocks but transport:run.
--
-- An operation may have a deadline. Every wait (a timer, a backoff, a Retry-After) ends
-- by it. At the deadline, what waits to be sent is finished unsent; then comes a last
-- round: the timers due then run, the operation's deadline hook (`at_deadline`) runs, and
-- of the calls they make, as many go out as the engine starts at once. After that nothing
-- is sent: the calls in flight end within their timeout, every other call is finished
-- unsent, and the loop returns at most one request timeout after the deadline.
-- @module cloud.scheduler
local core = require "cloud.core"
local answer = require "cloud.answer"
local errors = require "cloud.errors"
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
--   deadline: the core.now() time after which nothing is sent, or nil for none.
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
    deadline = c.deadline,
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
    timers = {},
  }, Scheduler)
end

--- Queues a call: `{service=, method=, path=, query=, body= | body_fn=, idempotent=, label=,
-- decode=, raw_body=}` (`decode(body)` reads a 2xx answer; with `raw_body` it may get a
-- cloud.core.body instead of a string)
-- (`body_fn()` makes the body when the call is first sent).
-- `on_done(result)` gets `{ok=, status=, data=, err=, request_id=, ambiguous=, attempts=}`
-- (`unsent = true`, and an `err` with `unsent = true`: the deadline came before it was sent).
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

--- Runs fn after `delay` seconds of the loop's time, or at the deadline if that comes first.
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
end

-- Hands waiting calls to the transport, up to `limit` (default: in flight and ahead).
function Scheduler:_pump(limit)
  if self.closed and not self.last_round then return end
  -- The last round sends what the engine starts at once, nothing signed ahead.
  limit = self.last_round and self.concurrency or limit or self.concurrency + self.ahead
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
-- `retry_after`: the server's Retry-After header as it came, shown whatever was made of it.
local function step_line(policy, step, call, r, value, retry_after)
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

-- Hands a finished call its result: the body in C memory (core.stop_body) is freed now,
-- not at the next GC.
local function complete(call, r)
  r.ok = r.ok or false
  if type(call.body) == "userdata" then call.body:close() end
  call.on_done(r)
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

-- The answer of a call the deadline kept from being sent (again).
local function unsent(call)
  if call.last then return call.last end
  local err = errors.new("cloud.wait_timeout", "not sent: the operation's wait_timeout ended first")
  err.unsent = true
  return { ok = false, attempts = call.tries.attempts, unsent = true, err = err }
end

-- At the deadline: the calls queued in the transport come back, and every call not sent
-- is finished unsent; their callbacks may queue calls for the last round.
function Scheduler:_close()
  self.closed, self.last_round = true, true
  local _, dropped = self.transport:drop_queued()
  for _, id in ipairs(dropped or {}) do
    local call = self.inflight[id]
    if call then
      self.inflight[id] = nil
      self.ninflight = self.ninflight - 1
      call.tries.attempts = call.tries.attempts - 1 -- signed, never sent
      self:_enqueue(call)
    end
  end
  self:_expire(self.wtail)
end

-- Finishes the calls not sent, up to queue position `last` (default: all, and those
-- their callbacks queue meanwhile).
function Scheduler:_expire(last)
  while self.whead <= (last or self.wtail) do
    local call = self.waiting[self.whead]
    self.waiting[self.whead] = nil
    self.whead = self.whead + 1
    -- A call's on_done may count on what its body_fn sets up (stop_op makes its batch there).
    if call.body_fn then call.body, call.body_fn = call.body_fn(), nil end
    complete(call, unsent(call))
  end
  if self.whead > self.wtail then self.waiting, self.whead, self.wtail = {}, 1, 0 end
end

local function loop(self)
  while true do
    local now = core.now()
    local closing = not self.closed and self.deadline ~= nil and now >= self.deadline
    if closing then self:_close() end
    while self.timers[1] and self.timers[1].at <= now do
      table.remove(self.timers, 1).fn()
    end
    if closing and self.on_deadline then self.on_deadline() end
    self:_pump(self.concurrency)
    self.last_round = false
    if self.closed then self:_expire() end
    if self.ninflight == 0 and not self.timers[1] and self.whead > self.wtail then break end
    local wait = 1
    if self.timers[1] then wait = math.min(wait, math.max(0, self.timers[1].at - core.now())) end
    if self.deadline and not self.closed then wait = math.min(wait, math.max(0, self.deadline - core.now())) end
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
