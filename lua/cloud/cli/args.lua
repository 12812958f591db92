--- Command-line parsing for cloud-stop and cloud-start: argv in, a checked options table out.
-- Mistakes come back as `nil, message` (the caller exits 2); nothing here raises.
-- @module cloud.cli.args
local pattern = require "cloud.op.pattern"
local run = require "cloud.op.run"

local M = {}

-- Flags that take a value, mapped to the option they set.
local VALUED = {
  ["--ids-file"] = "ids_file", ["--name"] = "name", ["--status"] = "status", ["--tag"] = "tag",
  ["--exclude-file"] = "exclude_file", ["--type"] = "type", ["--region"] = "region",
  ["--project-id"] = "project_id", ["--endpoint"] = "endpoint", ["--concurrency"] = "concurrency",
  ["--max-servers"] = "max_servers", ["--poll-interval"] = "poll_interval",
  ["--wait-timeout"] = "wait_timeout", ["--ca-file"] = "ca_file", ["--proxy"] = "proxy",
  ["--timeout"] = "timeout", ["--connect-timeout"] = "connect_timeout", ["--retries"] = "retries",
  ["--iam-endpoint"] = "iam_endpoint", ["--credentials"] = "credentials",
  ["--record"] = "record", ["--from-record"] = "from_record",
  ["--servers-per-minute"] = "servers_per_minute",
  ["--enterprise-project-id"] = "enterprise_project_id",
  ["--wait-jobs"] = "wait_jobs",
  ["--output"] = "output",
  ["--profile"] = "profile",
}
local SWITCHES = {
  ["--dry-run"] = "dry_run", ["--no-wait"] = "no_wait", ["--yes"] = "yes", ["-y"] = "yes",
  ["--json"] = "json", ["--verbose"] = "verbose", ["-v"] = "verbose", ["--help"] = "help",
  ["-h"] = "help", ["--version"] = "version", ["--no-verify-tls"] = "no_verify_tls",
  ["--all-projects"] = "all_projects", ["--no-project-id-check"] = "no_project_id_check",
  ["--debug"] = "debug",
}
-- Flags a user may reach for that must not exist: the secret never travels in argv
-- (visible in ps and shell history).
local REFUSED = { ["--sk"] = true, ["--secret-key"] = true, ["--secret"] = true, ["--ak"] = true,
                  ["--access-key"] = true, ["--security-token"] = true }

-- Only the conversion: ranges (concurrency 1-1024, max_servers >= 0, ...) are the
-- library's to check, and its error names the option.
function M.number(flag, v)
  local n = tonumber(v)
  if not n or n ~= n or n == math.huge or n == -math.huge then
    return nil, ("%s wants a number, not '%s'"):format(flag, v)
  end
  return n
end
local number = M.number

-- Retries, not attempts: the library's retry.attempts is this plus one.
function M.retries(v)
  local n = tonumber(v)
  if not n or n % 1 ~= 0 or n < 0 or n > 99 then
    return nil, ("--retries wants a whole number from 0 to 99, not '%s'"):format(v)
  end
  return n
end

-- What --output writes: json is --json's document; text the summary (the default).
local OUTPUTS = { text = true, json = true, tsv = true }

-- Flags that may be repeated, each adding to a list; every other valued flag is given once.
local LISTS = { tag = true, status = true }
local NUMBERS = { concurrency = true, max_servers = true, poll_interval = true, wait_timeout = true,
                  timeout = true, connect_timeout = true, servers_per_minute = true }

