--- How fast one operation may call the cloud: how many calls in flight, and for calls that
-- name servers (stops) how many of those calls in flight and how many servers a second.
-- Flow control (a "throttled" answer, cloud.classify) cuts them; accepted calls win them
-- back a step at a time (AIMD, as TCP does with its window). Pure: the caller passes the
-- time, so the spec can drive it with a clock of its own.
--
-- The ECS reference gives a limit ("at most 1000 servers within one minute") but not what
-- happens past it, nor whether a region allows more; so the pace is learned:
--   * Stop calls start one at a time and open up while they are accepted (slow start): the
--     calls in flight double each time all of them came back accepted, so a cloud whose
--     budget two calls use up refuses one call, not a burst of them.
--   * A flow-control answer before two calls' worth of servers were accepted tells little
--     (a cloud's noise looks the same): stop calls wait HOLD seconds, doubled for each
--     refusal in a row (to HOLD_MAX). The first one after that sets the pace from what was
--     accepted so far, counted over at least SPAN seconds (the limit it found), and charges
--     those servers to it: nothing more goes until the pace has paid for them, so a window
--     that just filled is not hit again at once.
--   * Each later flow-control answer cuts the pace. Refused near the limit, that pace is
--     the new limit; refused well below it, the limit stands (an answer about something
--     else, or the cloud's noise: lowering the limit on each would let random refusals
--     wear the pace down to nothing). A refusal right after another (no stop call
--     answered between) halves the pace, but not below a quarter of a limit an accepted
--     call proved; before the first call the pace let through, it also says the limit
--     found was too high: the refused pace becomes the limit.
--   * While calls are accepted the pace climbs back, quickly at first, towards the limit;
--     after a few calls at it, it probes above it. A probe accepted for SPAN seconds (a
--     window's worth: one call getting through proves little) becomes the limit and the
--     next probe doubles it; a probe refused goes back below the limit, which stands.
-- @module cloud.net.pace
local M = {}
local Pace = {}
Pace.__index = Pace

-- The shortest time a cloud's budget is assumed to be counted over (seconds): the first
-- pace is what was accepted before the first refusal over at least this long.
M.SPAN = 1
local HOLD = 0.1        -- seconds stop calls wait after a refusal that sets no pace (doubled in a row)
local HOLD_MAX = 60     -- ... at most: the reference's "within one minute"
local CUT = 0.85        -- the pace after a refusal, of the pace refused (or of the limit)
local CUT_AGAIN = 0.5   -- after a refusal right after another
local FLOOR = 0.25      -- ... but not below this share of a proven limit
local NEAR = 0.95       -- a pace this close to the limit is at it
local GAIN = 0.5        -- per accepted call, the climb covers this share of the way to the limit
local PLATEAU = 6       -- accepted calls at the limit before probing above it
local PROBE = 1.05      -- the first probe, of the limit
local PROBE_GROW = 2    -- a probe that held: the next is this much faster

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
    cap = cap,                 -- servers a second never to exceed (given), or nil
    rate = cap,                -- servers a second now, or nil: not paced (yet)
    ceiling = cap,             -- the limit: the pace last refused near (or the given one)
    plateau = 0,               -- calls accepted at the limit since the last climb
    probe_since = nil,         -- when the pace went above the limit (probing)
    tat = nil,                 -- when the next paced call may go (a virtual clock, GCRA)
    first = nil,               -- when the first stop call went
    got = 0,                   -- servers accepted so far
    cut_at = -math.huge,       -- the time of the last cut
    accepted_since_cut = true,
    last_refused = false,      -- the last answer to a stop call was a refusal
    in_row = 0,                -- refusals since the last accepted stop call
    hold = nil,                -- stop calls wait until then (a hold, a Retry-After)
    proven = false,            -- a stop call was accepted at the pace
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

--- When the next stop call may go: `now` or later (what it names is charged when it goes,
-- Pace:sent).
function Pace:when(now)
  return math.max(now, self.hold or now, self.rate and self.tat or now)
end

--- No stop call before `t` (a Retry-After).
function Pace:not_before(t)
  if not self.hold or t > self.hold then self.hold = t end
end

--- A stop call naming `n` servers goes at `now`: charged to the pace.
function Pace:sent(n, now)
  self.first = self.first or now
  self.out = self.out + 1
  if self.rate then self.tat = math.max(self.tat or now, now) + n / self.rate end
end

local function grow_inflight(self)
  self.inflight = math.min(self.concurrency, self.inflight + 1 / math.max(1, self.inflight))
end

--- A stop call naming `n` servers was accepted at `now`.
function Pace:accepted(n, now)
  self.got = self.got + n
  self.accepted_since_cut, self.in_row, self.last_refused = true, 0, false
  grow_inflight(self)
  self.out = math.max(0, self.out - 1)
  if self.stops < self.threshold then
    if self.out == 0 then self.stops = math.min(self.threshold, self.stops * 2) end -- a whole round accepted
  else
    self.stops = math.min(self.concurrency, self.stops + 1 / self.stops)
  end
  if not self.rate then return end
  self.proven = true
  local limit = self.ceiling
  if self.probe_since then
    -- Probing above the limit: once the pace has held for a window, it is the limit.
    if now - self.probe_since >= M.SPAN then
      self.ceiling = self.rate
      self.rate = self.rate * PROBE_GROW
      self.probe_since = now
    end
  elseif self.rate < NEAR * limit then
    self.rate = self.rate + GAIN * (limit - self.rate)
    self.plateau = 0
  else
    self.plateau = self.plateau + 1
    if self.plateau >= PLATEAU and (not self.cap or self.cap > limit) then
      self.rate, self.probe_since = PROBE * limit, now
    end
  end
  if self.cap then self.rate = math.min(self.rate, self.cap) end
end

--- Any other call ended without flow control; `stop`: it was a stop call (refused for
-- another reason, or its answer lost: it tells nothing of the budget).
function Pace:answered(stop)
  grow_inflight(self)
  if stop then self.last_refused, self.out = false, math.max(0, self.out - 1) end
end

--- A flow-control answer at `now` to a call sent at `sent_at`, naming `n` servers (0 for
-- a call that names none: a poll or a list). A call sent before the last cut was sent at
-- the old pace: it changes nothing more. Returns true when the pace was cut.
function Pace:throttled(n, sent_at, now)
  self.throttles = self.throttles + 1
  local again = n > 0 and self.last_refused and not self.accepted_since_cut
  if n > 0 then self.in_row, self.last_refused, self.out = self.in_row + 1, true, math.max(0, self.out - 1) end
  if sent_at < self.cut_at then return false end
  self.cut_at, self.accepted_since_cut = now, false
  self.inflight = math.max(1, self.inflight / 2)
  self.stops = math.max(1, math.floor(self.stops / 2))
  self.threshold = self.stops
  if n == 0 then return true end
  self.plateau = 0
  if not self.rate and self.got < 2 * n then
    self:not_before(now + math.min(HOLD_MAX, HOLD * 2 ^ (self.in_row - 1)))
    return true
  elseif not self.rate then
    -- The first refusal: the limit is what got through, over at least SPAN seconds, and
    -- what got through is charged to the pace from the first call on.
    local first = self.first or now
    local got = math.max(self.got, n)
    self.ceiling = got / math.max(now - first, M.SPAN)
    self.rate = CUT * self.ceiling
    self.tat = first + self.got / self.rate
  elseif again then
    -- Refused again with nothing answered between: the cloud's window is still full, or
    -- its noise came twice. The pace halves, but not below a share of a limit an accepted
    -- call proved: runs of noise would wear it down to nothing, and a limit that really
    -- fell shows in the refusals after accepted calls, which cut without a floor.
    if not self.proven then self.ceiling = math.min(self.ceiling, self.rate) end
    local floor = FLOOR * self.ceiling
    self.rate = math.max(floor, CUT_AGAIN * self.rate)
  elseif self.probe_since then
    self.rate = CUT * self.ceiling -- a probe refused: back below the limit, which stands
  else
    if self.rate >= NEAR * self.ceiling then self.ceiling = self.rate end
    self.rate = CUT * self.rate
  end
  self.probe_since = nil
  if self.cap then self.rate = math.min(self.rate, self.cap) end
  self.tat = math.max(self.tat or now, now + n / self.rate)
  return true
end

--- The pace now, in servers a minute (nil while not paced), for logs and results.
function Pace:servers_per_minute()
  return self.rate and self.rate * 60 or nil
end

return M
