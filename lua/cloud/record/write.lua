--- Records: a JSON Lines file written as an operation goes (docs/records.md). A writer owns
-- the file; each target of an operation (one for a client, several for a fleet) writes
-- through its own recorder, which puts the target's region and project on every line.
-- Write ahead: before a stop call leaves, an `intent` line names its servers and what was
-- known of their state, made durable (fsync); the cloud's answer follows in a `batch`
-- line. Every line goes to the file as it is written (no buffer), so a process killed at
-- any point leaves a record that reads up to that point and covers every call it sent.
-- A write that fails breaks the writer: the operation sends nothing more (docs/records.md).
-- Secrets never reach a record: the caller is the AK's first characters only.
-- @module cloud.record.write
local core = require "cloud.core"
local cjson = require("cjson").new()
local errors = require "cloud.errors"
local json = require "cloud.base.json"

local M = {}

M.FORMAT = "cloud-record/2"
-- Formats a reader takes: /1 had no intent lines and no before states.
M.FORMATS = { ["cloud-record/1"] = true, [M.FORMAT] = true }
-- Failures that leave a server's fate open: the action may still have happened.
local DOUBT = { ["cloud.unconfirmed"] = true, ["cloud.wait_timeout"] = true, ["cloud.interrupted"] = true }
M.DOUBT = DOUBT
local EEXIST = 17

local function iso(t)
  local s = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. (".%03dZ"):format(math.floor((t - s) * 1000))
end

local Writer = {}
Writer.__index = Writer

--- Creates a new record file at `path`: a new regular file only, owner-only, created
-- atomically and never through a symbolic link (the C core opens it with
-- O_CREAT|O_EXCL|O_NOFOLLOW), so a file, a link or a FIFO already there is refused, never
-- followed nor replaced. Returns the writer, or nil and an error: cloud.record_exists
-- (refused) when something is at `path`, cloud.record (config) when it cannot be created.
function M.open(path)
  local f, why, errno = core.create_file(path)
  if f then return setmetatable({ f = f, path = path }, Writer) end
  if errno == EEXIST then
    return nil, errors.new("cloud.record_exists", ("record %s already exists; a record is never overwritten:"
      .. " name a new file (e.g. with the date and time)"):format(path))
  end
  return nil, errors.new("cloud.record", "cannot create the record: " .. tostring(why))
end

-- The writer's failure, once: an error of kind `record`, with the system's reason and errno.
local function broken(self, why, errno)
  local e = errors.new("cloud.record_write", ("could not write the record %s (%s); nothing more is sent, and what"
    .. " was sent is covered by the lines written before"):format(self.path, tostring(why)))
  e.errno = errno
  self.err = e
  return nil, e
end

--- Writes whole lines; `durable`: and waits until they are on disk (fsync). Returns true,
-- or nil and the writer's error: after one failure every write fails the same way.
function Writer:write(text, durable)
  if self.err then return nil, self.err end
  if not self.f then return broken(self, "the record was already closed") end
  local ok, why, errno = self.f:write(text, durable)
  if not ok then return broken(self, why, errno) end
  return true
end

--- Closes the file (idempotent). Returns true, or nil and the writer's error (a failure
-- that close itself reports, or an earlier one).
function Writer:close()
  local f = self.f
  self.f = nil
  if f then
    local ok, why, errno = f:close()
    if not ok and not self.err then broken(self, why, errno) end
  end
  if self.err then return nil, self.err end
  return true
end

local Recorder = {}
Recorder.__index = Recorder

--- A recorder for one target's operation. `target`: region (may be nil), project_id (the
-- one in use, found through IAM or given); `action`: a table of cloud.op.actions;
-- `selection`: "filter", "ids" or "record".
function Writer:recorder(target, action, selection)
  local stamp = ('"project_id":%s,"region":%s'):format(cjson.encode(target.project_id),
    target.region and cjson.encode(target.region) or "null")
  return setmetatable({ writer = self, stamp = stamp, target = target, action = action, selection = selection,
                        calls = 0, before = {} }, Recorder)
end

-- One line from a table: the stamp and the time put in front of its own fields.
function Recorder:line(kind, fields)
  local body = json.encode(fields)
  local head = ('{"type":%s,"time":"%s",%s'):format(cjson.encode(kind), iso(core.time()), self.stamp)
  if body == "{}" then return head .. "}\n" end
  return head .. "," .. body:sub(2) .. "\n"
end

--- The header: what runs, where, on whose behalf, chosen how. `h` holds the fields of
-- docs/records.md (version, service, endpoint, filter or ids, caller, options).
function Recorder:header(h)
  local fields = { format = M.FORMAT, tool = "cloud", action = self.action.name, selection = self.selection }
  for k, v in pairs(h) do fields[k] = v end
  return self.writer:write(self:line("header", fields))
