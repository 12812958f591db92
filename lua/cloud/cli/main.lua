--- cloud-stop and cloud-start: choose servers (or read a record), confirm, act, report.
-- One code for both commands, told apart by their words (cloud.cli.words). Every outcome
-- is an exit status: 0 all done, 1 some failed, 2 usage error or refusal, 3 nothing could
-- be attempted (or an internal error: a bug, printed in full); interrupted, 128 + the
-- signal's number: 130 for Ctrl-C (SIGINT), 143 for SIGTERM, 129 for SIGHUP.
-- @module cloud.cli.main
local cloud = require "cloud"
local core = require "cloud.core"
local args = require "cloud.cli.args"
local cli_fleet = require "cloud.cli.fleet"
local help = require "cloud.cli.help"
local idfile = require "cloud.cli.idfile"
local errors = require "cloud.errors"
local progress = require "cloud.cli.progress"
local record_read = require "cloud.record.read"
local summary = require "cloud.cli.summary"
local tsv = require "cloud.cli.tsv"
local tty = require "cloud.cli.tty"
local words = require "cloud.cli.words"

local unpack = table.unpack or unpack

local M = {}

--- Up to this many servers chosen by filter (or a record) are acted on without asking.
M.CONFIRM_ABOVE = 5
local SAMPLE = 10

local EXIT = { ok = 0, failed = 1, usage = 2, nothing = 3, internal = 3, record = 4, interrupted = 130 }
M.EXIT = EXIT

-- The exit status of each kind of library error (errors.lua): the caller's mistake and a
-- refusal are the user's to change; the rest is the world's.
local EXIT_OF_KIND = { argument = EXIT.usage, refused = EXIT.usage, config = EXIT.nothing,
                       transport = EXIT.nothing, cloud = EXIT.nothing, record = EXIT.record }
M.EXIT_OF_KIND = EXIT_OF_KIND

-- The flag that sets each library option, so an argument error names what the user typed.
local FLAG_OF = {
  type = "--type", max_servers = "--max-servers", concurrency = "--concurrency",
  poll_interval = "--poll-interval", wait_timeout = "--wait-timeout", region = "--region",
  servers_per_minute = "--servers-per-minute",
  project_id = "--project-id", ["endpoints.ecs"] = "--endpoint", ["endpoints.bms"] = "--endpoint",
  ["filter.name"] = "--name", ["filter.status"] = "--status", ["filter.tags"] = "--tag",
  exclude = "--exclude-file", ids = "the server ids", record = "--record",
  ca_file = "--ca-file", verify_tls = "--no-verify-tls", proxy = "--proxy", timeout = "--timeout",
  connect_timeout = "--connect-timeout", attempts = "--retries", ["endpoints.iam"] = "--iam-endpoint",
  credentials = "--credentials", enterprise_project_id = "--enterprise-project-id",
  project_id_check = "--no-project-id-check",
  profile = "--profile",
}
-- cloud-start --from-record: the restore's `record` is the record read, its own is written.
local FLAG_OF_RESTORE = setmetatable({ record = "--from-record", write_record = "--record" }, { __index = FLAG_OF })

--- A library text for a CLI user: the opt-out it names as the flag that sets it.
function M.cli_words(text)
  return (tostring(text):gsub("project_id_check = false", "--no-project-id-check"))
end

--- What an argument error says to a CLI user: the flag in place of the library option
-- ("--type must be one of SOFT, HARD (got GENTLE)"), from the error's fields, never its text.
-- `restoring`: the call was a restore (cloud-start --from-record).
function M.argument_message(e, restoring)
  local flags = restoring and FLAG_OF_RESTORE or FLAG_OF
  local field = e.field
  if field then
    local base, index = field:match("^([%w_.]+)%[(%d+)%]$")
    if base and flags[base] then return ("server id #%s %s"):format(index, e.problem) end
    if flags[field] then return flags[field] .. " " .. M.cli_words(e.problem) end
  end
  return M.cli_words(e.message)
end

