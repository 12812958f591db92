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

-- A 401 whose answer's clock is this far from ours is a clock problem, not a bad key.
local SKEW_LIMIT = 600
-- Calls signed ahead wait in the transport for at most one timeout (every call in flight
-- ends by then); with longer timeouts their date could near the gateway's 15 minutes.
local AHEAD_MAX_TIMEOUT = 300

function M.new(client)
  return setmetatable({
    client = client,
    transport = client._transport,
    policy = client._retry,
    concurrency = client._concurrency,
    -- As many calls again wait signed in the transport, which starts one the moment
    -- another ends, not after Lua has read that answer and made the next body.
    ahead = client._timeout <= AHEAD_MAX_TIMEOUT and client._concurrency or 0,
    inflight = {}, -- calls handed to the transport (under way, or signed ahead), by id
    ninflight = 0,
    waiting = {}, -- FIFO of calls not yet sent: waiting[whead .. wtail]
    whead = 1,
    wtail = 0,
    timers = {},
  }, Scheduler)
end

local function log(self, line)
  self.client:_log(line)
end

--- Queues a call: `{service=, method=, path=, query=, body= | body_fn=, idempotent=, label=,
-- decode=, raw_body=}` (`decode(body)` reads a 2xx answer; with `raw_body` it may get a
-- cloud.core.body instead of a string)
-- (`body_fn()` makes the body when the call is first sent).
-- `on_done(result)` gets `{ok=, status=, data=, err=, request_id=, ambiguous=, attempts=}`.
function Scheduler:request(call, on_done)
  call.attempts = 0
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
  call.attempts = call.attempts + 1
  if call.body_fn then
    call.body, call.body_fn = call.body_fn(), nil -- kept for retries
  end
  local req = self.client:_signed(call)
  -- Ids come from the client, not this loop: answers to an earlier, abandoned operation on
  -- the same engine can then never be taken for this one's.
  local id = self.client:_next_request_id()
  self.inflight[id] = call
  self.ninflight = self.ninflight + 1
  -- A call that must not run twice gets its own connection (libcurl would silently
  -- re-send it if a reused connection died before the answer).
  -- raw_body: a 2xx answer's body may stay in C memory (core.http), for call.decode only.
  self.transport:add(id, call.method, req.url, req.headers, call.body, not call.idempotent, call.raw_body)
end

local function interpret(call, resp)
  local r = { status = resp.status ~= 0 and resp.status or nil, request_id = resp.request_id,
              date = resp.date, attempts = call.attempts }
  if resp.error then
    r.err = answer.transport_error(resp)
    -- A request never written out is safe to send again; one that may have arrived is
    -- safe only when repeating it changes nothing.
    local maybe_arrived = resp.sent
    -- A refused certificate or an oversized answer will be the same next time.
    local lasting = resp.error == "too_large" or resp.error == "tls"
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

function Scheduler:_finish(resp)
  local call = self.inflight[resp.id]
  if not call then return end
  self.inflight[resp.id] = nil
  self.ninflight = self.ninflight - 1
  local r = interpret(call, resp)
  r.retry_after = retry.parse_retry_after(resp.retry_after, self.client:_now())

  local skew = r.status == 401 and self.client:_skew_from(resp.date)
  if skew and math.abs(skew) > SKEW_LIMIT and not call.skew_fixed then
    call.skew_fixed = true
    self.client:_adjust_clock(skew)
    log(self, ("clock: the cloud's clock is %+d s from ours; signing again with its time (%s)")
      :format(math.floor(skew + 0.5), call.label or call.path))
    self:_enqueue(call)
  elseif r.status == 401 and not call.rekeyed and self.client:_renew_keys(call) then
    -- Temporary keys that expired on the way: signed again, once, with fresh ones.
    call.rekeyed = true
    log(self, ("keys: signing again with fresh temporary keys (%s)"):format(call.label or call.path))
    self:_enqueue(call)
  elseif r.retry and call.attempts < self.policy.attempts then
    local delay = retry.delay(self.policy, call.attempts, r.retry_after)
    log(self, ("retry %d/%d in %.2fs: %s %s: %s"):format(call.attempts, self.policy.attempts - 1,
      delay, call.method, call.label or call.path, tostring(r.err)))
    self:after(delay, function()
      self:_enqueue(call)
      self:_pump()
    end)
  else
    r.ok = r.ok or false
    -- Done with: a body in C memory (core.stop_body) is freed now, not at the next GC.
    if type(call.body) == "userdata" then call.body:close() end
    if not r.ok then
      log(self, ("failed after %d attempt(s): %s %s: %s"):format(call.attempts, call.method,
        call.label or call.path, tostring(r.err)))
    end
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
