--- When to poll which job of one operation. A job is polled soon after its submission and
-- then less often, towards poll_interval; all the operation's jobs share one budget of
-- polls, as many as a fixed poller at poll_interval would make, so a 100-job stop does
-- not poll 100 jobs every few seconds; only the close polls of one job at a time come on
-- top. Pure: the caller passes the time.
--
-- The jobs of one operation take about as long as each other, so one of them, the oldest
-- still open (the lead), is polled closely: between polls a tenth of its age (at least
-- FIRST s, at most poll_interval), so its end is seen within max(FIRST, a tenth) of its
-- duration. Once a job has been seen ended at some age, every job is next polled when it
-- reaches that age: most have ended by then, and one poll each confirms it. Until then, a
-- job that is not the lead is polled only every IDLE poll intervals, in case the lead is
-- the slow one. A job polled at that age and found still running is polled closely from
-- then on, as the lead is, and the age at which it ends becomes the age to poll at.
--
-- An entry has a kind: "job" (a job polled), or "lookup" (the servers of a stop call whose
-- answer was lost, looked up until the cloud shows it took the call). Each kind has its own
-- lead and its own age of ending (a lost call's servers are seen done some time after a
-- job would be: the cloud took the call late); the budget is one for all.
-- @module cloud.op.poll_plan
local M = {}
local Plan = {}
Plan.__index = Plan

M.FIRST = 0.5 -- seconds: the first poll, and the least time between two polls of a job
local SHARE = 0.1 -- of a job's age: the time between two close polls
local IDLE = 2 -- poll intervals between polls of a job that is not the lead

--- A plan for jobs polled every `poll_interval` seconds at the most, none after `deadline`
-- (core.now() seconds), starting at `now`.
function M.new(poll_interval, deadline, now)
  return setmetatable({
    interval = poll_interval,
    gap = math.min(M.FIRST, poll_interval),
    deadline = deadline,
    kinds = {},       -- kind -> { open = open entries oldest first (open[head .. added]), head, added, ended_age }
    -- The open jobs neither being polled nor past their last look: the only ones :due() and
    -- :next_time() look at (a paced stop queues a thousand jobs' polls behind its stop
    -- calls; looking at every job for every answer would cost more than the polls).
    idle = {},
    n = 0,            -- open jobs
    added = 0,        -- jobs added
    tokens = 0,       -- polls the budget allows now
    refilled = now,
  }, Plan)
end

local function kind_of(self, kind)
  local k = self.kinds[kind]
  if not k then
    k = { open = {}, head = 1, added = 0, ended_age = nil } -- ended_age: the last ended one's age then
    self.kinds[kind] = k
  end
  return k
end

-- The budget refills at one poll per open job per poll_interval; what is not spent is kept
-- (up to one poll per job added), so the close polls of the first job, paid for by those
-- added after it, do not leave the last one waiting a whole poll_interval.
local function refill(self, now)
  local cap = math.max(1, self.added)
  if self.interval > 0 then
    self.tokens = math.min(cap, self.tokens + (now - self.refilled) * self.n / self.interval)
  else
    self.tokens = cap -- poll_interval = 0: no budget but the jobs themselves
  end
  self.refilled = now
end

