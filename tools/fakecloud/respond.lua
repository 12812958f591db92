-- Writing answers: JSON body, X-Request-Id, and a Date from the emulator's clock.
local json = require "fakecloud.json"
local state = require "fakecloud.state"

local M = {}

function M.now(S)
  return ngx.now() + (tonumber(S.cfg.clock_skew) or 0)
end

-- The service error shape documents error.details, [{code, message}], finer codes that
-- the examples never show: sent when configured (error_details), else left out as before.
local function with_details(S, body)
  local e = body.error
  if type(e) ~= "table" or S.error_details == nil or e.details ~= nil then return body end
  e.details = json.array(S.error_details)
  return body
end

-- body: a table (encoded) or a string (sent as is).
function M.send(status, body, extra_headers)
  local S = state.get()
  ngx.status = status
  if ngx.ctx.api then
    local t = S.stats.statuses
    t[tostring(status)] = (t[tostring(status)] or 0) + 1
  end
  ngx.header["Content-Type"] = "application/json"
  ngx.header["X-Request-Id"] = ngx.var.request_id
  ngx.header["Date"] = ngx.http_time(math.floor(M.now(S)))
  for k, v in pairs(extra_headers or {}) do ngx.header[k] = v end
  if type(body) ~= "string" then body = json.encode(with_details(S, body)) end
  ngx.print(body)
  return ngx.exit(status)
end

return M
