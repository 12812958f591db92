--- How fast one operation may call the cloud: how many calls in flight, and for calls that
-- name servers (stops) how many of those calls in flight and when the next may go. Pure:
-- the caller passes the time, so the spec can drive it with a clock of its own.
--
-- The ECS reference gives a limit ("at most 1000 servers within one minute") but neither what
-- happens past it nor whether a region counts differently; so the pace learns the cloud's
-- window, as a count of servers and a length, and keeps a ledger of what the cloud accepted:
--   * Stop calls start one at a time and open up while they are accepted (slow start): the
--     calls in flight double each time all of them came back accepted. Any flow-control
--     answer (cloud.classify's `throttled`) halves the calls in flight, won back a step at a
--     time.
--   * The count: the first refusal of a stop call sets it to the servers the cloud accepted
--     before refusing (within the window's longest length: all of them, usually). A call
--     still in flight then that is accepted raises it. A refusal with nothing of ours in
--     the window (someone else's calls fill it, or the cloud's noise) teaches nothing: stop
--     calls wait HOLD seconds, doubled for each refusal in a row.
--   * The length lies between `lo` (a call was refused that long after the calls it had to
--     outlast) and `hi` (one was accepted); `hi` starts at the reference's minute. A call goes
--     once the servers accepted within `span` seconds before it leave room for it (a ledger
--     slid by span, so a sliding window is not hit early and a fixed one is outlasted too).
--     The first span is SPAN; each is the geometric middle of lo and hi, never past hi: a
--     refusal raises lo (and, hi unproven, probes the middle of what is left at once; hi
--     proven, goes at hi), an accepted call that needed the span lowers hi; within CLOSE of
--     each other, span stays at hi. Each probe costs one refusal at most, and a window is
--     found in a few, not reached late by a wait that doubles past it.
--   * A refusal at a span an accepted call proved says the count was too high (or noise):
--     the count is cut, but not below a quarter of what the cloud proved it takes, and
--     climbs back as calls are accepted (noise would wear it down to nothing otherwise).
--   * With `servers_per_minute` given, stop calls are also spaced to it from the first (no
--     slow start). Flow control cuts that rate (halved on a refusal right after another, not
--     below a quarter of it) and accepted calls win it back half the way at a time, never
--     above the given figure, while the window is learned as above.
-- @module cloud.net.pace
local M = {}
local Pace = {}
Pace.__index = Pace

M.SPAN = 1          -- the shortest window assumed (s): the first probe; none goes below it
M.REFERENCE = 60    -- the reference's window ("within one minute"): the longest assumed until refused at it
local HOLD = 0.1     -- seconds stop calls wait after a refusal the ledger cannot explain (doubled in a row)
local HOLD_MAX = 60  -- ... at most: the reference's minute
local STEP = 3       -- below an unproven top, each probe is at most this many times the last
local CLOSE = 1.2    -- lo and hi this close (a ratio): the window is found, span stays at hi
local EDGE = 0.01    -- seconds past a window's edge a call goes: the cloud's clock is not ours
local CUT = 0.85     -- a count or a given rate after a refusal, of what it was
local CUT_AGAIN = 0.5 -- ... after a refusal right after another
local FLOOR = 0.25   -- ... but not below this share of what the cloud proved it takes (or was given)
local GAIN = 0.5     -- per accepted call, the climb back covers this share of the way
local NEAR = 0.95    -- this close to where it climbs, it is there

--- A pace for an operation whose transport allows `concurrency` calls in flight.
-- @tparam table o concurrency (number >= 1); servers_per_minute (number > 0, or nil to learn it)
function M.new(o)
  local cap = o.servers_per_minute and o.servers_per_minute / 60 or nil
  return setmetatable({
    concurrency = o.concurrency,
    inflight = o.concurrency, -- calls of any kind in flight (a float; floored when read)
    -- Stop calls in flight: from one, doubling while accepted (slow start), unless the
    -- caller gave the pace.
    stops = cap and o.concurrency or 1,
    threshold = o.concurrency, -- the slow start ends here
    out = 0,                   -- stop calls sent and not yet answered
    out_n = 0,                 -- ... and the servers they name
    cap = cap,                 -- servers a second never to exceed (given), or nil
    rate = cap,                -- servers a second now (only with a given pace)
    tat = nil,                 -- when the next call may go at that rate (a virtual clock, GCRA)
    count = nil,               -- servers a window, nil until flow control told
    proved = nil,              -- the most servers the cloud took within a window (span)
    span = nil,                -- seconds the ledger is slid by
    lo = 0,                    -- the window is longer than this ...
    hi = M.REFERENCE,          -- ... and at most this
    hi_proven = false,         -- an accepted call showed hi (else it is the reference's)
    ledger = { first = 1, last = 0, at = {}, n = {} }, -- accepted stop calls: answer time, servers
    got = 0,                   -- servers accepted so far
    cut_at = -math.huge,       -- the time of the last cut
    accepted_since_cut = true,
    last_refused = false,      -- the last answer to a stop call was a refusal
    in_row = 0,                -- refusals since the last accepted stop call
    hold = nil,                -- stop calls wait until then (a hold, a Retry-After)
    throttles = 0,             -- flow-control answers seen
  }, Pace)
end

--- Calls of any kind that may be in flight now.
function Pace:limit()
  return math.max(1, math.floor(self.inflight))
end

--- Stop calls that may be in flight now (never more than :limit()). In the slow start a
-- round goes out whole and comes back whole: none is added while one is out.
function Pace:stop_window()
  local w = math.max(1, math.floor(self.stops))
  if w < self.threshold and self.out > 0 then w = math.min(w, self.out) end
  return math.min(self:limit(), w)
end

-- Servers of the ledger accepted after `since` (and up to `upto`, when given).
local function within(self, since, upto)
  local L, sum = self.ledger, 0
  for i = L.last, L.first, -1 do
    local at = L.at[i]
    if at <= since then break end
    if not upto or at <= upto then sum = sum + L.n[i] end
  end
  return sum
end

-- When a call naming n servers fits the window as learned: `now`, or when enough of the
-- ledger has slid out of it. An empty window takes any call. Calls in flight count as if
-- accepted now.
local function fits_at(self, n, now)
  if not self.count then return now end
  local L, edge = self.ledger, self.span + EDGE
  local i = L.first
  while i <= L.last and L.at[i] + edge <= now do i = i + 1 end
  local sum, at = self.out_n, now
  for k = i, L.last do sum = sum + L.n[k] end
  while sum > 0 and sum + n > self.count do
    if i > L.last then return math.max(at, now + edge) end -- only calls in flight: about a span
    sum, at, i = sum - L.n[i], L.at[i] + edge, i + 1
  end
  return at
end

--- When the next stop call, naming `n` servers (default: the last call's), may go: `now`
-- or later (what it names is charged when it goes, Pace:sent).
function Pace:when(now, n)
  n = n or self.last_n or 0
  return math.max(now, self.hold or now, self.rate and self.tat or now, fits_at(self, n, now))
end

--- No stop call before `t` (a Retry-After).
function Pace:not_before(t)
  if not self.hold or t > self.hold then self.hold = t end
end

--- A stop call naming `n` servers goes at `now`: charged to the pace.
function Pace:sent(n, now)
  self.out, self.out_n, self.last_n = self.out + 1, self.out_n + n, n
  if self.rate then self.tat = math.max(self.tat or now, now) + n / self.rate end
end

local function grow_inflight(self)
  self.inflight = math.min(self.concurrency, self.inflight + 1 / math.max(1, self.inflight))
end

local function settled(self, n)
  self.out, self.out_n = math.max(0, self.out - 1), math.max(0, self.out_n - n)
end

-- The span to go by next: never below SPAN; up from lo by at most STEP while no call
-- proved a top (else hi, the reference's minute); then the geometric middle of lo and hi,
-- or hi once they are close.
local function next_span(self)
  local lo = math.max(self.lo, M.SPAN)
  if self.hi <= CLOSE * lo then return self.hi end
  if self.lo < M.SPAN then return M.SPAN end
  if not self.hi_proven then return math.min(self.hi, lo * STEP) end
  return math.sqrt(lo * self.hi)
end

-- The ledger keeps what any window considered could still hold, and as long again: an
-- accepted call shows the window's top by the calls it outlasted.
local function prune(self, now)
  local L, horizon = self.ledger, now - 2 * math.max(self.hi, self.span or 0)
  while L.first <= L.last and L.at[L.first] <= horizon do
    L.at[L.first], L.n[L.first] = nil, nil
    L.first = L.first + 1
  end
end

-- How long before `sent_at` the newest accepted call was that had to leave the window for
-- a call of n servers to fit the count; nil when it fitted with all of them.
local function outlasted(self, n, sent_at)
  local L, sum = self.ledger, n
  for i = L.last, L.first, -1 do
    if L.at[i] <= sent_at then
      sum = sum + L.n[i]
      if sum > self.count then return sent_at - L.at[i] end
    end
  end
end

--- A stop call naming `n` servers, sent at `sent_at`, was accepted at `now`.
function Pace:accepted(n, now, sent_at)
  sent_at = sent_at or now
  self.got = self.got + n
  self.accepted_since_cut, self.in_row, self.last_refused = true, 0, false
  grow_inflight(self)
  settled(self, n)
  if self.stops < self.threshold then
    if self.out == 0 then self.stops = math.min(self.threshold, self.stops * 2) end -- a whole round accepted
  else
    self.stops = math.min(self.concurrency, self.stops + 1 / self.stops)
  end
  if self.cap then
    self.rate = math.min(self.cap, self.rate + GAIN * (self.cap - self.rate))
    if self.rate >= NEAR * self.cap then self.rate = self.cap end
  end
  if self.count then
    -- What the window held when it went, as learned: more than the count, and the cloud
    -- took it (a call in flight at the first refusal): the count was low.
    local held = within(self, sent_at - self.span, sent_at) + n
    if held > self.count then self.count = held end
    self.proved = math.max(self.proved, held)
    if self.count < self.proved then
      self.count = self.count + GAIN * (self.proved - self.count)
      if self.count >= NEAR * self.proved then self.count = self.proved end
    end
    -- It fitted only because older calls had left: the window is at most as long as the
    -- newest of them is old.
    local d = outlasted(self, n, sent_at)
    if d and (d < self.hi or not self.hi_proven) then
      self.hi, self.hi_proven = math.min(self.hi, d), true
      self.lo = math.min(self.lo, self.hi)
    end
    self.span = next_span(self)
  end
  local L = self.ledger
  L.last = L.last + 1
  L.at[L.last], L.n[L.last] = now, n
  prune(self, now)
end

--- Any other call ended without flow control; `n`: it was a stop call naming n servers
-- (refused for another reason, or its answer lost: it tells nothing of the window).
function Pace:answered(n)
  grow_inflight(self)
  if n then
    self.last_refused = false
    settled(self, n)
  end
end

-- What a refusal of a stop call sent at the pace teaches of the window.
local function learn(self, now, again)
  if not self.count then
    local held = within(self, now - self.hi)
    if held == 0 then return end -- nothing of ours in the window: it tells nothing
    self.count, self.proved, self.span = held, held, M.SPAN
  elseif self.span < self.hi then
    -- Refused at a probe: the window is longer than it; the next probe goes as soon as it
    -- allows.
    self.lo = math.max(self.lo, self.span)
    self.span = next_span(self)
  elseif not self.hi_proven then
    -- Refused at the reference's minute: this window is longer than documented.
    self.lo, self.hi = self.hi, 2 * self.hi
    self.span = self.hi
  else
    -- Refused at a proven span: the count was too high, or the cloud's noise.
    local floor = FLOOR * self.proved
    self.count = math.max(floor, (again and CUT_AGAIN or CUT) * self.count)
  end
  prune(self, now)
end

--- A flow-control answer at `now` to a call sent at `sent_at`, naming `n` servers (0 for
-- a call that names none: a poll or a list). A call sent before the last cut was sent at
-- the old pace: it changes nothing more. Returns true when the pace was cut.
function Pace:throttled(n, sent_at, now)
  self.throttles = self.throttles + 1
  local again = n > 0 and self.last_refused and not self.accepted_since_cut
  if n > 0 then
    self.in_row, self.last_refused = self.in_row + 1, true
    settled(self, n)
  end
  if sent_at < self.cut_at then return false end
  self.cut_at, self.accepted_since_cut = now, false
  self.inflight = math.max(1, self.inflight / 2)
  self.stops = math.max(1, math.floor(self.stops / 2))
  self.threshold = self.stops
  if n == 0 then return true end
  if self.cap then
    self.rate = math.max(FLOOR * self.cap, (again and CUT_AGAIN or CUT) * self.rate)
    self.tat = math.max(self.tat or now, now + n / self.rate)
  end
  learn(self, now, again)
  -- Nothing the ledger knows makes it wait: what fills the window is not ours, or noise.
  if fits_at(self, n, now) <= now then
    self:not_before(now + math.min(HOLD_MAX, HOLD * 2 ^ (self.in_row - 1)))
  end
  return true
end

--- The pace now, in servers a minute (nil while not paced), for logs and results.
function Pace:servers_per_minute()
  local spm = self.rate and self.rate * 60
  if self.count then
    local w = self.count / self.span * 60
    spm = spm and math.min(spm, w) or w
  end
  return spm
end

--- What was learned of the cloud's window: the count (servers), the span (s) gone by, and
-- the bounds of the window's length; nil before flow control told.
function Pace:window()
  if not self.count then return nil end
  return { count = self.count, span = self.span, lo = self.lo, hi = self.hi }
end

return M