--- Adds an entry of `kind` ("job", the default, or "lookup") at `now` (a job: accepted then;
-- a lookup: its call's answer lost then); `state` is the caller's (returned by :due()). The
-- budget grows by one poll, so the first poll of every entry is paid for.
function Plan:add(state, now, kind)
  refill(self, now)
  kind = kind or "job"
  local k = kind_of(self, kind)
  local j = { state = state, kind = kind, submitted = now, last = nil, not_before = nil, polling = false }
  self.n, self.added, k.added = self.n + 1, self.added + 1, k.added + 1
  -- By the count, not #open: once the lead's slots are cleared, # may be any border of
  -- the array (LuaJIT gives 0 when most of it is cleared).
  k.open[k.added] = j
  self.idle[j] = true
  self.tokens = self.tokens + 1
  return j
end

-- The oldest open entry of kind k; the ended ones before it leave the plan (a
-- million-server stop has a thousand jobs, and their states hold their batches).
local function lead(k)
  local open = k.open
  while open[k.head] and open[k.head].ended do
    open[k.head] = nil
    k.head = k.head + 1
  end
  return open[k.head]
end

-- Each kind's lead, by kind.
local function leads(self)
  local out = {}
  for kind, k in pairs(self.kinds) do out[kind] = lead(k) end
  return out
end

-- The next close poll of job j: soon after its submission, then a tenth of its age apart.
local function close_poll(self, j)
  if not j.last then return j.submitted + self.gap end
  local step = math.min(self.interval, math.max(self.gap, SHARE * j.last))
  return j.submitted + j.last + step
end

-- When job j is due, by the rules above (never after the deadline: a last look then), and
-- how many polls the budget must hold for it to go: none for a close poll of the lead (one
-- job at a time, at most one every FIRST seconds), one for any other.
local function due_at(self, j, is_lead)
  local est, need = self.kinds[j.kind].ended_age, 1
  local at
  if est and not (j.last and j.last >= est) then
    at = j.submitted + est -- when jobs like it have ended
  elseif is_lead or est then
    at = close_poll(self, j) -- the lead, or a job still running past that age
    if is_lead then need = 0 end
  else
    at = j.submitted + (j.last or 0) + IDLE * self.interval
  end
  if j.not_before and j.not_before > at then at = j.not_before end
  return math.min(at, math.max(self.deadline, j.submitted)), need
end

--- The soonest an entry of `kind` (default "job") added at `now` can be due (never after
-- the deadline).
function Plan:earliest_new(now, kind)
  local est = kind_of(self, kind or "job").ended_age
  return math.min(now + math.min(self.gap, est or self.gap), math.max(self.deadline, now))
end

--- The jobs to poll now, the earliest due first, as many as the budget allows; each is
-- marked as being polled until :polled() or :failed() is called for it.
function Plan:due(now)
  refill(self, now)
  local first = leads(self)
  local list = {}
  for j in pairs(self.idle) do
    local at, need = due_at(self, j, j == first[j.kind])
    if at <= now then list[#list + 1] = { j = j, at = at, need = need } end
  end
  -- The earliest first; of two due at once, the older job.
  table.sort(list, function(a, b)
    if a.at ~= b.at then return a.at < b.at end
    return a.j.submitted < b.j.submitted
  end)
  local out = {}
  local last_look = now >= self.deadline -- at the deadline each open job gets one, budget or not
  for _, d in ipairs(list) do
    if self.tokens >= d.need or last_look then
      self.tokens = self.tokens - d.need
      d.j.polling = true
      self.idle[d.j] = nil
      out[#out + 1] = d.j
    end
  end
  return out
end

--- When the next poll may be due (nil when no job is open and idle): never after the
-- deadline, when each open job gets a last look whatever the budget.
function Plan:next_time(now)
  refill(self, now)
  local first, soonest = leads(self), nil
  for j in pairs(self.idle) do
    local at, need = due_at(self, j, j == first[j.kind])
    if self.tokens < need and self.n > 0 and self.interval > 0 then
      -- The budget refills at n / interval polls a second; the deadline's look is free.
      at = math.min(self.deadline, math.max(at, now + (need - self.tokens) * self.interval / self.n))
    end
    if not soonest or at < soonest then soonest = at end
  end
  return soonest
end

--- Job j was polled: the poll went at `sent` (its age then is what the answer tells) and
-- its job had `ended` or not.
function Plan:polled(j, ended, sent)
  j.polling = false
  local age = sent - j.submitted
  if ended then
    j.ended, j.state = true, nil -- the caller's state is let go: no more polls
    self.n = self.n - 1
    -- The age jobs end at: first from the lead's close polls; later only a job seen running
    -- at that age and then ended says it is more (one found ended there says nothing new,
    -- and one polled late, for the budget, says nothing of its end).
    local k = self.kinds[j.kind]
    if not k.ended_age or (j.last and j.last >= k.ended_age) then k.ended_age = age end
  else
    j.last = age
    j.last_look = sent >= self.deadline -- none after the deadline's
    if not j.last_look then self.idle[j] = true end
  end
end

--- The poll of job j failed: not again before `at`.
function Plan:failed(j, at)
  j.polling = false
  j.not_before = at
  if not j.ended then self.idle[j] = true end
end

--- Job j needs no more polls (the operation settled its servers otherwise).
function Plan:drop(j)
  if j.ended then return end
  j.polling, j.ended, j.state = false, true, nil
  self.idle[j] = nil
  self.n = self.n - 1
end

return M
