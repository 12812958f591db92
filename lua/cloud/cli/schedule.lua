--- cloud-schedule: `plan` says what each schedule wants at a time and what a run would stop
-- or start; `run` does it (client:run_schedule, or a fleet's when the file names targets);
-- `plan --usage` counts running hours. Exit statuses as cloud-stop's (docs/cli.md): 0 ok,
-- 1 some failed, 2 usage or refusal, 3 nothing could be attempted, 4 a state file or
-- record could not be written, 128 + the signal when interrupted.
-- @module cloud.cli.schedule
local cloud = require "cloud"
local errors = require "cloud.errors"
local help = require "cloud.cli.help"
local main = require "cloud.cli.main"
local progress = require "cloud.cli.progress"
local schedule = require "cloud.schedule"
local schedule_args = require "cloud.cli.schedule_args"
local tty = require "cloud.cli.tty"
local words = require "cloud.cli.words"

local M = {}

local PROGRAM = "cloud-schedule"
local EXIT, EXIT_OF_KIND = main.EXIT, main.EXIT_OF_KIND
-- The file's fields, and the library options the flags set, as the user typed them.
local FLAG_OF = { at = "--at", from = "--from", to = "--to", path = "--config", state_dir = "--state-dir" }
local SAMPLE = 10

local function say(io_, text) io_.stderr:write(PROGRAM, ": ", text, "\n") end

local function usage_error(io_, text)
  io_.stderr:write(PROGRAM, ": ", text, "\nTry '", PROGRAM, " --help'.\n")
  return EXIT.usage
end

-- An argument error as the user should read it: a flag by its name, a mistake of the
-- schedule file by the file and the field ('schedules["office-hours"].periods[1].start').
local function argument_text(e, o)
  if e.field and FLAG_OF[e.field] then return FLAG_OF[e.field] .. " " .. e.problem end
  if e.where and e.where:match("^cloud%.schedule") and e.field then
    return ("--config %s: %s %s"):format(o.config, e.field, e.problem)
  end
  return main.argument_message(e)
end

local traced = main.traced

-- Runs fn(...) as main's calls: true and its results, or false and the exit status of
-- what it raised (an interruption, an argument error, or a bug printed in full).
local function call(io_, o, fn, ...)
  local n, argv = select("#", ...), { ... }
  local ok, res, err = xpcall(function() return fn((table.unpack or unpack)(argv, 1, n)) end, traced)
  if ok then return true, res, err end
  local e = res.e
  if errors.kind(e) == "interrupted" or errors.is_interruption(e) then
    local status, signal = main.interrupted_status()
    say(io_, ("interrupted%s; what was sent may still complete: the state says so, and the next run finishes it")
      :format(signal and " by " .. signal or ""))
    return false, status
  end
  if errors.kind(e) == "argument" then
    say(io_, argument_text(e, o))
    return false, EXIT.usage
  end
  io_.stderr:write(PROGRAM, ": internal error (a bug; please report it): ", res.trace, "\n")
  return false, EXIT.nothing
end

local function iso(t) return t and os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t)) or "-" end

local function client_options(o, io_)
  local endpoints
  if o.endpoint or o.iam_endpoint then endpoints = { ecs = o.endpoint, bms = o.endpoint, iam = o.iam_endpoint } end
  return {
    concurrency = o.concurrency, endpoints = endpoints, ca_file = o.ca_file, verify_tls = not o.no_verify_tls,
    timeout = o.timeout, connect_timeout = o.connect_timeout,
    retry = o.retries and { attempts = o.retries + 1 } or nil,
    proxy = o.proxy or "env", credentials = o.credentials, enterprise_project_id = o.enterprise_project_id,
    project_id_check = not o.no_project_id_check, profile = o.profile, debug = o.debug or nil,
    logger = function(line, level)
      if o.verbose or level then say(io_, line) end
    end,
  }
end

local function server_line(s)
  return ("%s (%s)"):format(s.name or "?", s.id)
end

