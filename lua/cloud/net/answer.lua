--- Reading the cloud's answers: JSON bodies and the two error shapes
-- (`{"error":{"code","message"}}` from services, `{"error_code","error_msg"}` from the gateway).
-- @module cloud.net.answer
local json = require "cloud.base.json"
local errors = require "cloud.errors"

local M = {}

--- Decodes a JSON object body; nil when it is not one.
function M.decode(body)
  if body == nil or body == "" then return nil end
  local data = json.decode(body)
  if type(data) ~= "table" then return nil end
  return data
end

local function str(v)
  if type(v) == "string" and v ~= "" then return v end
  if type(v) == "number" then return tostring(v) end
  return nil
end

--- The error code a decoded body names, in either error shape, or nil. A 2xx answer may
-- carry one too (flow control: 202 with Common.0024 and no job_id). `error_object_only`:
-- only the service shape counts, `{"error":{"code":...}}` (a job's answer has an
-- `error_code` of its own, about the job, not about the call).
function M.code(data, error_object_only)
  if type(data) ~= "table" then return nil end
  local e = data.error
  if type(e) == "table" and str(e.code) then return str(e.code) end
  if error_object_only then return nil end
  return str(data.error_code) or str(data.code)
end

-- The gateway's 401 quotes the canonical request it computed, security token included:
-- a secret that must not reach errors and logs.
local function hide_token(text)
  return (text:gsub("([Xx]%-[Ss]ecurity%-[Tt]oken:)[^|\r\n]*", "%1(hidden)"))
end

local MAX_DETAILS, MAX_DETAIL_TEXT = 20, 500

--- The finer codes of a service error, `error.details` (`[{code, message}]`, documented, never
-- in the examples), as `{ {code =, message =}, ... }`; nil when there are none. Bounded, as
-- a hostile answer may send thousands.
function M.details(e)
  local d = type(e) == "table" and e.details
  if type(d) ~= "table" then return nil end
  local out = {}
  for _, x in ipairs(d) do
    if #out == MAX_DETAILS then break end
    if type(x) == "table" then
      local code, message = str(x.code), str(x.message)
      if code or message then
        out[#out + 1] = { code = code and code:sub(1, MAX_DETAIL_TEXT),
                          message = message and hide_token(message:sub(1, MAX_DETAIL_TEXT)) }
      end
    end
  end
  if out[1] then return out end
end

--- The error of an answer naming one (any non-2xx, or a 2xx with an error body) as an
-- errors.new table, with the service error's `details` when it has them.
function M.error(status, data, request_id, body)
  local code, message, details
  if type(data) == "table" then
    local e = data.error
    if type(e) == "table" then
      code, message, details = str(e.code), str(e.message), M.details(e)
    end
    code = code or str(data.error_code) or str(data.code)
    message = message or str(data.error_msg) or str(data.message)
    request_id = request_id or str(data.request_id)
  end
  if not message and body and body ~= "" then message = body:sub(1, 200) end
  if message then message = hide_token(message) end
  -- Only a proxy answers 407: say so, or the cloud would be blamed for it.
  if status == 407 and not code then
    message = "a proxy on the way wants a user and password (give them in its URL): " .. tostring(message)
  end
  local err = errors.new(code or ("HTTP." .. tostring(status)), message or ("HTTP status " .. tostring(status)),
    status, request_id)
  err.details = details
  return err
end

--- The error for a transfer that got no HTTP answer.
function M.transport_error(resp)
  local codes = {
    connect = "cloud.connect", dns = "cloud.dns", timeout = "cloud.timeout",
    dropped = "cloud.connection_dropped", too_large = "cloud.response_too_large", tls = "cloud.tls",
    transport = "cloud.transport",
  }
  local err = errors.new(codes[resp.error] or "cloud.transport", resp.message or resp.error, nil, resp.request_id)
  err.proxy = resp.proxy -- the proxy it failed at (cloud.net.proxy_cause), when one
  return err
end

return M
