-- Fault injection: a seeded generator makes every run draw the same sequence, so
-- rates hold reproducibly. Each request draws a fixed number of values. latency_mode:
-- "arrival" (answer `latency` s after the request arrived) or "after_work" (server.lua).
local config = require "fakecloud.config"

local M = {}
M.__index = M

local STATUS_CODES = { 429, 500, 502, 503, 504 }

function M.new(f)
  local v = config.val
  local self = setmetatable({}, M)
  self.x = (math.floor(tonumber(v(f.seed)) or 1) % 2147483646) + 1
  local apply = v(f.apply_to) or {}
  self.apply_to = {}
  for _, r in ipairs({ "action", "job", "list" }) do
    self.apply_to[r] = v(apply[r]) ~= false
  end
  self.apply_to.iam = v(apply.iam) == true -- IAM's project lookup only when asked for
  self.status = {}
  local rates = v(f.status) or {}
  for _, code in ipairs(STATUS_CODES) do
    local r = tonumber(v(rates[code]) or v(rates[tostring(code)])) or 0
    if r > 0 then self.status[#self.status + 1] = { code = code, rate = r } end
  end
  self.retry_after = tonumber(v(f.retry_after)) or 1
  for _, k in ipairs({ "drop", "drop_after", "latency", "hang", "hang_rate", "malformed" }) do
    self[k] = tonumber(v(f[k])) or 0
  end
  self.latency_mode = v(f.latency_mode) or "arrival"
  if self.latency_mode ~= "arrival" and self.latency_mode ~= "after_work" then
    error("faults.latency_mode must be \"arrival\" or \"after_work\"")
  end
  return self
end

-- Park-Miller: exact in doubles, so identical under LuaJIT and Lua 5.4.
function M:draw()
  self.x = (self.x * 48271) % 2147483647
  return self.x / 2147483647
end

-- The faults for one request of route r ("action", "job", "list"), or nil.
function M:plan(r)
  if not self.apply_to[r] then return nil end
  local p = {}
  p.drop = self:draw() < self.drop
  local u, acc = self:draw(), 0
  for _, s in ipairs(self.status) do
    acc = acc + s.rate
    if u < acc then p.status = s.code break end
  end
  p.hang = self:draw() < self.hang_rate and self.hang or 0
  p.malformed = self:draw() < self.malformed
  p.drop_after = self:draw() < self.drop_after
  p.latency, p.latency_mode = self.latency, self.latency_mode
  return p
end

return M
