--- Finding the project id when none is configured, as the official SDKs do: IAM's
-- `GET /v3/projects?name={region}`, signed like every other call, made at the first call
-- that needs the id (never in cloud.new: init_by_lua allows no I/O). Exactly one project
-- must match. The answer is kept for the process (per worker inside nginx), keyed by
-- AK, region and IAM endpoint, so a second client with the same key asks no more. It is
-- handed what it needs (`find`'s `p`), never a client.
-- @module cloud.auth.project
local errors = require "cloud.errors"
local single_flight = require "cloud.net.single_flight"

local M = {}

local cache = {} -- "ak \0 region \0 iam url" -> project id

--- Forgets every project id found (for tests).
function M.forget()
  cache = {}
end

local function lookup_url(p)
  return p.iam_url:gsub("/+$", "") .. "/v3/projects?name=" .. p.region
end

-- The one GET, on a scheduler of the client's like any other call: signed with its keys at
-- the cloud's time, retried, re-signed after a clock skew or with fresh temporary keys, seen
-- by on_request. Returns the decoded answer and its request id, or nil and an error.
local function ask(p)
  local sched, result = p.scheduler(), nil
  sched:request({ service = "iam", method = "GET", path = "/v3/projects", query = { name = p.region },
                  idempotent = true, label = "IAM project lookup (GET " .. lookup_url(p) .. ")" },
    function(r) result = r end)
  sched:run()
  if result.ok then return result.data, result.request_id end
  return nil, result.err
end

-- The project of `p.region` in IAM's answer: its id, or nil and why.
local function pick(p, data)
  local list = data.projects
  if type(list) ~= "table" then return nil, "the answer has no 'projects' array" end
  local ids = {}
  for _, x in ipairs(list) do
    -- IAM filters by name already; checked again here, so a loose match is never taken.
    if type(x) == "table" and x.name == p.region and type(x.id) == "string" then ids[#ids + 1] = x.id end
  end
  if #ids == 1 then
    if not ids[1]:match("^[%w%-_]+$") then return nil, "its project id has characters a project id cannot have" end
    return ids[1]
  end
  if #ids == 0 then
    local names = {}
    for _, x in ipairs(list) do
      if type(x) == "table" and type(x.name) == "string" then names[#names + 1] = x.name end
    end
    return nil, ("no project named %s%s"):format(p.region,
      #names > 0 and (" (it lists " .. table.concat(names, ", ") .. ")") or "")
  end
  return nil, ("%d projects named %s (%s); pass project_id to choose one"):format(#ids, p.region,
    table.concat(ids, ", "))
end

local function lookup(p)
  local data, err = ask(p)
  if not data then return nil, nil, err end
  local id, why = pick(p, data)
  if not id then return nil, why, nil end
  return id
end

--- Finds the project of a region in IAM (or in this process's memory of an earlier answer).
-- `p`: region, iam_url (IAM's endpoint), ak (the key it is found with), tried (lines
-- saying where a project id was looked for before, for the error), scheduler (a function
-- making a scheduler of the client's). Returns the id, or nil and an error: the lookup
-- call's own (its code, status and request id: APIGW.0301 for a wrong key, cloud.connect
-- for no connection), or cloud.no_project_id when IAM answered and no single project
-- matched; either names every place looked at.
function M.find(p)
  local key = table.concat({ p.ak, p.region, p.iam_url }, "\0")
  local id = cache[key]
  local why, err
  if not id then
    local found
    found, why = single_flight.run("project\0" .. key, 60, function()
      if cache[key] then return cache[key] end
      local pid, reason, e = lookup(p)
      if pid then cache[key] = pid return pid end
      return nil, e or reason -- the error itself, so requests waiting on this flight get it too
    end)
    id = found
    if getmetatable(why) == errors.Error then err = why end
  end
  if id then return id end
  local lines = {}
  for i, t in ipairs(p.tried or {}) do lines[i] = t end
  if err then
    -- The call itself failed (a refused signature, no connection, a dead proxy): that is
    -- the cause and the headline, with its code, status and request id said once, and
    -- where it happened after it.
    local e = errors.new(err.code, ("%s (while looking up the project id in IAM, GET %s; looked in: %s)")
      :format(tostring(err.message), lookup_url(p), table.concat(lines, "; ")), err.status, err.request_id, err.kind)
    e.details, e.project_lookup = err.details, true
    return nil, e
  end
  lines[#lines + 1] = ("IAM (GET %s): %s"):format(lookup_url(p), tostring(why))
  return nil, errors.new("cloud.no_project_id", "no project id; looked in: " .. table.concat(lines, "; "))
end

return M
