-- POST .../cloudservers/action and .../baremetalservers/action: validate an os-stop or
-- os-start body as the API reference describes them, then create one job.
local json = require "fakecloud.json"
local fleet = require "fakecloud.fleet"
local jobs = require "fakecloud.jobs"

local M = {}

local CODE_PREFIX = { ecs = "Ecs", bms = "BMS" }
local TYPES = { ecs = { SOFT = true, HARD = true }, bms = { HARD = true } }
-- Each action: the body's key, whether it takes a type, the status a server must have
-- for it, and the stats counting its accepted requests per server.
local ACTIONS = {
  ["os-stop"] = { name = "stop", typed = true, from = "ACTIVE", counts = "stops" },
  ["os-start"] = { name = "start", typed = false, from = "SHUTOFF", counts = "starts" },
}

local function bad(kind, code, msg)
  return 400, { error = { code = CODE_PREFIX[kind] .. "." .. code, message = msg } }
end

local function is_array(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

-- The compact bodies clients send, {"os-stop":{"type":"T","servers":[{"id":"a"},...]}} and
-- {"os-start":{"servers":[{"id":"a"},...]}}, read by plain searches into the action, the
-- type and an array of ids, without a table per server (a call names up to 1000, and this
-- single worker serves every call). Anything else -- other spacing or order, an escape, a
-- NUL -- returns nil and goes to the full decoder.
local STOP_HEAD, START_HEAD = '{"os-stop":{"type":"', '{"os-start":{"servers":['
local MID, ITEM, TAIL = '","servers":[', '{"id":"', ']}}'
local function compact(body)
  local n = #body
  if body:sub(n - #TAIL + 1) ~= TAIL or body:find("\\", 1, true) or body:find("\0", 1, true) then
    return nil
  end
  local key, kind_type, pos
  if body:sub(1, #STOP_HEAD) == STOP_HEAD then
    local q = body:find('"', #STOP_HEAD + 1, true)
    if not q or body:sub(q, q + #MID - 1) ~= MID then return nil end
    key, kind_type, pos = "os-stop", body:sub(#STOP_HEAD + 1, q - 1), q + #MID
  elseif body:sub(1, #START_HEAD) == START_HEAD then
    key, pos = "os-start", #START_HEAD + 1
  else
    return nil
  end
  local ids, k, stop_at = {}, 0, n - #TAIL + 1
  while pos < stop_at do
    if body:sub(pos, pos + #ITEM - 1) ~= ITEM then return nil end
    local close = body:find('"', pos + #ITEM, true)
    if not close or body:byte(close + 1) ~= 125 then return nil end -- "}
    k = k + 1
    ids[k] = body:sub(pos + #ITEM, close - 1)
    pos = close + 2
    if pos < stop_at then
      if body:byte(pos) ~= 44 then return nil end -- ","
      pos = pos + 1
      if pos == stop_at then return nil end -- a trailing comma
    end
  end
  return key, kind_type, ids
end

-- The action, type and server ids of a body decoded in full (any JSON the API takes):
-- true, key, type (nil when absent), ids; or nil, status, error body.
local function decoded(kind, body)
  local function fail(code, msg) return nil, bad(kind, code, msg) end
  local req = json.decode(body or "")
  if type(req) ~= "table" then return fail("0005", "request body is not a JSON object") end
  local key
  for k in pairs(req) do
    if not ACTIONS[k] or key then return fail("0005", "unsupported action " .. tostring(k)) end
    key = k
  end
  if not key then return fail("0005", "the body names no action") end
  local act = req[key]
  if type(act) ~= "table" then return fail("0005", key .. " must be an object") end
  for k in pairs(act) do
    if k ~= "servers" and not (k == "type" and ACTIONS[key].typed) then
      return fail("0005", "unknown field " .. key .. "." .. tostring(k))
    end
  end
  local servers = act.servers
  if not is_array(servers) then return fail("0005", key .. ".servers must be a non-empty array") end
  local ids = {}
  for i, s in ipairs(servers) do
    if type(s) ~= "table" or type(s.id) ~= "string" then
      return fail("0005", key .. ".servers[" .. i .. "].id must be a string")
    end
    ids[i] = s.id
  end
  return true, key, act.type, ids
end

-- Returns true, key, type (nil when absent), ids; or status, error body.
local function validate(kind, body)
  local key, kind_type, ids = compact(body or "")
  if not key then
    local ok, k, t, list = decoded(kind, body)
    if not ok then return k, t end
    key, kind_type, ids = k, t, list
  end
  if kind_type ~= nil and not TYPES[kind][kind_type] then
    return bad(kind, "0005", "invalid " .. key .. ".type " .. tostring(kind_type))
  end
  if #ids == 0 then return bad(kind, "0005", key .. ".servers must be a non-empty array") end
  if #ids > 1000 then
    return bad(kind, "0118", "at most 1000 servers per request, got " .. #ids)
  end
  local seen = {}
  for i, id in ipairs(ids) do
    if id == "" then return bad(kind, "0005", key .. ".servers[" .. i .. "].id must be a string") end
    if seen[id] then return bad(kind, "0005", "duplicate server id " .. id) end
    seen[id] = true
  end
  return true, key, kind_type, ids
end

-- The one-time transient failure: listed ids, or a seeded share of the fleet.
local function transient(S, id, index)
  if S.transient_ids[id] then return true end
  if S.transient_rate <= 0 then return false end
  return ((index * 2654435761 + S.transient_seed * 97) % 1000003) / 1000003 < S.transient_rate
end

-- A server's sub-job outcome for action `a`: its index and, when it fails, the code and
-- reason. The reference: a server whose status does not allow the action (a stop of one
-- not ACTIVE, a start of one not SHUTOFF, either while another is under way) is Ecs.0100.
local function outcome(S, K, id, a)
  local index = fleet.lookup(K, id)
  if not index then return nil, "Ecs.0114", "server " .. id .. " does not exist" end
  local g = fleet.group(K, index)
  local st = K.state[index]
  local status = st and st.status or g.status
  if status ~= a.from then
    return index, "Ecs.0100", "server " .. id .. " is " .. status .. ", cannot " .. a.name
  end
  if st and st.job then
    local doing = st.job.action == "start" and "started" or "stopped"
    return index, "Ecs.0100", "server " .. id .. " is already being " .. doing
  end
  if g.locked then return index, "Ecs.0605", "server " .. id .. " is locked" end
  if transient(S, id, index) and not (st and st.transient_used) then
    fleet.state(K, index).transient_used = true
    return index, "Ecs.0603", "system busy, try again later"
  end
  return index
end

function M.act(S, kind, body, real, now, project)
  local ok, key, kind_type, ids = validate(kind, body)
  if ok ~= true then return ok, key end
  local a = ACTIONS[key]
  -- Flow control counts servers, so it needs the body read; a refusal touches nothing.
  local refused, why = S.flow:admit(S, (project or S.cfg.project_id) .. "/" .. kind, #ids, real)
  if refused then return refused, why end
  local K = S.fleet[kind]
  -- Parallel arrays, not a table per server: a call names up to 1000.
  local subs = { K = K, ids = {}, index = {}, code = {}, reason = {} }
  local counts, per_server = S.stats.sub_jobs, S[a.counts]
  for i, id in ipairs(ids) do
    per_server[id] = (per_server[id] or 0) + 1
    local index, code, reason = outcome(S, K, id, a)
    subs.ids[i], subs.index[i], subs.code[i], subs.reason[i] = id, index or false, code or false, reason or false
    local c = code or "SUCCESS"
    counts[c] = (counts[c] or 0) + 1
  end
  if a.typed then
    -- The type as sent: specs check that a client's choice reached the cloud.
    local sent = kind_type or "absent"
    S.stats.stop_types[sent] = (S.stats.stop_types[sent] or 0) + 1
  end
  local duration = tonumber(S.cfg.job_duration) or 0.05
  local job = jobs.create(S, kind, subs, real, now, duration, tonumber(S.cfg.job_init), a.name, S.job_hold)
  return 200, { job_id = job.id }
end

return M
