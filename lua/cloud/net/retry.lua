--- Which failures are worth another attempt, and how long to wait before it.
-- @module cloud.net.retry
local utc = require "cloud.base.utc"

local M = {}

-- The classes of cloud.classify worth another attempt: a server-side error, "try again
-- later", and flow control (not accepted).
local AGAIN = { retry = true, retry_later = true, throttled = true }

--- True when an answer classified as `v` (cloud.classify) may succeed if sent again.
function M.again(v)
  return AGAIN[v.class] == true
end

--- The least wait before sending again what verdict `v` (cloud.classify) refused: its
-- row's minimum delay (Ecs.0603's minute), or the policy's `later` in its place; 0 when the
-- row asks for none.
function M.least_wait(policy, v)
  if v.min_delay > 0 then return policy.later or v.min_delay end
  return 0
end

--- Seconds from a Retry-After header: delta-seconds, or an HTTP date.
function M.parse_retry_after(value, now_epoch)
  if not value then return nil end
  local n = tonumber(value)
  if n then return n >= 0 and n or nil end
  local t = utc.from_http_date(value)
  if t and now_epoch then return math.max(0, t - now_epoch) end
  return nil
end

--- The library's one backoff: `base` doubled for each attempt after the first (n is
-- 1-based), never above `cap`.
function M.backoff(n, base, cap)
  return math.min(cap, base * 2 ^ (n - 1))
end

--- Full-jitter exponential backoff for the n-th retry (1-based), never below Retry-After
-- up to `policy.cap`: the server's value is honoured but cannot put the caller to sleep
-- for longer than the library's own longest backoff (a Retry-After of 99999999 would).
function M.delay(policy, n, retry_after, random)
  random = random or math.random
  local d = random() * M.backoff(n, policy.base, policy.cap)
  if retry_after then
    local wanted = math.min(retry_after, policy.cap)
    if wanted > d then d = wanted end
  end
  return d
end

-- A 401 whose answer's clock is this far from ours is a clock problem, not a bad key.
local SKEW_LIMIT = 600

--- What becomes of a call after an answer, decided in this one place. `tries` is the
-- call's retry state ({attempts =, resigned =}); `r` the answer as the scheduler read it
-- (status, retry: worth another attempt, retry_after: seconds, min_delay: the least wait
-- the answer's code asks for); `skew`: how far the answer's clock is from ours, or nil.
-- Returns "resign" (our clock is off: sign again with the cloud's time, once per call),
-- "retry" and the delay, or "done".
function M.next_step(policy, tries, r, skew)
  if r.status == 401 and skew and math.abs(skew) > SKEW_LIMIT and not tries.resigned then
    return "resign"
  end
  if r.retry and tries.attempts < policy.attempts then
    -- The code's own least wait (Ecs.0603's minute) is the reference's, not the server's
    -- say: it is kept whole, where Retry-After is capped.
    return "retry", math.max(M.delay(policy, tries.attempts, r.retry_after), r.min_delay or 0)
  end
  return "done"
end

return M