-- Stores one flag's value in o; returns true or nil, message. Values the library checks
-- (endpoint, project id, stop type for the service) are passed on as given: its error
-- names the option, and main.lua turns it into exit 2.
local function store(o, flag, key, v)
  if v == "" and key ~= "name" then return nil, flag .. " wants a non-empty value" end
  if not LISTS[key] and o[key] ~= nil then return nil, flag .. " given twice" end
  if key == "tag" then
    if v:sub(1, 1) == "=" then return nil, "--tag wants KEY=VALUE (or KEY), not '" .. v .. "'" end
    o.tags[#o.tags + 1] = v
  elseif key == "status" then
    for s in v:gmatch("[^,]+") do o.status[#o.status + 1] = s:upper() end
  elseif key == "name" then
    local ok, err = pattern.check(v)
    if not ok then return nil, "--name wants a Lua pattern: " .. err end
    ok, err = pattern.affordable(v)
    if not ok then return nil, "--name " .. err end
    o.name = v
  elseif key == "type" then
    o.type = v:upper()
  elseif key == "wait_jobs" then
    -- Comma- or blank-separated: what --no-wait printed, pasted as it came.
    o.wait_jobs = {}
    for id in v:gmatch("[^,%s]+") do
      if not run.plain_job_id(id) then
        return nil, ("--wait-jobs wants job ids (letters, digits, '-', '_', '.'), not '%s'"):format(id)
      end
      o.wait_jobs[#o.wait_jobs + 1] = id
    end
    if #o.wait_jobs == 0 then return nil, "--wait-jobs wants at least one job id" end
  elseif key == "output" then
    if not OUTPUTS[v] then return nil, ("--output wants text, json or tsv, not '%s'"):format(v) end
    o.output = v
  elseif key == "enterprise_project_id" and v == "none" then
    o.enterprise_project_id = false -- lists name no enterprise project (the library's false)
  elseif key == "retries" then
    local n, err = M.retries(v)
    if not n then return nil, err end
    o.retries = n
  elseif NUMBERS[key] then
    local n, err = number(flag, v)
    if not n then return nil, err end
    o[key] = n
  else
    o[key] = v
  end
  return true
end

--- Walks `argv` for a command: `flags.switches` (flag -> option, set true) and
-- `flags.valued` (flag -> option, its value handed to `flags.store(o, flag, option, value)`,
-- as `--flag value` or `--flag=value`); the secrets' flags are refused. Returns the
-- positional arguments in order (a lone "-" is one, and all after "--"), or nil and a
-- message naming the mistake.
function M.scan(argv, o, flags)
  local positional = {}
  local i, only_positional = 1, false
  while i <= #argv do
    local a = argv[i]
    if only_positional or a == "-" or a:sub(1, 1) ~= "-" then
      positional[#positional + 1] = a
    elseif a == "--" then
      only_positional = true
    else
      local flag, inline = a:match("^(%-%-[^=]+)=(.*)$")
      flag = flag or a
      if REFUSED[flag] then
        return nil, flag .. " does not exist: the AK/SK come from HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK"
          .. " or the credentials file, never from the command line"
      end
      if flags.switches[flag] then
        if inline then return nil, flag .. " takes no value" end
        o[flags.switches[flag]] = true
      elseif flags.valued[flag] then
        local v = inline
        if v == nil then
          i = i + 1
          v = argv[i]
          if v == nil then return nil, flag .. " wants a value" end
        end
        local ok, err = flags.store(o, flag, flags.valued[flag], v)
        if not ok then return nil, err end
      else
        return nil, "unknown option " .. flag
      end
    end
    i = i + 1
  end
  return positional
end

--- Parses the arguments after the program name.
-- @tparam table argv array of strings
-- @tparam[opt] string action "stop" (cloud-stop, the default) or "start" (cloud-start)
-- @treturn table options: service, ids, ids_file, name, status, tags, exclude_file, type,
--   region, project_id, endpoint, concurrency, max_servers, poll_interval, wait_timeout,
--   ca_file, no_verify_tls, proxy, timeout, connect_timeout, retries, iam_endpoint,
--   credentials, record, from_record (cloud-start), all_projects, servers_per_minute,
--   enterprise_project_id (false for "none"), dry_run,
--   no_wait, yes, json, verbose, help, version (region and project_id may be comma-separated lists: a fleet),
--   wait_jobs (job ids), output ("text", "json": json is then true, or "tsv")
-- @return or nil, message naming the bad flag or value
function M.parse(argv, action)
  action = action or "stop"
  local o = { ids = {}, status = {}, tags = {} }
  local positional, err = M.scan(argv, o, { valued = VALUED, switches = SWITCHES, store = store })
  if not positional then return nil, err end
  if o.help or o.version then return o end
  if o.output == "tsv" and o.json then return nil, "--json and --output tsv: choose one" end
  if o.output == "json" then o.json = true end
  if o.wait_jobs and o.from_record then
    return nil, "--wait-jobs follows jobs already accepted: not with --from-record"
  end

  local program = "cloud-" .. action
  if o.from_record and action ~= "start" then
    return nil, "--from-record is cloud-start's: it starts what a stop's record shows was stopped"
  end
  if o.type and action == "start" then
    return nil, "--type is cloud-stop's: a start has no type (the API's os-start takes none)"
  end
  local service = table.remove(positional, 1)
  if o.from_record and service == nil then
    o.by_record = true -- the service is the record's
    return o
  end
  if o.from_record and service ~= "ecs" and service ~= "bms" then
    return nil, "--from-record chooses the servers itself: no ids, filter or --exclude-file with it"
  end
  if service ~= "ecs" and service ~= "bms" then
    return nil, service and ("the first argument is the service, ecs or bms, not '" .. service .. "'")
      or ("say which service: %s ecs ... or %s bms ..."):format(program, program)
  end
  o.service = service
  for _, id in ipairs(positional) do
    if id == "-" then return nil, "read ids from stdin with --ids-file -" end
    o.ids[#o.ids + 1] = id
  end
  if o.ids_file == "-" and o.exclude_file == "-" then
    return nil, "--ids-file - and --exclude-file - cannot both read stdin; give one of them a file"
  end
  local by_filter = o.name ~= nil or #o.status > 0 or #o.tags > 0
  local by_id = #o.ids > 0 or o.ids_file ~= nil
  if o.wait_jobs then
    if by_filter or by_id or o.exclude_file or o.dry_run or o.no_wait or o.record or o.max_servers then
      return nil, "--wait-jobs follows jobs already accepted: no ids, filter, --exclude-file, --dry-run,"
        .. " --no-wait, --record or --max-servers with it"
    end
    return o
  end
  if o.from_record then
    if by_filter or by_id or o.exclude_file then
      return nil, "--from-record chooses the servers itself: no ids, filter or --exclude-file with it"
    end
    o.by_record = true
    return o
  end
  if by_filter and by_id then
    return nil, "choose servers either by id (ID ..., --ids-file) or by filter (--name, --status, --tag), not both"
  end
  if not by_filter and not by_id then
    return nil, "nothing chosen: give server ids, --ids-file, or a filter (--name, --status, --tag)"
  end
  o.by_filter = by_filter
  return o
end

return M
