--- cloud-stop: choose servers, confirm, stop, report. Every outcome is an exit status:
-- 0 all stopped, 1 some failed, 2 usage error or refusal, 3 nothing could be attempted
-- (or an internal error: a bug, printed in full).
-- @module cloud.cli.main
local cloud = require "cloud"
local core = require "cloud.core"
local args = require "cloud.cli.args"
local help = require "cloud.cli.help"
local idfile = require "cloud.cli.idfile"
local errors = require "cloud.errors"
local progress = require "cloud.cli.progress"
local summary = require "cloud.cli.summary"
local tty = require "cloud.cli.tty"

local unpack = table.unpack or unpack

local M = {}

--- Up to this many servers chosen by filter are stopped without asking.
M.CONFIRM_ABOVE = 5
local SAMPLE = 10

local EXIT = { ok = 0, failed = 1, usage = 2, nothing = 3, internal = 3, interrupted = 130 }

-- The exit status of each kind of library error (errors.lua): the caller's mistake and a
-- refusal are the user's to change; the rest is the world's.
local EXIT_OF_KIND = { argument = EXIT.usage, refused = EXIT.usage, config = EXIT.nothing,
                       transport = EXIT.nothing, cloud = EXIT.nothing }

-- The flag that sets each library option, so an argument error names what the user typed.
local FLAG_OF = {
  type = "--type", max_servers = "--max-servers", concurrency = "--concurrency",
  poll_interval = "--poll-interval", wait_timeout = "--wait-timeout", region = "--region",
  servers_per_minute = "--servers-per-minute",
  project_id = "--project-id", ["endpoints.ecs"] = "--endpoint", ["endpoints.bms"] = "--endpoint",
  ["filter.name"] = "--name", ["filter.status"] = "--status", ["filter.tags"] = "--tag",
  exclude = "--exclude-file", ids = "the server ids",
}

--- What an argument error says to a CLI user: the flag in place of the library option
-- ("--type must be one of SOFT, HARD (got GENTLE)"), from the error's fields, never its text.
function M.argument_message(e)
  local field = e.field
  if field then
    local base, index = field:match("^([%w_.]+)%[(%d+)%]$")
    if base and FLAG_OF[base] then return ("server id #%s %s"):format(index, e.problem) end
    if FLAG_OF[field] then return FLAG_OF[field] .. " " .. e.problem end
  end
  return e.message
end

local function usage_error(io_, text)
  io_.stderr:write("cloud-stop: ", text, "\nTry 'cloud-stop --help'.\n")
  return EXIT.usage
end

-- The traceback is taken where the error was raised, while the stack is still there.
local function traced(e)
  return { e = e, trace = debug.traceback(tostring(e), 2) }
end

-- An interrupted run prints what it knows: the stops already accepted may still complete.
local function interrupted(io_, o, partial)
  io_.stderr:write("\ncloud-stop: interrupted; stops already accepted by the cloud may still complete\n")
  if partial and o then
    if o.json then
      io_.stdout:write(cloud.to_json(partial), "\n")
    else
      summary.result(io_.stdout, partial, o.service, 0, true)
    end
    io_.stdout:flush()
  end
  return EXIT.interrupted
end

-- A raise: Ctrl-C (130), an argument error of the library (exit 2), or anything else,
-- which is a bug: printed in full, with where it happened.
local function raised(io_, o, r)
  if type(r) ~= "table" or r.trace == nil then r = { e = r, trace = tostring(r) } end -- the handler itself failed
  local e = r.e
  local kind = errors.kind(e)
  if kind == "interrupted" then return interrupted(io_, o, e.result) end
  -- The interpreter's own Ctrl-C outside a library call (lua.c raises this string).
  if type(e) == "string" and e:match("interrupted!$") then return interrupted(io_, o) end
  if kind == "argument" then
    io_.stderr:write("cloud-stop: ", M.argument_message(e), "\n")
    return EXIT.usage
  end
  io_.stderr:write("cloud-stop: internal error (a bug; please report it): ", r.trace, "\n")
  return EXIT.internal
end

-- Lua 5.1's xpcall passes no arguments to the function: bind them in a closure.
local function call(io_, o, fn, ...)
  local n, argv = select("#", ...), { ... }
  local ok, res, err = xpcall(function() return fn(unpack(argv, 1, n)) end, traced)
  if ok then return true, res, err end
  return false, raised(io_, o, res)
end

local function empty_result(dry_run)
  return { ok = false, requested = 0, stopped = {}, failed = {}, jobs = {}, selected = {},
           skipped = {}, dry_run = dry_run }
end