local function list_block(out, label, list)
  if #list == 0 then return end
  out:write(("  %s %d:"):format(label, #list))
  for i = 1, math.min(#list, SAMPLE) do out:write(i == 1 and " " or ", ", server_line(list[i])) end
  if #list > SAMPLE then out:write((", and %d more"):format(#list - SAMPLE)) end
  out:write("\n")
end

local function where_of(e)
  return ("%s %s %s"):format(tostring(e.target and e.target.region or "-"),
    tostring(e.target and e.target.project_id or "-"), e.service or "-")
end

local function error_line(out, e)
  if e.error then out:write("  error: ", (errors.format(e.error):gsub("%c", " ")), "\n") end
end

local function plan_text(out, res)
  for _, e in ipairs(res.results) do
    out:write(("%s [%s]: %s at %s; next change %s\n"):format(e.schedule, where_of(e), tostring(e.wanted),
      tostring(e.local_time or iso(res.at)), iso(e.next_change)))
    if e.action == "none" and e.previous then
      out:write(("  nothing to do: %s, as the last run left it\n"):format(e.previous))
    elseif e.action == "stop" then
      out:write(("  a run would stop %d server(s)\n"):format(#e.would_stop))
    elseif e.action == "start" then
      out:write(("  a run would start %d server(s)\n"):format(#e.would_start))
    end
    list_block(out, "would stop", e.would_stop or {})
    list_block(out, "would start", e.would_start or {})
    if e.note then out:write("  ", e.note, "\n") end
    error_line(out, e)
  end
end

local function run_text(out, res)
  for _, e in ipairs(res.results) do
    local r = e.result
    if e.action == "none" and not e.ok then
      out:write(("%s [%s]: %s; not acted on\n"):format(e.schedule, where_of(e), tostring(e.wanted)))
    elseif e.action == "none" then
      out:write(("%s [%s]: %s; nothing to do%s\n"):format(e.schedule, where_of(e), tostring(e.wanted),
        e.previous and (" (as the last run left it)") or ""))
    else
      local done = r and (r.stopped or r.started) or {}
      out:write(("%s [%s]: %s (was %s): %s %d, failed %d, skipped %d%s\n"):format(e.schedule, where_of(e),
        tostring(e.wanted), tostring(e.previous or "unknown"), e.action == "stop" and "stopped" or "started", #done,
        r and #(r.failed or {}) or 0, r and #(r.skipped or {}) or 0, e.record and ("; record " .. e.record) or ""))
      for i, f in ipairs(r and r.failed or {}) do
        if i > SAMPLE then break end
        out:write(("  failed %s: %s %s\n"):format(f.id, tostring(f.code), tostring(f.message)))
      end
    end
    error_line(out, e)
  end
end

-- The exit status of a run's (or plan's) result: a state or record that could not be
-- written first; then, when every unit failed alike, what their error's kind says; else 1.
local function exit_of(res)
  if res.ok then return EXIT.ok end
  local kinds, failed = {}, 0
  for _, e in ipairs(res.results) do
    if not e.ok then
      failed = failed + 1
      local k = e.error and errors.kind(e.error)
      if k == "record" then return EXIT.record end
      if k then kinds[k] = (kinds[k] or 0) + 1 end
    end
  end
  for k, n in pairs(kinds) do
    if n == #res.results and failed == #res.results then return EXIT_OF_KIND[k] or EXIT.failed end
  end
  return EXIT.failed
end

local function usage_out(io_, o, set)
  local ok, list = call(io_, o, schedule.usage, set, o.from, o.to)
  if not ok then return list end
  if o.json then
    io_.stdout:write(cloud.to_json({ ok = true, from = o.from, to = o.to, usage = list }), "\n")
  else
    io_.stdout:write(("%-24s %10s %10s %8s\n"):format("schedule", "hours", "running", "saved"))
    for _, u in ipairs(list) do
      io_.stdout:write(("%-24s %10.1f %10.1f %7.1f%%\n"):format(u.name, u.hours, u.running_hours,
        u.saved_share * 100))
    end
  end
  return EXIT.ok
end

-- The progress of a run on stderr, as cloud-stop and cloud-start show theirs: a line when a
-- unit starts acting, then that stop's or start's own progress (one bar per unit).
local function unit_bars(io_, o)
  local stderr_tty = io_.isatty(2)
  local bar
  local b = {}
  function b.finish()
    if bar then bar:finish() end
    bar = nil
  end
  function b.unit(e)
    b.finish()
    say(io_, ("%s [%s]: %s -> %s: %s"):format(e.schedule, where_of(e), tostring(e.previous or "unknown"),
      tostring(e.wanted), e.action == "stop" and "stopping the tagged servers" or "starting what it stopped"))
    local w = {}
    for k, v in pairs(words[e.action]) do w[k] = v end
    w.program = PROGRAM
    bar = progress.new{ out = io_.stderr, tty = stderr_tty, service = e.service, clock = io_.clock,
      width = stderr_tty and tty.columns(80) or 80, verbose = o.verbose, words = w }
  end
  function b.event(ev)
    if bar then bar:event(ev) end
  end
  return b
end

-- Builds what runs the schedules: a fleet of the file's targets, or one client.
local function build(io_, o, set)
  local copts = client_options(o, io_)
  local targets = schedule.targets(set)
  if #targets > 0 then
    if o.region or o.project_id then
      return nil, usage_error(io_, "the schedule file names its targets: no --region or --project-id with it")
    end
    copts.targets = targets
    local ok, fleet = call(io_, o, cloud.fleet, copts)
    if not ok then return nil, fleet end
    return fleet
  end
  copts.region, copts.project_id = o.region, o.project_id
  local ok, client, err = call(io_, o, cloud.new, copts)
  if not ok then return nil, client end
  if not client then
    say(io_, (errors.format(err):gsub("%c", " ")))
    return nil, EXIT_OF_KIND[errors.kind(err)] or EXIT.nothing
  end
  return client
end

local function run(argv, io_)
  local o, perr = schedule_args.parse(argv)
  if not o then return usage_error(io_, perr) end
  if o.help then io_.stdout:write(help.text("schedule")) return EXIT.ok end
  if o.version then io_.stdout:write(PROGRAM, " ", cloud.VERSION, "\n") return EXIT.ok end
  local ok, set = call(io_, o, schedule.load, o.config)
  if not ok then return set end
  if o.usage then return usage_out(io_, o, set) end
  local at = os.time()
  if o.at then
    local fine, t = call(io_, o, schedule.parse_time, o.at, "at")
    if not fine then return t end
    at = t
  end
  local runner, code = build(io_, o, set)
  if not runner then return code end
  local res, err
  if o.command == "plan" then
    ok, res, err = call(io_, o, runner.plan_schedule, runner, { schedule = set, at = at, state_dir = o.state_dir })
  else
    local bars = unit_bars(io_, o)
    ok, res, err = call(io_, o, runner.run_schedule, runner, {
      schedule = set, at = at, state_dir = o.state_dir, poll_interval = o.poll_interval,
      wait_timeout = o.wait_timeout, servers_per_minute = o.servers_per_minute,
      on_progress = bars.event, on_unit = bars.unit })
    bars.finish()
  end
  runner:close()
  if not ok then return res end
  if not res then
    say(io_, (errors.format(err):gsub("%c", " ")))
    return EXIT_OF_KIND[errors.kind(err)] or EXIT.nothing
  end
  if o.json then
    io_.stdout:write(cloud.to_json(res), "\n")
  elseif o.command == "plan" then
    plan_text(io_.stdout, res)
  else
    run_text(io_.stdout, res)
  end
  io_.stdout:flush()
  return exit_of(res)
end

--- Runs cloud-schedule with `io_` (stdin, stdout, stderr, isatty, clock, as cloud.cli.main
-- gives them). Returns the exit status.
function M.run(argv, io_)
  local ok, code = xpcall(function() return run(argv, io_) end, traced)
  if ok then return code end
  local e = code.e
  if errors.kind(e) == "interrupted" or errors.is_interruption(e) then return (main.interrupted_status()) end
  io_.stderr:write(PROGRAM, ": internal error (a bug; please report it): ", code.trace, "\n")
  return EXIT.nothing
end

return M
