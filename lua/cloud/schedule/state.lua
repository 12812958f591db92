--- The schedule engine's memory: one small JSON file per schedule, target and service in
-- the state directory, saying what the engine last acted on and which records hold the
-- servers it stopped and has not started again. Written atomically: a new file made beside
-- the old one (the C core's create_file: O_CREAT|O_EXCL|O_NOFOLLOW, owner only), written
-- and synced, then renamed over it, so a crash leaves the old state or the new one, whole.
-- A file that cannot be read as a state is an error naming it: never "no state", which
-- would make the engine forget the servers it stopped. It also remembers the project IAM
-- gave for a set of keys, so a run with nothing to do needs no call at all.
-- @module cloud.schedule.state
local cjson = require("cjson").new()
local core = require "cloud.core"
local errors = require "cloud.errors"
local json = require "cloud.base.json"

cjson.decode_max_depth(8)

local M = {}

M.FORMAT = "cloud-schedule-state/1"
-- A state names a few records; far past what one can hold, a file is not ours.
local MAX_BYTES = 1024 * 1024
local ENOENT, EEXIST = 2, 17
local WANTED = { running = true, stopped = true }

--- A name made safe for a file name: letters, digits, '.', '_' and '-' kept, anything else
-- (a '/' above all) as '_' followed by its hex code, so two names never meet.
function M.safe(s)
  s = tostring(s)
  local out = s:gsub("[^%w%-_]", function(c) return ("_%02x"):format(c:byte()) end)
  return out
end

--- The stem of a unit's files: `<schedule>.<region>.<project_id>.<service>`, each part safe.
function M.stem(name, region, project_id, service)
  return table.concat({ M.safe(name), M.safe(region or "-"), M.safe(project_id or "-"), M.safe(service) }, ".")
end

--- The path of the state file of a unit (schedule, target, service) under `dir`.
function M.path(dir, name, region, project_id, service)
  return dir .. "/" .. M.stem(name, region, project_id, service) .. ".json"
end

local function corrupt(path, why)
  return nil, errors.new("cloud.schedule_state", ("state file %s is not a %s state (%s): fix or remove it; the "
    .. "engine does not guess which servers it stopped"):format(path, M.FORMAT, why), nil, nil, "config")
end

--- Reads a state file. Returns the state ({ wanted, acting, at, records }), or false when
-- there is none, or nil and an error (kind `config`) naming the file when it cannot be
-- read or is not a state.
function M.read(path)
  local text, why, errno = core.read_file(path, MAX_BYTES)
  if not text then
    if errno == ENOENT then return false end
    return corrupt(path, why)
  end
  local ok, s = pcall(cjson.decode, text)
  if not ok or type(s) ~= "table" then return corrupt(path, "not JSON") end
  if s.format ~= M.FORMAT then return corrupt(path, "format is " .. tostring(s.format)) end
  if s.wanted ~= nil and s.wanted ~= cjson.null and not WANTED[s.wanted] then
    return corrupt(path, "wanted is " .. tostring(s.wanted))
  end
  if type(s.acting) ~= "boolean" then return corrupt(path, "acting is not true or false") end
  if type(s.at) ~= "number" then return corrupt(path, "at is not a time") end
  if type(s.records) ~= "table" then return corrupt(path, "records is not a list") end
  for i, r in ipairs(s.records) do
    if type(r) ~= "string" or r == "" then return corrupt(path, ("records[%d] is not a path"):format(i)) end
  end
  return { wanted = WANTED[s.wanted] and s.wanted or nil, acting = s.acting, at = s.at, records = s.records }
end

-- Replaces the file at `path` with `text`, atomically. Returns true, or nil and an error
-- of kind `record` (the engine then sends nothing more for the unit).
local function replace(path, text)
  local function failed(why, errno)
    local e = errors.new("cloud.schedule_state_write", ("could not write the state file %s (%s)"):format(path,
      tostring(why)), nil, nil, "record")
    e.errno = errno
    return nil, e
  end
  local tmp, f, why, errno
  for n = 1, 20 do
    -- A temp file a crash left behind is never reused: the next free name is taken.
    tmp = ("%s.tmp%d"):format(path, n)
    f, why, errno = core.create_file(tmp)
    if f or errno ~= EEXIST then break end
  end
  if not f then return failed(why, errno) end
  local ok
  ok, why, errno = f:write(text, true)
  local closed, cwhy, cerrno = f:close()
  if ok and not closed then ok, why, errno = nil, cwhy, cerrno end
  if ok then ok, why, errno = core.replace_file(tmp, path) end
  if not ok then
    os.remove(tmp)
    return failed(why, errno)
  end
  return true
end

--- Replaces the state file at `path` with `s` ({ wanted, acting, at, records }),
-- atomically. Returns true, or nil and an error of kind `record` (the engine then sends
-- nothing more for the unit).
function M.write(path, s)
  return replace(path, json.encode({ format = M.FORMAT, wanted = s.wanted or cjson.null,
    acting = s.acting and true or false, at = s.at, records = s.records or {} }) .. "\n")
end

M.PROJECT_FORMAT = "cloud-schedule-project/1"

--- A short fingerprint of `s` (hex): its SHA-256 as the signer computes a body's (the
-- canonical request's last line), so the state directory never holds an access key.
function M.fingerprint(s)
  local signed = core.sign{ method = "POST", host = "fingerprint", path = "/", ak = "-", sk = "-", body = s }
  return signed.canonical_request:match("(%x+)$"):sub(1, 32)
end

local function project_path(dir, fingerprint)
  return ("%s/project.%s.json"):format(dir, fingerprint)
end

--- The project an earlier run found through IAM for the keys, region and IAM endpoint whose
-- fingerprint is `fingerprint`, or nil when none is remembered (or the file is not one).
function M.remembered_project(dir, fingerprint)
  local text = core.read_file(project_path(dir, fingerprint), 4096)
  local ok, p = pcall(cjson.decode, text or "")
  if ok and type(p) == "table" and p.format == M.PROJECT_FORMAT and type(p.project_id) == "string"
    and p.project_id ~= "" then
    return p.project_id
  end
  return nil
end

--- Remembers the project IAM gave for `fingerprint`, so that a later run whose schedules
-- ask for nothing sends nothing at all. Returns true, or nil and an error (kind `record`).
function M.remember_project(dir, fingerprint, project_id)
  return replace(project_path(dir, fingerprint),
    json.encode({ format = M.PROJECT_FORMAT, project_id = project_id }) .. "\n")
end

--- Takes the unit's lock (`<state path>.lock`), so that two runs (a slow one and the next
-- cron's) never act on one unit at once. Returns the lock, or nil and an error: of kind
-- `refused` when another run holds it.
function M.lock(path)
  local lock, why = core.lock_file(path .. ".lock", ("pid %s\n"):format(tostring(M.pid())))
  if lock then return lock end
  if lock == false then
    return nil, errors.new("cloud.schedule_busy", ("another run holds %s.lock: it acts on this schedule and target "
      .. "now; this run sent nothing for them"):format(path), nil, nil, "refused")
  end
  return nil, errors.new("cloud.schedule_state", "cannot lock the state: " .. tostring(why), nil, nil, "config")
end

-- The process id, for the lock's note (who holds it); nil where /proc does not say.
function M.pid()
  local f = io.open("/proc/self/stat", "rb")
  if not f then return nil end
  local line = f:read("*l")
  f:close()
  return line and line:match("^(%d+)")
end

--- Makes `dir` and `dir/records` when absent (owner only). Returns true, or nil and an
-- error of kind `record`.
function M.prepare(dir)
  for _, d in ipairs({ dir, dir .. "/records" }) do
    local ok, why, errno = core.make_dir(d)
    if not ok then
      local e = errors.new("cloud.schedule_state_write", "cannot make the state directory: " .. tostring(why), nil,
        nil, "record")
      e.errno = errno
      return nil, e
    end
  end
  return true
end

return M
