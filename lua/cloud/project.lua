--- Finding the project id when none is configured, as the official SDKs do: IAM's
-- `GET /v3/projects?name={region}`, signed like every other call, made at the first call
-- that needs the id (never in cloud.new: init_by_lua allows no I/O). Exactly one project
-- must match. The answer is kept for the process (per worker inside nginx), keyed by
-- AK, region and IAM endpoint, so a second client with the same key asks no more.
-- @module cloud.project
local answer = require "cloud.answer"
local errors = require "cloud.errors"
local once = require "cloud.once"
local retry = require "cloud.retry"
local sync = require "cloud.sync"

local M = {}

local cache = {} -- "ak \0 region \0 iam url" -> project id

-- A 401 whose answer's clock is this far from ours is a clock problem (as the scheduler's).
local SKEW_LIMIT = 600

--- Forgets every project id found (for tests).
function M.forget()
  cache = {}
end

local function lookup_url(client)
  return client._endpoints.iam.url:gsub("/+$", "") .. "/v3/projects?name=" .. client.region
end

-- The one GET, with the client's retry policy for what is worth another try. Returns the
-- decoded answer and its request id, or nil and an error.
local function ask(client)
  local policy, fixed_clock = client._retry, false
  local attempt = 0
  while true do
    attempt = attempt + 1
    local req = client:_signed{ service = "iam", method = "GET", path = "/v3/projects",
                                query = { name = client.region } }
    local r = sync.exchange(client._transport, client:_next_request_id(), "GET", req.url, req.headers)
    local err, again, data
    if r.error then
      err = answer.transport_error(r)
      again = r.error ~= "tls" and r.error ~= "too_large"
    elseif r.status >= 200 and r.status < 300 then
      data = answer.decode(r.body)
      if type(data) == "table" then return data, r.request_id end
      err = errors.new("cloud.bad_response", "the answer is not a JSON object", r.status, r.request_id)
    else
      err = answer.error(r.status, answer.decode(r.body), r.request_id, r.body)
      local skew = r.status == 401 and client:_skew_from(r.date)
      if skew and math.abs(skew) > SKEW_LIMIT and not fixed_clock then
        fixed_clock = true
        client:_adjust_clock(skew)
        attempt = attempt - 1 -- signed again with the cloud's time: not a retry
        again = true
      else
        again = retry.retryable_answer(r.status, err.code)
      end
    end
    if not again or attempt >= policy.attempts then return nil, err end
    local delay = retry.delay(policy, attempt, retry.parse_retry_after(r.retry_after, client:_now()))
    client:_log(("retry %d/%d in %.2fs: GET %s: %s"):format(attempt, policy.attempts - 1, delay,
      lookup_url(client), tostring(err)))
    sync.sleep(client._transport, delay)
  end
end

-- The project of `client.region` in IAM's answer: its id, or nil and why.
local function pick(client, data)
  local list = data.projects
  if type(list) ~= "table" then return nil, "the answer has no 'projects' array" end
  local ids = {}
  for _, p in ipairs(list) do
    -- IAM filters by name already; checked again here, so a loose match is never taken.
    if type(p) == "table" and p.name == client.region and type(p.id) == "string" then ids[#ids + 1] = p.id end
  end
  if #ids == 1 then
    if not ids[1]:match("^[%w%-_]+$") then return nil, "its project id has characters a project id cannot have" end
    return ids[1]
  end
  if #ids == 0 then
    local names = {}
    for _, p in ipairs(list) do
      if type(p) == "table" and type(p.name) == "string" then names[#names + 1] = p.name end
    end
    return nil, ("no project named %s%s"):format(client.region,
      #names > 0 and (" (it lists " .. table.concat(names, ", ") .. ")") or "")
  end
  return nil, ("%d projects named %s (%s); pass project_id to choose one"):format(#ids, client.region,
    table.concat(ids, ", "))
end

local function lookup(client)
  local data, err = ask(client)
  if not data then return nil, nil, err end
  local id, why = pick(client, data)
  if not id then return nil, why, nil end
  return id
end

--- Makes sure `client` has a project id, looking it up in IAM when none was configured.
-- Returns true, or nil and a cloud.no_project_id error naming every place looked at.
function M.ensure(client)
  if client.project_id then return true end
  local keys = client._keys:current()
  local key = table.concat({ keys.ak, client.region, client._endpoints.iam.url }, "\0")
  local id = cache[key]
  local why, err
  if not id then
    local found
    found, why = once.run("project\0" .. key, 60, function()
      if cache[key] then return cache[key] end
      local pid, reason, e = lookup(client)
      if pid then cache[key] = pid return pid end
      err = e
      return nil, reason or (e and tostring(e))
    end)
    id = found
  end
  if not id then
    local lines = {}
    for i, t in ipairs(client._project_tried or {}) do lines[i] = t end
    lines[#lines + 1] = ("IAM (GET %s): %s"):format(lookup_url(client), tostring(why))
    local e = errors.new("cloud.no_project_id", "no project id; looked in: " .. table.concat(lines, "; "),
      err and err.status, err and err.request_id)
    e.cause = err
    return nil, e
  end
  client:_use_project(id)
  return true
end

return M
