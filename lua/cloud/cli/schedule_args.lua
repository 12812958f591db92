--- Command-line parsing for cloud-schedule: argv in, a checked options table out. Mistakes
-- come back as `nil, message` (the caller exits 2); nothing here raises.
-- @module cloud.cli.schedule_args
local args = require "cloud.cli.args"

local M = {}

local VALUED = {
  ["--config"] = "config", ["--state-dir"] = "state_dir", ["--at"] = "at", ["--from"] = "from", ["--to"] = "to",
  ["--poll-interval"] = "poll_interval", ["--wait-timeout"] = "wait_timeout",
  ["--servers-per-minute"] = "servers_per_minute", ["--region"] = "region", ["--project-id"] = "project_id",
  ["--endpoint"] = "endpoint", ["--iam-endpoint"] = "iam_endpoint", ["--concurrency"] = "concurrency",
  ["--enterprise-project-id"] = "enterprise_project_id", ["--credentials"] = "credentials",
  ["--profile"] = "profile", ["--ca-file"] = "ca_file", ["--proxy"] = "proxy", ["--timeout"] = "timeout",
  ["--connect-timeout"] = "connect_timeout", ["--retries"] = "retries",
}
local SWITCHES = {
  ["--usage"] = "usage", ["--yes"] = "yes", ["-y"] = "yes", ["--json"] = "json", ["--verbose"] = "verbose",
  ["-v"] = "verbose", ["--debug"] = "debug", ["--help"] = "help", ["-h"] = "help", ["--version"] = "version",
  ["--no-verify-tls"] = "no_verify_tls", ["--no-project-id-check"] = "no_project_id_check",
}
local NUMBERS = { poll_interval = true, wait_timeout = true, servers_per_minute = true, concurrency = true,
                  timeout = true, connect_timeout = true }
-- What only `run` takes, and what only `plan --usage` takes.
local RUN_ONLY = { yes = "--yes", poll_interval = "--poll-interval", wait_timeout = "--wait-timeout",
                   servers_per_minute = "--servers-per-minute" }

local function store(o, flag, key, v)
  if v == "" then return nil, flag .. " wants a non-empty value" end
  if o[key] ~= nil then return nil, flag .. " given twice" end
  if key == "retries" or NUMBERS[key] then
    local n, err
    if key == "retries" then n, err = args.retries(v) else n, err = args.number(flag, v) end
    if not n then return nil, err end
    o[key] = n
  elseif key == "enterprise_project_id" and v == "none" then
    o.enterprise_project_id = false
  else
    o[key] = v
  end
  return true
end

--- Parses the arguments after the program name. Returns the options (`command` is "plan"
-- or "run"; the flags by their names with '_'), or nil and a message naming the mistake.
function M.parse(argv)
  local o = {}
  local positional, err = args.scan(argv, o, { valued = VALUED, switches = SWITCHES, store = store })
  if not positional then return nil, err end
  if o.help or o.version then return o end
  local command = positional[1]
  if command ~= "plan" and command ~= "run" then
    return nil, command and ("the command is plan or run, not '" .. command .. "'")
      or "say what to do: cloud-schedule plan ... or cloud-schedule run ..."
  end
  if positional[2] then return nil, "unexpected argument '" .. positional[2] .. "'" end
  o.command = command
  if not o.config then return nil, "--config FILE is required: the schedule file" end
  if command == "plan" then
    for key, flag in pairs(RUN_ONLY) do
      if o[key] ~= nil then return nil, flag .. " is run's: plan sends no stop or start" end
    end
  end
  if o.usage then
    if command ~= "plan" then return nil, "--usage goes with plan" end
    if not o.from or not o.to then return nil, "--usage wants --from DATE and --to DATE" end
    if o.at or o.state_dir then return nil, "--usage counts hours from the file alone: no --at or --state-dir" end
  elseif o.from or o.to then
    return nil, "--from and --to go with plan --usage"
  end
  if command == "run" and not o.yes then
    return nil, "run stops and starts servers unattended: pass --yes (check first with cloud-schedule plan)"
  end
  if command == "run" and not o.state_dir then
    return nil, "--state-dir DIR is required: run remembers there what it last did and what it stopped"
  end
  return o
end

return M
