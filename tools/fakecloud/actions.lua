-- POST .../cloudservers/action and .../baremetalservers/action: validate the
-- os-stop body as the seed documents describe, then create one job.
local json = require "fakecloud.json"
local fleet = require "fakecloud.fleet"
local jobs = require "fakecloud.jobs"

local M = {}

local PREFIX = { ecs = "Ecs", bms = "BMS" }
local TYPES = { ecs = { SOFT = true, HARD = true }, bms = { HARD = true } }

local function bad(kind, code, msg)
  return 400, { error = { code = PREFIX[kind] .. "." .. code, message = msg } }
end

local function is_array(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

-- Returns ok=true, stop table; or status, error body.
local function validate(kind, body)
  local req = json.decode(body or "")
  if type(req) ~= "table" then return bad(kind, "0005", "request body is not a JSON object") end
  for k in pairs(req) do
    if k ~= "os-stop" then return bad(kind, "0005", "unsupported action " .. tostring(k)) end
  end
  local stop = req["os-stop"]
  if type(stop) ~= "table" then return bad(kind, "0005", "os-stop must be an object") end
  for k in pairs(stop) do
    if k ~= "type" and k ~= "servers" then
      return bad(kind, "0005", "unknown field os-stop." .. tostring(k))
    end
  end
  if stop.type ~= nil and not TYPES[kind][stop.type] then
    return bad(kind, "0005", "invalid os-stop.type " .. tostring(stop.type))
  end
  local servers = stop.servers
  if not is_array(servers) or #servers == 0 then
    return bad(kind, "0005", "os-stop.servers must be a non-empty array")
  end
  if #servers > 1000 then
    return bad(kind, "0118", "at most 1000 servers per request, got " .. #servers)
  end
  local seen = {}
  for i, s in ipairs(servers) do
    if type(s) ~= "table" or type(s.id) ~= "string" or s.id == "" then
      return bad(kind, "0005", "os-stop.servers[" .. i .. "].id must be a string")
    end
    if seen[s.id] then return bad(kind, "0005", "duplicate server id " .. s.id) end
    seen[s.id] = true
  end
  return true, stop
end

-- The one-time transient failure: listed ids, or a seeded share of the fleet.
local function transient(S, id, index)
  if S.transient_ids[id] then return true end
  if S.transient_rate <= 0 then return false end
  return ((index * 2654435761 + S.transient_seed * 97) % 1000003) / 1000003 < S.transient_rate
end

local function outcome(S, K, id)
  local index = fleet.lookup(K, id)
  if not index then return nil, "Ecs.0114", "server " .. id .. " does not exist" end
  local g = fleet.group(K, index)
  local st = K.state[index]
  local status = st and st.status or g.status
  if status ~= "ACTIVE" then
    return index, "Ecs.0100", "server " .. id .. " is " .. status .. ", cannot stop"
  end
  if st and st.job then
    return index, "Ecs.0100", "server " .. id .. " is already being stopped"
  end
  if g.locked then return index, "Ecs.0605", "server " .. id .. " is locked" end
  if transient(S, id, index) and not (st and st.transient_used) then
    fleet.state(K, index).transient_used = true
    return index, "Ecs.0603", "system busy, try again later"
  end
  return index
end

function M.stop(S, kind, body, real, now)
  local ok, stop = validate(kind, body)
  if ok ~= true then return ok, stop end
  local K = S.fleet[kind]
  -- Parallel arrays, not a table per server: a stop call names up to 1000.
  local subs = { K = K, ids = {}, index = {}, code = {}, reason = {} }
  local counts = S.stats.sub_jobs
  for i, s in ipairs(stop.servers) do
    local id = s.id
    S.stops[id] = (S.stops[id] or 0) + 1
    local index, code, reason = outcome(S, K, id)
    subs.ids[i], subs.index[i], subs.code[i], subs.reason[i] = id, index or false, code or false, reason or false
    local key = code or "SUCCESS"
    counts[key] = (counts[key] or 0) + 1
  end
  local duration = tonumber(S.cfg.job_duration) or 0.05
  local job = jobs.create(S, kind, subs, real, now, duration)
  return 200, { job_id = job.id }
end

return M
