--- Reading a record (docs/records.md) back: per target, what the operation did to each
-- server as far as the record got. A record cut short (the process was killed) reads up
-- to its last whole line; a last line cut in the middle is left out and said so.
-- @module cloud.record_read
local errors = require "cloud.errors"
local json = require "cloud.json"
local record = require "cloud.record"

local M = {}

local function target_key(region, project_id)
  return tostring(project_id) .. "@" .. tostring(region or "")
end

local function null_to_nil(v)
  if type(v) == "userdata" then return nil end -- cjson.null
  return v
end

-- The target of a line, made when first seen.
local function target_of(rd, line)
  local region, project_id = null_to_nil(line.region), null_to_nil(line.project_id)
  local key = target_key(region, project_id)
  local t = rd.targets[key]
  if not t then
    t = { region = region, project_id = project_id, servers = {}, order = {}, ended = false }
    rd.targets[key] = t
    rd.order[#rd.order + 1] = t
  end
  return t
end

local function server_of(t, id)
  local s = t.servers[id]
  if not s then
    s = {}
    t.servers[id] = s
    t.order[#t.order + 1] = id
  end
  return s
end

local function apply(rd, line)
  if type(line) ~= "table" or type(line.type) ~= "string" then return false end
  -- A fleet's target that could not even be set up (no project) ends with its error only.
  if null_to_nil(line.project_id) == nil then return line.type == "end" end
  local t = target_of(rd, line)
  if line.type == "header" then
    if line.format ~= record.FORMAT then return false end
    t.header, t.action, t.service = line, line.action, line.service
  elseif line.type == "batch" then
    if type(line.ids) ~= "table" or type(line.job_id) ~= "string" then return false end
    for _, id in ipairs(line.ids) do
      local s = server_of(t, id)
      s.job_id, s.sent = line.job_id, true
    end
  elseif line.type == "outcome" then
    if type(line.id) ~= "string" then return false end
    local s = server_of(t, line.id)
    s.outcome, s.changed, s.how = line.outcome, null_to_nil(line.changed), line.how
    s.code, s.reason = null_to_nil(line.code), null_to_nil(line.reason)
    s.server_status = null_to_nil(line.server_status)
    if type(line.job_id) == "string" then s.job_id = line.job_id end
  elseif line.type == "end" then
    t.ended = true
  end
  return true
end

--- Reads the record at `path`. Returns `{ targets = {...}, lines =, bad_lines =, truncated = }`
-- where each target is `{ region, project_id, header, action, service, ended, order = {id...},
-- servers = { [id] = { outcome, changed, how, job_id, sent, code, reason, server_status } } }`;
-- or nil and an error (kind config: cannot read it, or it is no record).
function M.read(path)
  local f, why = io.open(path, "rb")
  if not f then return nil, errors.new("cloud.record", "cannot read the record: " .. tostring(why)) end
  local text = f:read("*a")
  f:close()
  local rd = { targets = {}, order = {}, lines = 0, bad_lines = 0, truncated = false, path = path }
  local pos, n = 1, #text
  while pos <= n do
    local nl = text:find("\n", pos, true)
    local line = text:sub(pos, (nl or n + 1) - 1)
    pos = (nl or n) + 1
    if line ~= "" then
      local ok = apply(rd, json.decode(line))
      if ok then rd.lines = rd.lines + 1
      elseif not nl then rd.truncated = true -- the last line, cut off while it was written
      else rd.bad_lines = rd.bad_lines + 1 end
    end
  end
  local headers = 0
  for _, t in ipairs(rd.order) do if t.header then headers = headers + 1 end end
  if headers == 0 then
    return nil, errors.new("cloud.record", ("%s is not a record of this tool (no %s header line)")
      :format(path, record.FORMAT))
  end
  rd.targets = rd.order
  rd.order = nil
  return rd
end

return M
