--- One at a time per key: inside nginx, when several requests of a worker need the same
-- lookup (fresh temporary keys, a project id), one makes it and the others wait for its
-- answer instead of making their own. Outside nginx a call runs to its end before
-- another starts, so there is nothing to share.
-- @module cloud.net.single_flight
local phase = require "cloud.nginx.phase"

local M = {}

local flights = {} -- key -> { sem, waiters, done, results }

--- Runs `fn()` unless a run for `key` is under way in another light thread; then waits
-- (at most `timeout` seconds) and returns that run's results. `fn` returns two values.
function M.run(key, timeout, fn)
  local f = flights[key]
  if f and phase.in_nginx() then
    f.waiters = f.waiters + 1
    f.sem:wait(timeout)
    if f.done then return f.a, f.b end
    return nil, "timed out waiting for another request's lookup"
  end
  if not phase.in_nginx() then return fn() end
  f = { sem = require("ngx.semaphore").new(0), waiters = 0 }
  flights[key] = f
  local ok, a, b = pcall(fn)
  flights[key] = nil
  f.done, f.a, f.b = true, a, b
  if not ok then f.a, f.b = nil, tostring(a) end
  if f.waiters > 0 then f.sem:post(f.waiters) end
  if not ok then error(a, 0) end
  return a, b
end

return M
