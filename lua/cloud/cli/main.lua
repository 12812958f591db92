--- cloud-stop: choose servers, confirm, stop, report. Every outcome is an exit status:
-- 0 all stopped, 1 some failed, 2 usage error or refusal, 3 nothing could be attempted
-- (or an internal error: a bug, printed in full).
-- @module cloud.cli.main
local cloud = require "cloud"
local core = require "cloud.core"
local args = require "cloud.cli.args"
local help = require "cloud.cli.help"
local idfile = require "cloud.cli.idfile"
local jsonout = require "cloud.cli.jsonout"
local progress = require "cloud.cli.progress"
local summary = require "cloud.cli.summary"
local tty = require "cloud.cli.tty"

local unpack = table.unpack or unpack

local M = {}

--- Up to this many servers chosen by filter are stopped without asking.
M.CONFIRM_ABOVE = 5
local SAMPLE = 10

local EXIT = { ok = 0, failed = 1, usage = 2, nothing = 3, internal = 3, interrupted = 130 }

-- How the library's argument errors begin (cloud.new, client:stop_ecs/_bms and the filter
-- they compile): a mistake in what the user asked, naming the option.
local ARGUMENT_ERRORS = { "^cloud%.new[ :]", "^client:stop_%a+: ", "^cloud%.filter%.%a+: " }

-- A raised library error carries the caller's position ("lua/cloud/cli/main.lua:80: ");
-- the user needs only the message, which names the option.
local function message_of(e)
  return (tostring(e):gsub("^[^\n]-:%d+: ", ""))
end

local function is_argument_error(text)
  for _, p in ipairs(ARGUMENT_ERRORS) do
    if text:find(p) then return true end
  end
  return false
end

local function usage_error(io_, text)
  io_.stderr:write("cloud-stop: ", text, "\nTry 'cloud-stop --help'.\n")
  return EXIT.usage
end

-- The traceback is taken where the error was raised, while the stack is still there.
local function traced(e)
  return { e = e, trace = debug.traceback(tostring(e), 2) }
end

-- A raise: Ctrl-C (130), the library refusing an argument (exit 2), or anything else,
-- which is a bug: printed in full, with where it happened.
local function raised(io_, r)
  if type(r) ~= "table" then r = { e = r, trace = tostring(r) } end -- the handler itself failed
  local text = message_of(r.e)
  if text:match("interrupted!?$") then
    io_.stderr:write("\ncloud-stop: interrupted; stops already accepted by the cloud may still complete\n")
    return EXIT.interrupted
  end
  if is_argument_error(text) then
    io_.stderr:write("cloud-stop: ", text, "\n")
    return EXIT.usage
  end
  io_.stderr:write("cloud-stop: internal error (a bug; please report it): ", r.trace, "\n")
  return EXIT.internal
end

