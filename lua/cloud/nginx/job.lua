--- A stop that runs once across the workers of nginx, across reloads, binary upgrades and
-- dead workers: `require("cloud.nginx").job{...}` (docs/openresty.md, "Once across workers").
--
-- Everything that must outlive a worker or a master is on disk, in the job's directory:
-- `<key>.lock`, an flock held by the worker running the job (the kernel drops it the
-- moment that worker dies, however it dies: that is the job's lease); `<key>.<n>.record`,
-- the write-ahead record of attempt n (docs/records.md); and `<key>.result`, the job's
-- outcome, whose presence means done. The shared dictionary only caches "done" so that
-- the other workers need not look at the disk.
--
-- An attempt that finds records of earlier attempts (their worker died, or quit in the
-- middle) resumes: every server an earlier record names is never sent a stop again (its
-- job, a lookup and the state before tell what became of it, as a restore's classification
-- does), and the stop runs again for the rest only.
-- @module cloud.nginx.job
local actions = require "cloud.op.actions"
local check = require "cloud.base.check"
local core = require "cloud.core"
local defaults = require "cloud.base.defaults".stop
local dict = require "cloud.nginx.dict"
local errors = require "cloud.errors"
local json = require "cloud.base.json"
local phase = require "cloud.nginx.phase"
local record_read = require "cloud.record.read"
local restore = require "cloud.record.restore"
local run = require "cloud.op.run"

local M = {}

local WHERE = "cloud.nginx.job"
local OPTIONS = { dict = true, key = true, dir = true, ttl = true, client = true, service = true, stop = true }
-- Every key the job keeps in its dictionary starts so; any other key means the dictionary
-- is shared, and another writer could evict the marks.
M.PREFIX = "cloud.job:"
-- The result file of a job, at most.
local MAX_RESULT = 64 * 1024 * 1024

local function check_opts(opts)
  if type(opts) ~= "table" then errors.argument(WHERE, nil, "takes one table of options") end
  check.known(WHERE, opts, OPTIONS)
  local o = {
    dict = check.string(WHERE, opts, "dict", true),
    key = check.string(WHERE, opts, "key", true),
    dir = check.string(WHERE, opts, "dir", true),
    ttl = check.number(WHERE, opts, "ttl", nil, 0),
    service = check.oneof(WHERE, opts, "service", nil, { "ecs", "bms" }),
  }
  -- The key names files: letters, digits and . _ - only, not starting with a dot.
  if #o.key > 128 or not o.key:match("^[%w_-][%w._-]*$") then
    errors.argument(WHERE, "key", "must be 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'")
  end
  if not o.ttl or o.ttl <= 0 or o.ttl == math.huge then
    errors.argument(WHERE, "ttl", "must be a positive number of seconds")
  end
  if not o.service then errors.argument(WHERE, "service", "must be 'ecs' or 'bms'") end
  local c = opts.client
  if type(c) ~= "table" or type(c["stop_" .. o.service]) ~= "function" or type(c.operation) ~= "function" then
    errors.argument(WHERE, "client", "must be a client from cloud.new")
  end
  o.client = c
  if type(opts.stop) ~= "table" then errors.argument(WHERE, "stop", "must be a table of the stop's options") end
  if opts.stop.record ~= nil then
    errors.argument(WHERE, "stop.record", "is the job's own: its records are in 'dir'")
  end
  o.stop = opts.stop
  o.base = o.dir:gsub("/+$", "") .. "/" .. o.key
  return o
end

-- Anything at the path counts (stat, no open: a FIFO planted there must not block).
local function exists(path)
  return core.file_mode(path) ~= nil
end

-- The job's result, when it has ended (nil else). A result file cut short (a crash while
-- it was renamed into place cannot leave one; a disk error could) counts as absent.
local function read_result(o)
  local text = core.read_file(o.base .. ".result", MAX_RESULT)
  local doc = text and json.decode(text)
  if type(doc) == "table" then return doc end
end

