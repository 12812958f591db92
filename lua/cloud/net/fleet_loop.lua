--- Many operations on one HTTP engine, in one thread: each target's operation runs in a
-- coroutine, on its own scheduler (its own concurrency, retries and timers), through a
-- lane, a transport that hands its calls to the shared engine and yields where a single
-- operation would wait. One loop waits on the engine for all of them, hands each finished
-- call to its lane and resumes the operations that can go on. The engine's concurrency is
-- the overall cap; each scheduler's is its target's.
--
-- Where coroutines cannot yield across pcall (plain Lua 5.1), the operations run one
-- after another on the same lanes, each driving the engine itself.
-- @module cloud.net.fleet_loop
local core = require "cloud.core"
local errors = require "cloud.errors"

local caught_signal = core.caught_signal

local M = {}

local is_interrupt = errors.is_interruption

--- Whether a coroutine can yield from inside pcall here (Lua 5.2+, LuaJIT: yes).
function M.can_interleave()
  local co = coroutine.create(function() pcall(coroutine.yield) end)
  local ok = coroutine.resume(co)
  return ok and coroutine.status(co) == "suspended"
end

local Loop = {}
Loop.__index = Loop
local Lane = {}
Lane.__index = Lane

--- A loop over `engine` (a core.http, or anything with its add/run/pending/drop_queued).
function M.new(engine)
  return setmetatable({ engine = engine, owner = {}, waiting = {}, interleave = M.can_interleave() }, Loop)
end

--- A lane: the transport of one target's client (cloud.net.transport's interface).
function Loop:lane()
  return setmetatable({ loop = self, inbox = {}, mine = {}, n = 0 }, Lane)
end

function Lane:add(id, method, url, headers, body, fresh, raw)
  self.loop.engine:add(id, method, url, headers, body, fresh, raw)
  self.loop.owner[id] = self
  self.mine[id] = true
  self.n = self.n + 1
end

-- Hands the engine's finished calls to the lanes that added them.
function Loop:deliver(done)
  for i = 1, done and #done or 0 do
    local r = done[i]
    local lane = self.owner[r.id]
    if lane then
      self.owner[r.id] = nil
      lane.mine[r.id] = nil
      lane.n = lane.n - 1
      lane.inbox[#lane.inbox + 1] = r
    end
  end
end

local function take(lane)
  local got = lane.inbox
  if #got == 0 then return nil end
  lane.inbox = {}
  return got
end

--- As a transport's run: this lane's finished calls, waiting up to `wait` seconds for one.
-- Inside the loop it yields to it; outside (one operation at a time) it drives the engine.
function Lane:run(wait)
  local got = take(self)
  if got then return got end
  if self.loop.running and coroutine.running() then
    if coroutine.yield(self, wait) == "interrupt" then errors.interrupt() end
    return take(self)
  end
  local deadline = core.now() + (wait or 0)
  repeat
    self.loop:deliver(self.loop.engine:run(math.max(0, deadline - core.now())))
    got = take(self)
  until got or core.now() >= deadline
  return got
end

--- This lane's calls not yet answered (under way or queued), and 0.
function Lane:pending()
  return self.n, 0
end

--- Drops this lane's calls the engine has not started; the other lanes' stay. Returns
-- how many, and their ids (as an engine's drop_queued does).
function Lane:drop_queued()
  local n, dropped = self.loop.engine:drop_queued(self.mine)
  for _, id in ipairs(dropped) do
    self.loop.owner[id] = nil
    self.mine[id] = nil
    self.n = self.n - 1
  end
  return n, dropped
end

--- The engine is the loop's: a client closing its lane leaves it open; the lane drops
-- its calls not yet started, as a closed engine would send none.
function Lane:close()
  self:drop_queued()
end

-- One task: a coroutine, and where it waits (its lane, until when).
local function start(task)
  return { co = coroutine.create(function() return pcall(task) end) }
end

-- Resumes task t with `signal`; returns true when it finished (t.ok, t.res, t.err set).
local function resume(t, signal)
  local ok, a, b, c = coroutine.resume(t.co, signal)
  if not ok then -- cannot happen (the task runs under pcall) unless the loop itself broke
    t.done, t.ok, t.res = true, false, a
    return true
  end
  if coroutine.status(t.co) == "dead" then
    t.done, t.ok, t.res, t.err = true, a, b, c
    return true
  end
  t.lane, t.wake = a, core.now() + math.max(0, b or 0)
  return false
end

--- Runs `tasks` (functions, each one target's whole operation) to the end, interleaved
-- when the Lua allows, else one after another. Returns, per task, `{ ok =, res =, err = }`
-- (ok false: it raised, res is what). Ctrl-C while they run ("interrupted!") reaches
-- every task still running, each ending as an interrupted operation does, and is then
-- raised with the outcomes: `error({ interrupted = true, outcomes = ... })`.
function Loop:run(tasks)
  local all = {}
  for i, task in ipairs(tasks) do all[i] = start(task) end
  if not self.interleave then
    for i, t in ipairs(all) do
      resume(t)
      -- Interrupted: the tasks not yet begun end as interrupted before any call, as the
      -- interleaved ones do (after Ctrl-C they would otherwise run in full).
      if not t.ok and is_interrupt(t.res) then
        for j = i + 1, #all do all[j].done, all[j].ok, all[j].res = true, false, errors.INTERRUPTED end
        self.engine:drop_queued()
        error({ interrupted = true, outcomes = all }, 0)
      end
    end
    return all
  end
  self.running = true
  -- A task that ended interrupted (LuaJIT's hook may fire inside one) ends the others too.
  local function step(t, signal)
    if resume(t, signal) and not t.ok and is_interrupt(t.res) then errors.interrupt() end
  end
  local ok, e = pcall(function()
    for _, t in ipairs(all) do step(t) end
    while true do
      -- A signal the command line trapped (core.trap_signals) ends every task as Ctrl-C does.
      if caught_signal() then errors.interrupt() end
      local now, next_wake, live = core.now(), math.huge, false
      for _, t in ipairs(all) do
        if not t.done and (#t.lane.inbox > 0 or t.wake <= now) then
          step(t)
          now = core.now()
        end
        if not t.done then
          live = true -- still running once resumed: the loop waits for it
          local w = #t.lane.inbox > 0 and now or t.wake
          if w < next_wake then next_wake = w end
        end
      end
      if not live then break end
      self:deliver(self.engine:run(math.max(0, math.min(next_wake, now + 1) - core.now())))
    end
  end)
  self.running = false
  if ok then return all end
  if is_interrupt(e) then
    -- Each task still running ends as an interrupted operation: what it knows comes back.
    self.running = true
    for _, t in ipairs(all) do
      if not t.done then resume(t, "interrupt") end
    end
    self.running = false
    self.engine:drop_queued()
    error({ interrupted = true, outcomes = all }, 0)
  end
  self.engine:drop_queued()
  error(e, 0)
end

return M