end

--- What was known of each server's state before the operation (`states`: id -> status,
-- from the listing or a lookup). A server not in it was of unknown state.
function Recorder:states(states)
  self.before = states or {}
end

--- Written ahead of a call naming `ids`, and on disk before it leaves: its number and,
-- for each server, the state known before (null: unknown). Returns the call's number, or
-- nil and the writer's error, and then the call must not be sent.
function Recorder:intent(ids)
  self.calls = self.calls + 1
  local before, known = {}, false
  for i, id in ipairs(ids) do
    before[i] = self.before[id] or cjson.null
    known = known or self.before[id] ~= nil
  end
  local ok, err = self.writer:write(self:line("intent", { call = self.calls, ids = ids, count = #ids,
    before = known and before or nil }), true)
  if not ok then return nil, err end
  return self.calls
end

--- A call the cloud accepted (`call`: its intent's number): its job, the request that
-- was answered, the ids.
function Recorder:batch(job_id, request_id, ids, call)
  return self.writer:write(self:line("batch", { job_id = job_id, request_id = request_id, ids = ids,
                                                count = #ids, call = call }))
end

-- Whether this operation changed server `id`, which the action reached by `how`: its
-- job's sub-job says so; a lookup does only when the server was known to be in another
-- state before (false when it was known to be there already); an accepted call not waited
-- for does not yet.
local function changed_by(self, how, id)
  if how == "job" then return true end
  if how == "lookup" then
    local before = self.before[id]
    if before == nil then return nil end
    return before ~= self.action.wanted
  end
  return nil
end

--- Servers the action reached (`how`: "job", "lookup" or "accepted"), each on its own line,
-- written together.
function Recorder:done(ids, how, job_id)
  if #ids == 0 then return true end
  local out = {}
  for i, id in ipairs(ids) do
    local changed = changed_by(self, how, id)
    if changed == nil then changed = cjson.null end
    out[i] = self:line("outcome", { id = id, outcome = self.action.done, changed = changed, how = how,
                                    job_id = job_id })
  end
  return self.writer:write(table.concat(out))
end

--- A failure (the ledger's: code, message, status, request_id, errorcode_message).
function Recorder:failed(f)
  local changed = DOUBT[f.code] and cjson.null or false
  return self.writer:write(self:line("outcome", { id = f.id, outcome = "failed", changed = changed, code = f.code,
    message = f.message, status = f.status, request_id = f.request_id, errorcode_message = f.errorcode_message }))
end

--- Servers not acted on, with why (`{id, reason, status}`): never changed by this operation.
function Recorder:skipped(list)
  if #list == 0 then return true end
  local out = {}
  for i, s in ipairs(list) do
    out[i] = self:line("outcome", { id = s.id, outcome = "skipped", changed = false, reason = s.reason,
                                    server_status = s.status })
  end
  return self.writer:write(table.concat(out))
end

--- The last line of a target: the result's counts, or why there is none.
function Recorder:finish(res, err)
  local fields = {}
  if res then
    fields.ok, fields.requested = res.ok, res.requested
    fields[self.action.done] = #(res[self.action.done] or {})
    fields.failed, fields.skipped = #(res.failed or {}), #(res.skipped or {})
    fields.joined = res.joined and #res.joined or nil
    fields.dry_run, fields.cancelled = res.dry_run or nil, res.cancelled or nil
    fields.shutdown = res.shutdown or nil
  end
  if err then
    fields.ok = false
    fields.error = { code = err.code, message = err.message, kind = err.kind, status = err.status,
                     request_id = err.request_id }
    fields.interrupted = err.kind == "interrupted" or nil
    fields.signal = err.signal
  end
  return self.writer:write(self:line("end", fields))
end

--- What a filter chose, as plain values (a `where` function is shown as true).
function M.describe_filter(f)
  if type(f) ~= "table" then return nil end
  local out = {}
  for k, v in pairs(f) do
    if k == "where" then out.where = true
    elseif k == "exclude" and type(v) == "table" then out.exclude = #v
    elseif type(v) == "string" or type(v) == "boolean" then out[k] = v
    elseif type(v) == "table" then
      local t = {}
      for kk, vv in pairs(v) do
        if type(vv) == "string" then
          if type(kk) == "number" then t[#t + 1] = vv else t[#t + 1] = kk .. "=" .. vv end
        elseif vv == true and type(kk) == "string" then
          t[#t + 1] = kk -- tags = { env = true }: the key alone
        end
      end
      table.sort(t)
      out[k] = t
    end
  end
  return out
end

return M