-- Calls the library: true, its results; or false, the exit status of what it raised.
-- (Lua 5.1's xpcall passes no arguments on: a closure carries them.)
local function call(io_, fn, ...)
  local n, args = select("#", ...), { ... }
  local ok, res, err = xpcall(function() return fn(unpack(args, 1, n)) end, traced)
  if ok then return true, res, err end
  return false, raised(io_, res)
end

local function empty_result(dry_run)
  return { ok = false, requested = 0, stopped = {}, failed = {}, jobs = {}, selected = {},
           skipped = {}, dry_run = dry_run }
end

-- Nothing could be attempted: say why on stderr, and with --json also as a document.
local function nothing(io_, o, err)
  summary.error(io_.stderr, err)
  if o.json then
    local doc = empty_result(o.dry_run or false)
    doc.error = { code = err.code, message = err.message, status = err.status, request_id = err.request_id }
    io_.stdout:write(jsonout.encode(doc), "\n")
  end
  return EXIT.nothing
end

local function append(dst, src)
  for _, v in ipairs(src) do dst[#dst + 1] = v end
  return dst
end

local function ids_of(selected)
  local ids = {}
  for i, s in ipairs(selected) do ids[i] = s.id end
  return ids
end

-- Ids from the command line and --ids-file, minus --exclude-file (reported as skipped).
local function gather_ids(io_, o, exclude_list)
  local exclude = {}
  for _, id in ipairs(exclude_list) do exclude[id] = true end
  local ids, seen = {}, {}
  local function add(id)
    if not seen[id] then seen[id] = true ids[#ids + 1] = id end
  end
  for _, id in ipairs(o.ids) do add(id) end
  if o.ids_file then
    local list, err = idfile.read(o.ids_file, io_.stdin)
    if not list then return nil, err end
    for _, id in ipairs(list) do add(id) end
    if #ids == 0 then return nil, "no server ids in " .. (o.ids_file == "-" and "stdin" or o.ids_file) end
  end
  local keep, excluded = {}, {}
  for _, id in ipairs(ids) do
    if exclude[id] then excluded[#excluded + 1] = { id = id, reason = "excluded" }
    else keep[#keep + 1] = id end
  end
  return keep, excluded
end

local function filter_of(o, exclude_list)
  local f = {}
  if o.name then f.name = o.name end
  if #o.status == 1 then f.status = o.status[1] elseif #o.status > 1 then f.status = o.status end
  if #o.tags > 0 then f.tags = o.tags end
  if exclude_list and #exclude_list > 0 then f.exclude = exclude_list end
  return f
end

local function output(io_, o, res, elapsed)
  if o.json then
    io_.stdout:write(jsonout.encode(res), "\n")
  elseif res.dry_run then
    summary.dry_run(io_.stdout, res, o.service)
  else
    summary.result(io_.stdout, res, o.service, elapsed, o.no_wait)
  end
  io_.stdout:flush()
end

-- Stopping by id, a server asked for and skipped (protected) was not stopped: that is a
-- failure of the request. Chosen by filter, skipping is the filter working as meant.
local function exit_for(o, res)
  if #res.failed > 0 then return EXIT.failed end
  if not o.by_filter then
    for _, s in ipairs(res.skipped) do
      if s.reason ~= "excluded" then return EXIT.failed end
    end
  end
  return EXIT.ok
end

-- Sets ok from the exit status, shows the result; returns the exit status.
local function report(io_, o, bar, res)
  local code = exit_for(o, res)
  res.ok = code == EXIT.ok
  bar:finish(res)
  output(io_, o, res, bar:elapsed())
  return code
end

local function confirm(io_, o, selected, skipped, bar)
  if o.yes or not o.by_filter or #selected <= M.CONFIRM_ABOVE then return true end
  if not (io_.isatty(0) and io_.isatty(2)) then
    io_.stderr:write(("cloud-stop: refusing to stop %d servers chosen by filter without confirmation:"
      .. " no terminal to ask on; check with --dry-run, then pass --yes\n"):format(#selected))
    return false
  end
  bar:clear()
  summary.sample(io_.stderr, selected, skipped, o.service, SAMPLE)
  local yes = tty.confirm(("Stop these %d %s servers?"):format(#selected, o.service:upper()),
    io_.stdin, io_.stderr)
  if not yes then io_.stderr:write("cloud-stop: not confirmed; nothing was stopped\n") end
  bar:restart()
  return yes
end

-- One library stop call. Returns the result, or nil and the exit status when nothing
-- could be attempted (said on stderr, and with --json as a document) or it raised.
local function stop_call(io_, o, client, bar, opts)
  opts.type, opts.on_progress = o.type, function(e) bar:event(e) end
  local ok, res, err = call(io_, client["stop_" .. o.service], client, opts)
  if not ok then bar:clear() return nil, res end
  if not res then bar:clear() return nil, nothing(io_, o, err) end
  -- res.error: a check before any stop failed (the protection tag), so nothing was sent.
  if res.error then bar:clear() return nil, nothing(io_, o, res.error) end
  return res
end

-- The stop goes to exactly `ids` and is waited for as asked.
local function send(io_, o, client, bar, ids, max_servers)
  return stop_call(io_, o, client, bar, { ids = ids, max_servers = max_servers, wait = not o.no_wait,
    poll_interval = o.poll_interval, wait_timeout = o.wait_timeout })
end

-- By id there is nothing to confirm, so one call both checks the protection tag and stops.
local function stop_by_id(io_, o, client, bar, ids, excluded)
  bar:set_phase("check", #ids)
  local res, code = send(io_, o, client, bar, ids, o.max_servers)
  if not res then return code end
  -- What was sent: the ids minus the protected ones the library skipped.
  local skipped = {}
  for _, s in ipairs(res.skipped) do skipped[s.id] = true end
  res.selected = {}
  for _, id in ipairs(ids) do
    if not skipped[id] then res.selected[#res.selected + 1] = { id = id } end
  end
  res.requested = #res.selected
  append(res.skipped, excluded)
  res.dry_run = false
  return report(io_, o, bar, res)
end

-- A dry run to choose, then confirmation, then the stop of exactly the ids chosen. By id
-- only --dry-run comes here, and ends after the dry run.
local function choose_and_stop(io_, o, client, bar, ids, excluded, exclude_list)
  local choose = { dry_run = true, max_servers = o.max_servers }
  if o.by_filter then choose.filter = filter_of(o, exclude_list) else choose.ids = ids end
  bar:set_phase(o.by_filter and "list" or "check", ids and #ids or nil)
  local plan, code = stop_call(io_, o, client, bar, choose)
  if not plan then return code end
  if excluded then append(plan.skipped, excluded) end -- by id; a filter skipped them itself
  if o.dry_run then
    bar:finish()
    plan.dry_run = true
    output(io_, o, plan, bar:elapsed())
    return EXIT.ok
  end

  local selected = plan.selected
  if #selected == 0 then
    plan.dry_run = false
    return report(io_, o, bar, plan)
  end
  if not confirm(io_, o, selected, plan.skipped, bar) then return EXIT.usage end

  -- The stop goes to the ids that were listed (and confirmed), not to the filter again:
  -- a server created or renamed since cannot slip in. The library looks them up once more
  -- and still skips any that became protected meanwhile.
  bar:set_phase("check", #selected)
  local res
  res, code = send(io_, o, client, bar, ids_of(selected))
  if not res then return code end
  res.selected = selected
  res.skipped = append(append({}, plan.skipped), res.skipped)
  res.dry_run = false
  return report(io_, o, bar, res)
end

--- The stop itself, with a client. Returns the exit status.
function M.stop(io_, o, client, bar, ids, excluded, exclude_list)
  if not o.by_filter and #ids == 0 then
    -- Every id was excluded: nothing to ask the cloud (the library refuses an empty list).
    bar:finish()
    local res = empty_result(o.dry_run or false)
    res.ok, res.skipped = true, excluded
    output(io_, o, res, bar:elapsed())
    return EXIT.ok
  end
  if not o.by_filter and not o.dry_run then return stop_by_id(io_, o, client, bar, ids, excluded) end
  return choose_and_stop(io_, o, client, bar, ids, excluded, exclude_list)
end

local function run(argv, io_)
  local o, perr = args.parse(argv)
  if not o then return usage_error(io_, perr) end
  if o.help then io_.stdout:write(help.TEXT) return EXIT.ok end
  if o.version then io_.stdout:write("cloud-stop ", cloud.VERSION, "\n") return EXIT.ok end

  local exclude_list = {}
  if o.exclude_file then
    local err
    exclude_list, err = idfile.read(o.exclude_file, io_.stdin)
    if not exclude_list then return usage_error(io_, "--exclude-file: " .. err) end
  end
  local ids, excluded
  if not o.by_filter then
    ids, excluded = gather_ids(io_, o, exclude_list)
    if not ids then return usage_error(io_, excluded) end
  end

  local stderr_tty = io_.isatty(2)
  local bar = progress.new{ out = io_.stderr, tty = stderr_tty, service = o.service, clock = io_.clock,
    width = stderr_tty and tty.columns(80) or 80, verbose = o.verbose }

  local ok, client, cerr = call(io_, cloud.new, {
    region = o.region, project_id = o.project_id, concurrency = o.concurrency,
    endpoints = o.endpoint and { [o.service] = o.endpoint } or nil,
    logger = function(line) bar:log(line) end,
  })
  if not ok then return client end
  if not client then return nothing(io_, o, cerr) end
  local code = M.stop(io_, o, client, bar, ids, excluded, exclude_list)
  client:close()
  return code
end

--- Runs cloud-stop on the process's own stdin, stdout and stderr.
-- @tparam table argv the arguments after the program name
-- @treturn number the exit status
function M.run(argv)
  local io_ = { stdin = io.stdin, stdout = io.stdout, stderr = io.stderr, isatty = tty.isatty,
                clock = core.now }
  -- Whatever raises outside a library call is a bug (or Ctrl-C): still one exit status.
  local ok, code = xpcall(function() return run(argv, io_) end, traced)
  if ok then return code end
  return raised(io_, code)
end

return M