local function usage_error(io_, text)
  local p = io_.w.program
  io_.stderr:write(p, ": ", text, "\nTry '", p, " --help'.\n")
  return EXIT.usage
end

-- The traceback is taken where the error was raised, while the stack is still there.
local function traced(e)
  return { e = e, trace = debug.traceback(tostring(e), 2) }
end
M.traced = traced

--- The exit status of an interruption: 128 + the trapped signal's number, else Ctrl-C's 130;
-- and the signal's name, if any.
function M.interrupted_status()
  local signal, number = core.caught_signal()
  return signal and 128 + number or EXIT.interrupted, signal
end

-- A word for the shell: quoted unless it is plainly safe.
local function shell_word(s)
  if s:match("^[%w%._/%-:+=@,]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- After a stop that wrote a record: on stderr (and so in a cron job's log), the command
-- that undoes it.
function M.undo_hint(io_, o)
  if io_.w.action ~= "stop" or not o or not o.record or o.dry_run then return end
  io_.stderr:write(("%s: record %s; to undo: cloud-start --from-record %s --yes\n"):format(io_.w.program, o.record,
    shell_word(o.record)))
end

-- An interrupted run prints what it knows: the calls already accepted may still complete.
-- Ctrl-C, or SIGTERM or SIGHUP (trapped by M.run): the exit status says which, as a shell
-- reports a process killed by it.
local function interrupted(io_, o, partial)
  local status, signal = M.interrupted_status()
  io_.stderr:write(("\n%s: interrupted%s; %ss already accepted by the cloud may still complete\n")
    :format(io_.w.program, signal and " by " .. signal or "", io_.w.verb))
  if partial and o then
    if o.json then
      io_.stdout:write(cloud.to_json(partial), "\n")
    elseif o.output == "tsv" then
      tsv.write(io_.stdout, partial, io_.w)
    elseif partial.targets then
      summary.fleet(io_.stdout, partial, 0, true, io_.w, o.service)
    else
      summary.result(io_.stdout, partial, o.service, 0, true, io_.w)
    end
    io_.stdout:flush()
  end
  M.undo_hint(io_, o)
  return status
end

-- A raise: an interruption (130 for Ctrl-C), an argument error of the library (exit 2), or
-- anything else, which is a bug: printed in full, with where it happened.
local function raised(io_, o, r)
  if type(r) ~= "table" or r.trace == nil then r = { e = r, trace = tostring(r) } end -- the handler itself failed
  local e = r.e
  local kind = errors.kind(e)
  if kind == "interrupted" then return interrupted(io_, o, e.result) end
  -- The interpreter's own Ctrl-C outside a library call (lua.c raises this string).
  if errors.is_interruption(e) then return interrupted(io_, o) end
  if kind == "argument" then
    io_.stderr:write(io_.w.program, ": ", M.argument_message(e, o and o.by_record), "\n")
    return EXIT.usage
  end
  io_.stderr:write(io_.w.program, ": internal error (a bug; please report it): ", r.trace, "\n")
  return EXIT.internal
end

-- Lua 5.1's xpcall passes no arguments to the function: bind them in a closure.
local function call(io_, o, fn, ...)
  local n, argv = select("#", ...), { ... }
  local ok, res, err = xpcall(function() return fn(unpack(argv, 1, n)) end, traced)
  if ok then return true, res, err end
  return false, raised(io_, o, res)
end

local function empty_result(dry_run, done)
  return { ok = false, requested = 0, [done] = {}, failed = {}, jobs = {}, selected = {},
           skipped = {}, dry_run = dry_run }
end

-- Nothing could be attempted (or the library refused): say why on stderr, and with --json
-- also as a document. The exit status follows the error's kind.
local function nothing(io_, o, err)
  summary.error(io_.stderr, err, io_.w)
  if o.json then
    local doc = empty_result(o.dry_run or false, io_.w.done)
    doc.error = { code = err.code, message = err.message, status = err.status, request_id = err.request_id,
                  kind = err.kind }
    io_.stdout:write(cloud.to_json(doc), "\n")
  end
  return EXIT_OF_KIND[errors.kind(err) or "cloud"] or EXIT.nothing
end

-- Ids from the command line and --ids-file (an empty file or stdin: nothing to do).
local function gather_ids(io_, o)
  local ids, seen = {}, {}
  local function add(id)
    if not seen[id] then seen[id] = true ids[#ids + 1] = id end
  end
  for _, id in ipairs(o.ids) do add(id) end
  if o.ids_file then
    local list, err = idfile.read(o.ids_file, io_.stdin)
    if not list then return nil, err end
    for _, id in ipairs(list) do add(id) end
  end
  return ids
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
    io_.stdout:write(cloud.to_json(res), "\n")
  elseif o.output == "tsv" then
    tsv.write(io_.stdout, res, io_.w)
  elseif res.dry_run then
    summary.dry_run(io_.stdout, res, o.service, io_.w)
  else
    summary.result(io_.stdout, res, o.service, elapsed, o.no_wait, io_.w)
  end
  if res.hint then io_.stderr:write(io_.w.program, ": hint: ", res.hint, "\n") end
  io_.stdout:flush()
end

--- The record could not be written (disk full, I/O error): nothing more was sent. What was
-- sent is reported as any result, the error after it, and the undo hint (the record holds
-- every call that left). Exit 4.
function M.record_failed(io_, o, bar, err)
  bar:finish(err.result)
  output(io_, o, err.result, bar:elapsed())
  io_.stderr:write(io_.w.program, ": stopped sending: ", (errors.format(err):gsub("%c", " ")), "\n")
  M.undo_hint(io_, o)
  return EXIT.record
end

-- The library's result decides: ok is 0; anything else asked for and not stopped is 1.
local function exit_for(res)
  if res.ok then return EXIT.ok end
  return EXIT.failed
end

-- Asks before acting on more than CONFIRM_ABOVE servers chosen by filter or record. Called
-- by the library between choosing and sending (its `confirm` option).
local function confirmer(io_, o, bar)
  local w = io_.w
  return function(plan)
    local selected = plan.selected
    if #selected <= M.CONFIRM_ABOVE then return true end
    if not (io_.isatty(0) and io_.isatty(2)) then
      io_.stderr:write(("%s: refusing to %s %d servers chosen by %s without confirmation:"
        .. " no terminal to ask on; check with --dry-run, then pass --yes\n"):format(w.program, w.verb, #selected,
        o.by_record and "a record" or "filter"))
      return false
    end
    bar:clear()
    summary.sample(io_.stderr, selected, plan.skipped, o.service, SAMPLE, w)
    local yes = tty.confirm(("%s these %d %s servers?"):format(w.Verb, #selected, o.service:upper()),
      io_.stdin, io_.stderr)
    if not yes then io_.stderr:write(w.program, ": not confirmed; nothing was ", w.done, "\n") end
    bar:restart()
    return yes
  end
end

-- Where the ids came from, as the record's header says it.
local function ids_source(o)
  if o.ids_file == "-" then return "--ids-file - (stdin)" end
  if o.ids_file then return "--ids-file " .. o.ids_file .. (#o.ids > 0 and " and arguments" or "") end
  return "arguments"
end

--- The library options of this run: the action's own, its choice of servers, the record.
--- The client options the flags set, for one client or for every target of a fleet.
function M.client_options(o, bar)
  local endpoints
  if o.endpoint or o.iam_endpoint then endpoints = { [o.service] = o.endpoint, iam = o.iam_endpoint } end
  return {
    concurrency = o.concurrency, endpoints = endpoints, ca_file = o.ca_file, verify_tls = not o.no_verify_tls,
    timeout = o.timeout, connect_timeout = o.connect_timeout,
    retry = o.retries and { attempts = o.retries + 1 } or nil,
    -- Like curl and the other cloud CLIs: HTTPS_PROXY / NO_PROXY unless --proxy says otherwise.
    proxy = o.proxy or "env", credentials = o.credentials, enterprise_project_id = o.enterprise_project_id,
    project_id_check = not o.no_project_id_check,
    logger = function(line, level) bar:log(line, level) end,
    profile = o.profile, debug = o.debug or nil,
  }
end

function M.options(io_, o, bar, ids, exclude_list)
  local opts = { type = o.type, max_servers = o.max_servers, dry_run = o.dry_run or nil,
                 wait = not o.no_wait, poll_interval = o.poll_interval, wait_timeout = o.wait_timeout,
                 servers_per_minute = o.servers_per_minute, on_progress = bar and function(e) bar:event(e) end or nil }
  if o.by_record then
    opts.record, opts.write_record = o.from_record, o.record
    if not o.yes and not o.dry_run and bar then opts.confirm = confirmer(io_, o, bar) end
  elseif o.by_filter then
    opts.filter = filter_of(o, exclude_list)
    opts.record = o.record
    if not o.yes and not o.dry_run and bar then opts.confirm = confirmer(io_, o, bar) end
  else
    opts.ids = ids
    opts.record, opts.record_source = o.record, o.record and ids_source(o) or nil
    if #exclude_list > 0 then opts.exclude = exclude_list end
  end
  return opts
end

--- The action itself, with a client: one library call, whose result is the output.
-- Returns the exit status.
function M.act(io_, o, client, bar, ids, exclude_list)
  local opts = M.options(io_, o, bar, ids, exclude_list)
  local method
  if o.by_record then
    method = client.restore
    bar:set_phase("check")
  else
    method = client[io_.w.action .. "_" .. o.service]
    bar:set_phase(o.by_filter and "list" or "check", not o.by_filter and #ids or nil)
  end
  local ok, res, err = call(io_, o, method, client, opts)
  if not ok then bar:clear() return res end
  if not res and err.result then return M.record_failed(io_, o, bar, err) end
  if not res then bar:clear() return nothing(io_, o, err) end
  -- res.error: a check before any stop failed (the protection tag), so nothing was sent.
  if res.error then bar:clear() return nothing(io_, o, res.error) end
  if res.cancelled then bar:clear() return EXIT.usage end
  bar:finish(not res.dry_run and res or nil)
  output(io_, o, res, bar:elapsed())
  M.undo_hint(io_, o)
  return exit_for(res)
end

--- --wait-jobs: the jobs a --no-wait run printed, followed to their end and reported as a
-- waiting run's result (the same output and exit status). Returns the exit status.
function M.wait_jobs(io_, o, client, bar)
  local ok, res, err = call(io_, o, client.wait_jobs, client, {
    service = o.service, jobs = o.wait_jobs, action = io_.w.action, poll_interval = o.poll_interval,
    wait_timeout = o.wait_timeout, on_progress = function(e) bar:event(e) end })
  if not ok then bar:clear() return res end
  if not res then bar:clear() return nothing(io_, o, err) end
  bar:finish(res)
  output(io_, o, res, bar:elapsed())
  return exit_for(res)
end

-- cloud-start --from-record: the record read, and its service (every target's; the
-- flags may only agree with it). Returns the record or nil, exit status.
local function read_record(io_, o)
  local rd, err = record_read.read(o.from_record)
  if not rd then return nil, nothing(io_, o, err) end
  local service
  for _, t in ipairs(rd.targets) do
    if t.header then
      if service and t.service ~= service then
        return nil, usage_error(io_, "--from-record: the record mixes services; restore each with its own run")
      end
      service = t.service
    end
  end
  if o.service and o.service ~= service then
    return nil, usage_error(io_, ("--from-record: the record is of %s servers, not %s"):format(tostring(service),
      o.service))
  end
  o.service = service
  if o.service ~= "ecs" and o.service ~= "bms" then
    return nil, nothing(io_, o, errors.new("cloud.record", "the record names no service (ecs or bms)"))
  end
  return rd
end

-- "a,b,c" as { "a", "b", "c" }; nil as {}.
local function split(v)
  local out = {}
  for x in (v or ""):gmatch("[^,]+") do out[#out + 1] = x end
  return out
end

local function run(argv, io_)
  local w = io_.w
  local o, perr = args.parse(argv, w.action)
  if not o then return usage_error(io_, perr) end
  if o.help then io_.stdout:write(help.text(w.action)) return EXIT.ok end
  if o.version then io_.stdout:write(w.program, " ", cloud.VERSION, "\n") return EXIT.ok end
  local rd
  if o.by_record then
    local code
    rd, code = read_record(io_, o)
    if not rd then return code end
  end
  local regions, projects = split(o.region), split(o.project_id)
  local many = o.all_projects or #regions > 1 or #projects > 1 or (rd and #rd.targets > 1)
  local target = rd and rd.targets[1]

  local exclude_list = {}
  if o.exclude_file then
    local err
    exclude_list, err = idfile.read(o.exclude_file, io_.stdin)
    if not exclude_list then return usage_error(io_, "--exclude-file: " .. err) end
  end
  local ids
  if not o.by_filter then
    local err
    ids, err = gather_ids(io_, o)
    if not ids then return usage_error(io_, err) end
  end

  local stderr_tty = io_.isatty(2)
  local bar = progress.new{ out = io_.stderr, tty = stderr_tty, service = o.service, clock = io_.clock,
    width = stderr_tty and tty.columns(80) or 80, verbose = o.verbose, words = w }

  if many and o.wait_jobs then
    return usage_error(io_, "--wait-jobs follows the jobs of one region and project: give one of each")
  end
  if many then
    return cli_fleet.run({ call = call, nothing = nothing, usage_error = usage_error, options = M.options,
                           client_options = M.client_options, undo_hint = M.undo_hint, exit_of = EXIT_OF_KIND,
                           exit = EXIT }, io_, o, bar,
                         { ids = ids, exclude = exclude_list, regions = regions, projects = projects, record = rd })
  end
  local copts = M.client_options(o, bar)
  copts.region = o.region or (target and target.region)
  copts.project_id = o.project_id or (target and target.project_id)
  -- A record's project id is the one its run used (IAM's, or one checked then): taken as it is.
  if not o.project_id and target then copts.project_id_check = false end
  local ok, client, cerr = call(io_, o, cloud.new, copts)
  if not ok then return client end
  if not client then return nothing(io_, o, cerr) end
  local code
  if o.wait_jobs then code = M.wait_jobs(io_, o, client, bar)
  else code = M.act(io_, o, client, bar, ids, exclude_list) end
  client:close()
  return code
end

--- Runs cloud-stop (or cloud-start) on the process's own stdin, stdout and stderr.
-- Run so (without `given`), it traps SIGTERM and SIGHUP (core.trap_signals): either ends
-- the run as Ctrl-C does, and a second one kills.
-- @tparam table argv the arguments after the program name
-- @tparam[opt] table given stdin, stdout, stderr (file handles or anything with :write,
--   :flush, :read), isatty(fd), clock(): tests pass their own, and the process's signals
--   are left as they are
-- @tparam[opt] string action "stop" (cloud-stop, the default), "start" (cloud-start) or
--   "schedule" (cloud-schedule)
-- @treturn number the exit status
function M.run(argv, given, action)
  if not given then
    -- The command owns the process: systemd's and timeout's SIGTERM, a closed terminal's
    -- SIGHUP end it as Ctrl-C does (what was accepted is reported, the record ends).
    core.trap_signals()
    given = { stdin = io.stdin, stdout = io.stdout, stderr = io.stderr, isatty = tty.isatty, clock = core.now }
  end
  local w = words[action or "stop"]
  if not w then error("cloud.cli.main.run: action must be \"stop\", \"start\" or \"schedule\"", 2) end
  local io_ = { w = w }
  for k, v in pairs(given) do io_[k] = v end
  -- cloud-schedule: its own commands and flags, the same exit statuses.
  if w.action == "schedule" then return require("cloud.cli.schedule").run(argv, io_) end
  -- Whatever raises outside a library call is a bug (or an interruption): still one exit status.
  local ok, code = xpcall(function() return run(argv, io_) end, traced)
  if ok then return code end
  return raised(io_, nil, code)
end

return M