-- The records of earlier attempts: <key>.1.record, <key>.2.record, ...
local function records(o)
  local list = {}
  while exists(("%s.%d.record"):format(o.base, #list + 1)) do
    list[#list + 1] = ("%s.%d.record"):format(o.base, #list + 1)
  end
  return list
end

-- What the summary keeps of a skip or a failure.
local function failure(id, code, message)
  return { id = id, code = code, message = message }
end

-- A target holding only the servers `ids` of `t`, to settle them again.
local function subset(t, ids)
  local sub = { order = ids, servers = {} }
  for k, v in pairs(t) do if sub[k] == nil then sub[k] = v end end
  for _, id in ipairs(ids) do sub.servers[id] = t.servers[id] end
  return sub
end

-- Settles one record's target into `summary`. A server whose stop call never answered and
-- that is still being stopped is looked at again, each poll interval until wait_timeout.
-- One its call never reached (running, nothing under way) is looked at again until
-- `resend_grace` has passed, as a stop treats a call whose answer was lost; still
-- untouched then, it is taken off `named`, so this attempt's stop sends it.
local function settle_target(op, t, so, summary, named)
  local now = ngx.now()
  local deadline, resend_at = now + so.wait_timeout, now + so.resend_grace
  while true do
    local stopped, skipped = restore.settle(op, t, so)
    for _, id in ipairs(stopped) do summary.stopped[#summary.stopped + 1] = id end
    local again = {}
    now = ngx.now()
    for _, s in ipairs(skipped) do
      if (s.under_way or s.not_reached and now < resend_at) and now < deadline then
        again[#again + 1] = s.id
      elseif s.not_reached and now >= resend_at then
        named[s.id] = nil
      elseif s.not_reached then
        summary.failed[#summary.failed + 1] = failure(s.id, "cloud.unconfirmed", s.reason
          .. "; wait_timeout ended before the cloud was given resend_grace to show it took the call")
      elseif s.error then
        summary.failed[#summary.failed + 1] = failure(s.id, s.error.code, s.reason)
      else
        summary.skipped[#summary.skipped + 1] = { id = s.id, reason = s.reason }
      end
    end
    if #again == 0 then return end
    ngx.sleep(so.poll_interval)
    ngx.update_time()
    t = subset(t, again)
  end
end

-- Settles the servers of the earlier attempts' records into `summary` and `named` (every
-- id a record names: never to be sent a stop again). Returns true, or nil and an error.
-- The ids of a record's target that a call may have reached (named by an intent or an
-- answer) or that are recorded done: the others were never sent, and this attempt's stop
-- chooses them again, as if the earlier attempt had not been.
local function reached(t)
  local ids = {}
  for _, id in ipairs(t.order) do
    local s = t.servers[id]
    if s.sent or s.job_id or s.outcome == actions.stop.done then ids[#ids + 1] = id end
  end
  return ids
end

local function settle(o, paths, summary, named)
  local so = { service = o.service, poll_interval = o.stop.poll_interval or defaults.poll_interval,
    wait_timeout = o.stop.wait_timeout or defaults.wait_timeout }
  return o.client:operation(WHERE, function(op)
    local ready, not_ready = op:ready()
    if not ready then return nil, not_ready end
    so.resend_grace = o.stop.resend_grace or run.resend_grace(op.policy)
    for _, path in ipairs(paths) do
      local rd = record_read.read(path)
      -- A record without a whole header line was cut before any call could leave.
      local t = rd and restore.target_for(op, rd)
      local ids = t and reached(t) or {}
      if #ids > 0 then
        for _, id in ipairs(ids) do named[id] = true end
        settle_target(op, subset(t, ids), so, summary, named)
      end
    end
    return true
  end)
end

-- The stop's options for this attempt: its own record, and every server an earlier record
-- names left out.
local function stop_options(o, attempt, named)
  local s = {}
  for k, v in pairs(o.stop) do s[k] = v end
  s.record = ("%s.%d.record"):format(o.base, attempt)
  if next(named) == nil then return s end
  local exclude = {}
  local given = s.filter and s.filter.exclude or s.exclude
  for _, id in ipairs(given or {}) do exclude[#exclude + 1] = id end
  for id in pairs(named) do exclude[#exclude + 1] = id end
  if s.filter then
    local f = {}
    for k, v in pairs(s.filter) do f[k] = v end
    f.exclude = exclude
    s.filter = f
  else
    s.exclude = exclude
  end
  return s
end

-- Adds a stop's result to the summary; the skips "excluded" of servers settled from an
-- earlier record are theirs, already in.
local function merge(summary, res, named)
  for _, id in ipairs(res.stopped or {}) do summary.stopped[#summary.stopped + 1] = id end
  for _, f in ipairs(res.failed or {}) do summary.failed[#summary.failed + 1] = failure(f.id, f.code, f.message) end
  for _, s in ipairs(res.skipped or {}) do
    if not (s.reason == "excluded" and named[s.id]) then
      summary.skipped[#summary.skipped + 1] = { id = s.id, reason = s.reason }
    end
  end
end

-- Writes the result durably under another name, then renames it into place: a reader
-- sees no result or a whole one.
local function write_result(o, summary, attempt)
  local tmp = ("%s.%d.result-new"):format(o.base, attempt)
  os.remove(tmp) -- left by an attempt that died between writing and renaming
  local f, why = core.create_file(tmp)
  local ok = f and f:write(json.encode(summary) .. "\n", true)
  if ok then ok, why = f:close() elseif f then f:close() end
  if ok then ok, why = os.rename(tmp, o.base .. ".result") end
  if not ok then
    return nil, errors.new("cloud.job", "cannot write the job's result: " .. tostring(why), nil, nil, "config")
  end
  return true
end

-- The job, with its lock held.
local function locked(o, shared)
  local done = read_result(o)
  if done then return "done", done end
  local earlier = records(o)
  local attempt = #earlier + 1
  local summary = { key = o.key, service = o.service, attempts = attempt, stopped = {}, failed = {}, skipped = {},
                    records = {} }
  local named = {}
  if #earlier > 0 then
    local ok, err = settle(o, earlier, summary, named)
    if not ok then return nil, err end -- nothing sent; the next call tries again
  end
  local res, err = o.client["stop_" .. o.service](o.client, stop_options(o, attempt, named))
  -- Cut short by a shutdown: the lease lapses with this worker, and the next resumes.
  if ngx.worker.exiting() and not (res and res.ok) then return "interrupted" end
  -- Refused for its setup (no credentials, a record that cannot be created) before any
  -- call: not an end, the next call tries again.
  if err and not err.result and errors.kind(err) == "config" then return nil, err end
  merge(summary, res or (err and err.result) or {}, named)
  for n = 1, attempt do summary.records[n] = ("%s.%d.record"):format(o.base, n) end
  if err then summary.error, summary.code = tostring(err), err.code end
  summary.ok = not err and #summary.failed == 0
  local written, werr = write_result(o, summary, attempt)
  if not written then return nil, werr end
  shared:safe_add(M.PREFIX .. o.key, true, o.ttl)
  return "ran", summary
end

--- Runs a stop once across all the workers of nginx, and resumes it when its worker died.
-- Call it from a timer of every worker (`ngx.timer.every`), each time it is due: one
-- worker runs the stop while the others are told "running"; once it has ended every
-- caller is told "done", across reloads, binary upgrades (USR2) and restarts, as long as
-- the result file stays in `dir`.
-- @tparam table opts
--   `dict`: a `lua_shared_dict` for the jobs alone (a dictionary holding other keys is refused);
--   `key`: the job's name (letters, digits, `.`, `_`, `-`), which names its files;
--   `dir`: an existing directory the workers may write, kept across restarts;
--   `ttl`: seconds the dictionary remembers "done" (the result file stays until removed);
--   `client`: a client from `cloud.new`; `service`: `"ecs"` or `"bms"`;
--   `stop`: the options of `client:stop_<service>` (`ids` or `filter`, ...), without `record`.
-- @treturn string `"ran"` (this call ran or resumed it to its end), `"done"` (it had ended),
--   `"running"` (another worker holds it), or `"interrupted"` (this worker is shutting down:
--   the next worker resumes it)
-- @treturn[opt] table the job's result for "ran" and "done": `ok`, `stopped` (ids),
--   `failed` ({id, code, message}), `skipped` ({id, reason}), `attempts`, `records`,
--   `error` and `code` when the stop itself failed
-- @return[2] nil
-- @treturn[2] Error err when the job's files cannot be used (code `cloud.job`, kind `config`),
--   the stop was refused for its setup before any call (kind `config`), or the project of a
--   resumed job cannot be found; the next call tries again
-- @raise an `Error` of kind `argument` for a bad option, a shared dictionary, or outside nginx
function M.run(opts)
  local o = check_opts(opts)
  if not phase.in_nginx() then errors.argument(WHERE, nil, "needs nginx (there is no ngx API here)") end
  local shared = dict.own(WHERE, o.dict, M.PREFIX, "the jobs")
  if shared:get(M.PREFIX .. o.key) then return "done", read_result(o) end
  if ngx.worker.exiting() then return "interrupted" end
  local lock, why = core.lock_file(o.base .. ".lock", ("pid %d\n"):format(ngx.worker.pid()))
  if lock == false then return "running" end
  if not lock then
    return nil, errors.new("cloud.job", "cannot take the job's lock: " .. tostring(why), nil, nil, "config")
  end
  local ok, state, summary = pcall(locked, o, shared)
  lock:release()
  if not ok then
    -- A shutdown may cut the stop short with a raise: the next worker resumes it.
    if ngx.worker.exiting() or errors.is_interruption(state) then return "interrupted" end
    error(state, 0)
  end
  return state, summary
end

return M
