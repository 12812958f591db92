--- Records: a JSON Lines file written as an operation goes (docs/records.md). A writer owns
-- the file; each target of an operation (one for a client, several for a fleet) writes
-- through its own recorder, which puts the target's region and project on every line.
-- Every line is flushed as it is written, so a process killed half-way leaves a record
-- that reads up to that point. Secrets never reach a record: the caller is the AK's first
-- characters only.
-- @module cloud.record
local core = require "cloud.core"
local cjson = require("cjson").new()
local errors = require "cloud.errors"
local json = require "cloud.json"

local M = {}

M.FORMAT = "cloud-record/1"
-- Failures that leave a server's fate open: the action may still have happened.
local DOUBT = { ["cloud.unconfirmed"] = true, ["cloud.wait_timeout"] = true, ["cloud.interrupted"] = true }
M.DOUBT = DOUBT

local function iso(t)
  local s = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. (".%03dZ"):format(math.floor((t - s) * 1000))
end

local Writer = {}
Writer.__index = Writer

--- Opens a new record file at `path`. A file that exists is refused (a record is one
-- run's audit trail: it is never overwritten nor mixed with another run's). Returns the
-- writer, or nil and an error of kind refused (the file exists) or config (cannot write).
function M.open(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return nil, errors.new("cloud.record_exists", ("record %s already exists; a record is never overwritten:"
      .. " name a new file (e.g. with the date and time)"):format(path))
  end
  local err
  f, err = io.open(path, "wb")
  if not f then return nil, errors.new("cloud.record", "cannot write the record: " .. tostring(err)) end
  return setmetatable({ f = f, path = path }, Writer)
end

-- Writes whole lines and flushes them: what is written survives the process.
function Writer:write(text)
  if not self.f then return end
  self.f:write(text)
  self.f:flush()
end

function Writer:close()
  if self.f then self.f:close() end
  self.f = nil
end

local Recorder = {}
Recorder.__index = Recorder

--- A recorder for one target's operation. `target`: region (may be nil), project_id;
-- `action`: a table of cloud.actions; `selection`: "filter", "ids" or "record" (which
-- decides what a lookup's confirmation says about who changed a server).
function Writer:recorder(target, action, selection)
  local stamp = ('"project_id":%s,"region":%s'):format(cjson.encode(target.project_id),
    target.region and cjson.encode(target.region) or "null")
  return setmetatable({ writer = self, stamp = stamp, target = target, action = action,
                        selection = selection, done_name = cjson.encode(action.done) }, Recorder)
end

-- One line from a table: the stamp and the time put in front of its own fields.
function Recorder:line(kind, fields)
  local body = json.encode(fields)
  local head = ('{"type":%s,"time":"%s",%s'):format(cjson.encode(kind), iso(core.time()), self.stamp)
  if body == "{}" then return head .. "}\n" end
  return head .. "," .. body:sub(2) .. "\n"
end

--- The header: what runs, where, on whose behalf, chosen how. `h` holds the fields of
-- docs/records.md (version, service, filter or ids, caller, endpoint, options).
function Recorder:header(h)
  local fields = { format = M.FORMAT, tool = "cloud", action = self.action.name, selection = self.selection }
  for k, v in pairs(h) do fields[k] = v end
  self.writer:write(self:line("header", fields))
end

--- A batch the cloud accepted: its job, the request that was answered, the ids.
function Recorder:batch(job_id, request_id, ids)
  self.writer:write(self:line("batch", { job_id = job_id, request_id = request_id, ids = ids,
                                          count = #ids }))
end

-- Whether this operation changed a server the action reached by `how`: a job's sub-job
-- says so; a lookup does when the server was chosen in another state (by filter, or from a
-- record); an accepted call not waited for does not yet.
local function changed_by(self, how)
  if how == "job" then return true end
  if how == "lookup" then
    if self.selection == "ids" then return nil end
    return true
  end
  return nil
end

--- Servers the action reached (`how`: "job", "lookup" or "accepted"), each on its own line,
-- written together.
function Recorder:done(ids, how, job_id)
  if #ids == 0 then return end
  local changed = changed_by(self, how)
  local tail = (',"outcome":%s,"changed":%s,"how":"%s"%s}\n'):format(self.done_name,
    changed == nil and "null" or tostring(changed), how, job_id and (',"job_id":' .. cjson.encode(job_id)) or "")
  local head = ('{"type":"outcome","time":"%s",%s,"id":'):format(iso(core.time()), self.stamp)
  local out = {}
  for i, id in ipairs(ids) do out[i] = head .. cjson.encode(id) .. tail end
  self.writer:write(table.concat(out))
end

--- A failure (the ledger's: code, message, status, request_id).
function Recorder:failed(f)
  local changed = DOUBT[f.code] and cjson.null or false
  self.writer:write(self:line("outcome", { id = f.id, outcome = "failed", changed = changed, code = f.code,
    message = f.message, status = f.status, request_id = f.request_id }))
end

--- Servers not acted on, with why (`{id, reason, status}`): never changed by this operation.
function Recorder:skipped(list)
  if #list == 0 then return end
  local out = {}
  for i, s in ipairs(list) do
    out[i] = self:line("outcome", { id = s.id, outcome = "skipped", changed = false, reason = s.reason,
                                    server_status = s.status })
  end
  self.writer:write(table.concat(out))
end

--- The last line of a target: the result's counts, or why there is none.
function Recorder:finish(res, err)
  local fields = {}
  if res then
    fields.ok, fields.requested = res.ok, res.requested
    fields[self.action.done] = #(res[self.action.done] or {})
    fields.failed, fields.skipped = #(res.failed or {}), #(res.skipped or {})
    fields.dry_run, fields.cancelled = res.dry_run or nil, res.cancelled or nil
  end
  if err then
    fields.ok = false
    fields.error = { code = err.code, message = err.message, kind = err.kind, status = err.status,
                     request_id = err.request_id }
    fields.interrupted = err.kind == "interrupted" or nil
  end
  self.writer:write(self:line("end", fields))
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
        end
      end
      table.sort(t)
      out[k] = t
    end
  end
  return out
end

return M