-- Nothing could be attempted (or the library refused): say why on stderr, and with --json
-- also as a document. The exit status follows the error's kind.
local function nothing(io_, o, err)
  summary.error(io_.stderr, err)
  if o.json then
    local doc = empty_result(o.dry_run or false)
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
  elseif res.dry_run then
    summary.dry_run(io_.stdout, res, o.service)
  else
    summary.result(io_.stdout, res, o.service, elapsed, o.no_wait)
  end
  if res.hint then io_.stderr:write("cloud-stop: hint: ", res.hint, "\n") end
  io_.stdout:flush()
end

-- The library's result decides: ok is 0; anything else asked for and not stopped is 1.
local function exit_for(res)
  if res.ok then return EXIT.ok end
  return EXIT.failed
end

-- Asks before stopping more than CONFIRM_ABOVE servers chosen by filter. Called by the
-- library between choosing and sending (its `confirm` option).
local function confirmer(io_, o, bar)
  return function(plan)
    local selected = plan.selected
    if #selected <= M.CONFIRM_ABOVE then return true end
    if not (io_.isatty(0) and io_.isatty(2)) then
      io_.stderr:write(("cloud-stop: refusing to stop %d servers chosen by filter without confirmation:"
        .. " no terminal to ask on; check with --dry-run, then pass --yes\n"):format(#selected))
      return false
    end
    bar:clear()
    summary.sample(io_.stderr, selected, plan.skipped, o.service, SAMPLE)
    local yes = tty.confirm(("Stop these %d %s servers?"):format(#selected, o.service:upper()),
      io_.stdin, io_.stderr)
    if not yes then io_.stderr:write("cloud-stop: not confirmed; nothing was stopped\n") end
    bar:restart()
    return yes
  end
end

--- The stop itself, with a client: one library call, whose result is the output. Returns
-- the exit status.
function M.stop(io_, o, client, bar, ids, exclude_list)
  local opts = { type = o.type, max_servers = o.max_servers, dry_run = o.dry_run or nil,
                 wait = not o.no_wait, poll_interval = o.poll_interval, wait_timeout = o.wait_timeout,
                 servers_per_minute = o.servers_per_minute, on_progress = function(e) bar:event(e) end }
  if o.by_filter then
    opts.filter = filter_of(o, exclude_list)
    if not o.yes and not o.dry_run then opts.confirm = confirmer(io_, o, bar) end
    bar:set_phase("list")
  else
    opts.ids = ids
    if #exclude_list > 0 then opts.exclude = exclude_list end
    bar:set_phase("check", #ids)
  end
  local ok, res, err = call(io_, o, client["stop_" .. o.service], client, opts)
  if not ok then bar:clear() return res end
  if not res then bar:clear() return nothing(io_, o, err) end
  -- res.error: a check before any stop failed (the protection tag), so nothing was sent.
  if res.error then bar:clear() return nothing(io_, o, res.error) end
  if res.cancelled then bar:clear() return EXIT.usage end
  bar:finish(not res.dry_run and res or nil)
  output(io_, o, res, bar:elapsed())
  return exit_for(res)
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
  local ids
  if not o.by_filter then
    local err
    ids, err = gather_ids(io_, o)
    if not ids then return usage_error(io_, err) end
  end

  local stderr_tty = io_.isatty(2)
  local bar = progress.new{ out = io_.stderr, tty = stderr_tty, service = o.service, clock = io_.clock,
    width = stderr_tty and tty.columns(80) or 80, verbose = o.verbose }

  local ok, client, cerr = call(io_, o, cloud.new, {
    region = o.region, project_id = o.project_id, concurrency = o.concurrency,
    endpoints = o.endpoint and { [o.service] = o.endpoint } or nil,
    logger = function(line) bar:log(line) end,
  })
  if not ok then return client end
  if not client then return nothing(io_, o, cerr) end
  local code = M.stop(io_, o, client, bar, ids, exclude_list)
  client:close()
  return code
end

--- Runs cloud-stop on the process's own stdin, stdout and stderr.
-- @tparam table argv the arguments after the program name
-- @tparam[opt] table io_ stdin, stdout, stderr (file handles or anything with :write,
--   :flush, :read), isatty(fd), clock(): tests pass their own
-- @treturn number the exit status
function M.run(argv, io_)
  io_ = io_ or { stdin = io.stdin, stdout = io.stdout, stderr = io.stderr, isatty = tty.isatty,
                 clock = core.now }
  -- Whatever raises outside a library call is a bug (or Ctrl-C): still one exit status.
  local ok, code = xpcall(function() return run(argv, io_) end, traced)
  if ok then return code end
  return raised(io_, nil, code)
end

return M
