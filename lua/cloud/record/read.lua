--- Reading a record (docs/records.md) back: per target, what the operation did to each
-- server as far as the record got. A record cut short (the process was killed) reads up
-- to its last whole line; a last line cut in the middle is left out and said so. Only a
-- regular file is read (never a FIFO or a device), of at most MAX_BYTES, in lines of at
-- most MAX_LINE.
-- @module cloud.record.read
local core = require "cloud.core"
local errors = require "cloud.errors"
local json = require "cloud.base.json"
local record = require "cloud.record.write"

local M = {}

-- A record of a million servers is about 300 MB; its longest line, an intent of 1000 ids
-- with their states, about 60 KB.
M.MAX_BYTES = 1024 * 1024 * 1024
M.MAX_LINE = 1024 * 1024

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

local function strings(list)
  if type(list) ~= "table" then return false end
  for _, id in ipairs(list) do
    if type(id) ~= "string" then return false end
  end
  return true
end

local function apply(rd, line)
  if type(line) ~= "table" or type(line.type) ~= "string" then return false end
  -- A fleet's target that could not even be set up (no project) ends with its error only.
  if null_to_nil(line.project_id) == nil then return line.type == "end" or line.type == "header" end
  local t = target_of(rd, line)
  if line.type == "header" then
    if not record.FORMATS[line.format] then return false end
    t.header, t.action, t.service = line, line.action, line.service
  elseif line.type == "intent" then
    -- A call about to leave: its servers may have been stopped by it, whatever followed.
    if not strings(line.ids) then return false end
    local before = type(line.before) == "table" and line.before or {}
    for i, id in ipairs(line.ids) do
      local s = server_of(t, id)
      s.sent = true
      local b = null_to_nil(before[i])
      if s.before == nil and type(b) == "string" then s.before = b end
    end
  elseif line.type == "batch" then
    if not strings(line.ids) or type(line.job_id) ~= "string" then return false end
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
-- servers = { [id] = { outcome, changed, how, job_id, sent, before, code, reason,
-- server_status } } }` (`sent`: a call naming it may have left; `before`: its state
-- before the operation, when known);
-- or nil and an error (kind config: cannot read it, or it is no record).
function M.read(path)
  local text, why = core.read_file(path, M.MAX_BYTES)
  if not text then return nil, errors.new("cloud.record", "cannot read the record: " .. tostring(why)) end
  local rd = { targets = {}, order = {}, lines = 0, bad_lines = 0, truncated = false, path = path }
  local pos, n = 1, #text
  while pos <= n do
    local nl = text:find("\n", pos, true)
    local line = text:sub(pos, (nl or n + 1) - 1)
    pos = (nl or n) + 1
    if #line > M.MAX_LINE then
      return nil, errors.new("cloud.record", ("%s has a line of %d bytes, more than a record's %d: it is no record of"
        .. " this tool"):format(path, #line, M.MAX_LINE))
    end
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
