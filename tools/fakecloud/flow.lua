-- Stop calls the cloud refuses before touching any server, as the ECS reference documents
-- them (docs/reference/ECS-BMS.md, "Errors" and "Throughput"). Both are off by default.
--   flow_control = { budget = 1000, window = 60 }
--     A project's service (ECS, BMS) accepts at most `budget` servers in any `window` seconds
--     (a sliding window). A call that would go over gets HTTP 202 with the error body
--     Common.0024 and no job_id. A call naming more servers than the whole budget never fits.
--   refusals = { ["Common.1503"] = 0.1, ["Ecs.0603"] = 0.05, seed = 1, limit = nil }
--     Shares of stop calls answered with a code of the reference's error table, at the HTTP
--     status the table gives it (503 Common.1503, API flow control; 501 Ecs.0603, another
--     command is running; ...), drawn from a seeded generator as faults.lua draws. `limit`:
--     at most that many calls are refused in all (then none), so a spec can see one refusal
--     and what the client does next. Gateway codes (APIGW.*, APIG.*) come in the gateway's error
--     shape and, with Common.1503, before the budget is looked at; the others within it.
-- A refused call consumes no budget, creates no job and counts as no stop request.
local config = require "fakecloud.config"

local M = {}
M.__index = M

-- Code -> HTTP status (the reference's column; of "500 / 400" the one noted) and message;
-- the order is the order of the draw, the first two as they always were.
local REFUSALS = {
  { code = "Common.1503", status = 503, message = "too many API requests are being processed, try again later",
    early = true },
  { code = "Ecs.0603", status = 501, message = "another operation is running on the server, try again in 1 minute" },
  { code = "APIGW.0301", status = 401, message = "Incorrect IAM authentication information", gateway = true,
    early = true },
  { code = "APIGW.0308", status = 429, message = "the throttling threshold has been reached", gateway = true,
    early = true },
  { code = "Common.0024", status = 202, message = "exceeds flow over limit" },
  { code = "Common.0001", status = 500, message = "system exception, try again later" },
  { code = "Ecs.0002", status = 500, message = "system exception, try again later" },
  { code = "Ecs.1000", status = 500, message = "system exception, try again later" },
  { code = "Ecs.1001", status = 500, message = "system exception, try again later" },
  { code = "Ecs.1002", status = 400, message = "system exception, try again later" }, -- "500 / 400": the 400
  { code = "Ecs.0100", status = 400, message = "the server's status does not allow this operation" },
  { code = "Ecs.0114", status = 404, message = "the server does not exist" },
  { code = "Ecs.0614", status = 404, message = "the server does not exist" },
  { code = "Ecs.0118", status = 400, message = "too many servers in one request" },
  { code = "Ecs.0605", status = 400, message = "the server is locked" },
  { code = "Ecs.0005", status = 400, message = "invalid parameter" },
  { code = "Pdp.0001", status = 403, message = "the policy does not allow this action" },
  { code = "Common.0011", status = 400, message = "the job does not exist" },
  -- The API Gateway's own pages spell its codes APIG.*; the ECS table, APIGW.*.
  { code = "APIG.0301", status = 401, message = "Incorrect IAM authentication information", gateway = true,
    early = true },
  { code = "APIG.0308", status = 429, message = "the throttling threshold has been reached", gateway = true,
    early = true },
}
local KNOWN = {}
for _, r in ipairs(REFUSALS) do KNOWN[r.code] = r end
M.REFUSALS = REFUSALS

local FLOW = { status = 202, code = "Common.0024", message = "exceeds flow over limit" }

local function number(where, v, min)
  v = config.val(v)
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n < min then error(where .. " must be a number >= " .. min, 0) end
  return n
end

function M.new(fc, rf)
  local v = config.val
  local self = setmetatable({ windows = {} }, M)
  fc = v(fc) or {}
  self.budget = number("flow_control.budget", fc.budget, 1)
  self.window = number("flow_control.window", fc.window, 0.001) or 60
  rf = v(rf) or {}
  self.rates = {}
  for k in pairs(rf) do
    if k ~= "seed" and k ~= "limit" and not KNOWN[k] then error("refusals: unknown code " .. tostring(k), 0) end
  end
  self.limit = number("refusals.limit", rf.limit, 0)
  self.given = 0
  for _, r in ipairs(REFUSALS) do
    local rate = number("refusals[\"" .. r.code .. "\"]", rf[r.code], 0) or 0
    if rate > 0 then self.rates[#self.rates + 1] = { refusal = r, rate = rate } end
  end
  self.x = (math.floor(number("refusals.seed", rf.seed, 0) or 1) % 2147483646) + 1
  return self
end

-- Park-Miller, as in faults.lua: the same sequence under LuaJIT and Lua 5.4.
function M:draw()
  self.x = (self.x * 48271) % 2147483647
  return self.x / 2147483647
end

-- One draw per stop call (only when a rate is set): the refusal it gets, or nil.
local function drawn(self)
  if #self.rates == 0 or (self.limit and self.given >= self.limit) then return nil end
  local u, acc = self:draw(), 0
  for _, r in ipairs(self.rates) do
    acc = acc + r.rate
    if u < acc then return r.refusal end
  end
end

-- The window of one project's service: entries { t, n } oldest first, and their sum.
local function window_of(self, key, now)
  local w = self.windows[key]
  if not w then
    w = { first = 1, last = 0, t = {}, n = {}, sum = 0 }
    self.windows[key] = w
  end
  local horizon = now - self.window
  while w.first <= w.last and w.t[w.first] <= horizon do
    w.sum = w.sum - w.n[w.first]
    w.t[w.first], w.n[w.first] = nil, nil
    w.first = w.first + 1
  end
  return w
end

local function refused(S, r, n)
  local st = S.stats
  st.refused[r.code] = (st.refused[r.code] or 0) + 1
  st.refused_servers = st.refused_servers + n
  if r.gateway then
    return r.status, { error_code = r.code, error_msg = r.message, request_id = ngx and ngx.var.request_id or nil }
  end
  return r.status, { error = { code = r.code, message = r.message } }
end

--- Admits a stop call naming n servers for key (project and service) at time now:
-- nil when accepted (its servers charged to the window), else status, error body.
function M:admit(S, key, n, now)
  local refusal = drawn(self)
  if refusal then self.given = self.given + 1 end
  -- The gateway and the API layer's flow control answer before the service looks at the servers.
  if refusal and refusal.early then return refused(S, refusal, n) end
  if self.budget then
    local w = window_of(self, key, now)
    if w.sum + n > self.budget then return refused(S, FLOW, n) end
    if refusal then return refused(S, refusal, n) end
    w.last = w.last + 1
    w.t[w.last], w.n[w.last] = now, n
    w.sum = w.sum + n
    return nil
  end
  if refusal then return refused(S, refusal, n) end
  return nil
end

return M
