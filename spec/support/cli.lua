-- Runs bin/cloud-stop.lua as a process (with the interpreter running the specs, or another)
-- in a clean environment, and drives it in a tmux terminal. `env -i` also drops LD_PRELOAD:
-- the ASan run preloads the sanitizer into the spec interpreter only.
local no_metadata = require "support.no_metadata"

local M = {}

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
M.quote = quote

M.interpreter = jit and "luajit" or _VERSION == "Lua 5.1" and "lua5.1" or "lua5.4"
-- Specs run from the checkout's top directory (busted's cwd); tmux needs it absolute.
M.root = (function()
  local p = io.popen("pwd")
  local dir = p and p:read("*l")
  if p then p:close() end
  return dir or os.getenv("PWD") or "."
end)()
M.script = M.root .. "/bin/cloud-stop.lua"
M.launcher = M.root .. "/bin/cloud-stop" -- the shell script that picks an interpreter

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end
M.slurp = slurp

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end
M.write = write

-- The command line: env -i PATH HOME plus `env` (and, unless it names one, a metadata service
-- on loopback: support.no_metadata), then the interpreter and the script.
-- how.interpreter: another interpreter, or false to run how.script as a program itself.
function M.command(argv, env, how)
  how = how or {}
  local parts = { "env", "-i", "PATH=" .. quote(os.getenv("PATH") or "/usr/bin:/bin"),
                  "HOME=/nonexistent" }
  env = no_metadata.child_env(env)
  local keys = {}
  for k in pairs(env) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. quote(env[k]) end
  local interpreter = how.interpreter
  if interpreter == nil then interpreter = M.interpreter end
  if interpreter then parts[#parts + 1] = interpreter end
  parts[#parts + 1] = quote(how.script or M.script)
  for _, a in ipairs(argv) do parts[#parts + 1] = quote(a) end
  return table.concat(parts, " ")
end

--- Runs cloud-stop; returns { code =, stdout =, stderr = }. opts.stdin: text fed on stdin
-- (default: /dev/null, so stdin is never a terminal); opts.interpreter, opts.script: as for
-- M.command; opts.timeout: seconds after which it is killed (a hang then fails with 137).
function M.run(argv, env, opts)
  opts = opts or {}
  local base = os.tmpname()
  local input = "/dev/null"
  if opts.stdin then
    input = base .. ".in"
    write(input, opts.stdin)
  end
  local limit = opts.timeout and ("timeout -s KILL %d "):format(math.ceil(opts.timeout)) or ""
  local cmd = ("cd %s && %s%s <%s >%s 2>%s; echo $? >%s"):format(quote(M.root), limit, M.command(argv, env, opts),
    quote(input), quote(base .. ".out"), quote(base .. ".err"), quote(base .. ".rc"))
  os.execute(cmd)
  local r = { code = tonumber(slurp(base .. ".rc"):match("%d+")), stdout = slurp(base .. ".out"),
              stderr = slurp(base .. ".err") }
  for _, ext in ipairs({ "", ".in", ".out", ".err", ".rc" }) do os.remove(base .. ext) end
  return r
end

--- Paths for a spec's files: `new()` names one where nothing is yet (a record is never
-- written over a file), `keep(path)` takes one made elsewhere, and `clean()` removes them all.
function M.scratch()
  local paths, s = {}, {}
  function s.keep(path) paths[#paths + 1] = path return path end
  function s.new()
    local path = os.tmpname()
    os.remove(path)
    return s.keep(path)
  end
  function s.clean()
    for _, path in ipairs(paths) do os.remove(path) end
  end
  return s
end

--- Starts cloud-stop (or with how.script, cloud-start) in the background with `env`; its pid
-- is the interpreter's own (the shell that writes it execs the command). Returns a handle:
-- `signal(name)` sends one ("TERM", "KILL", ...), `wait(timeout)` gives the exit status once it
-- ended (nil after `timeout` seconds), `done()` gives what it printed (stdout, stderr) and
-- removes its files.
function M.background(argv, env, how)
  local socket = require "socket"
  local base = os.tmpname()
  -- SIGHUP as a terminal's closing sends it: not ignored, whatever the suite was started
  -- under (nohup ignores it, and an ignored signal stays ignored in every child).
  local inner = "echo $$ >" .. quote(base .. ".pid") .. "; exec env --default-signal=HUP " .. M.command(argv, env, how)
  os.execute(("(cd %s && sh -c %s </dev/null >%s 2>%s; echo $? >%s) >/dev/null 2>&1 &"):format(quote(M.root),
    quote(inner), quote(base .. ".out"), quote(base .. ".err"), quote(base .. ".rc")))
  local h = {}
  function h.signal(name)
    local pid
    for _ = 1, 250 do
      pid = slurp(base .. ".pid"):match("%d+")
      if pid then break end
      socket.sleep(0.02)
    end
    os.execute(("kill -%s %s"):format(name, assert(pid, "no pid")))
  end
  function h.wait(timeout)
    local deadline = socket.gettime() + timeout
    repeat
      local rc = tonumber(slurp(base .. ".rc"):match("%d+") or "")
      if rc then return rc end
      socket.sleep(0.02)
    until socket.gettime() > deadline
  end
  function h.done()
    local pid = slurp(base .. ".pid"):match("%d+")
    if pid and not slurp(base .. ".rc"):match("%d+") then os.execute("kill -KILL " .. pid .. " 2>/dev/null") end
    local out, err = slurp(base .. ".out"), slurp(base .. ".err")
    for _, ext in ipairs({ "", ".pid", ".out", ".err", ".rc" }) do os.remove(base .. ext) end
    return out, err
  end
  return h
end

--- The whole lines of a record's text, decoded; a last line cut short (a crash, a full
-- disk) is left out. Split with a plain find: a pattern would try every start in a long line
-- cut short, and take minutes under valgrind.
function M.record_lines(text)
  local cjson = require "cjson"
  local out, at = {}, 1
  while true do
    local nl = text:find("\n", at, true)
    if not nl then return out end
    out[#out + 1] = cjson.decode(text:sub(at, nl - 1))
    at = nl + 1
  end
end

-- tmux ------------------------------------------------------------------------------

local Tmux = {}
Tmux.__index = Tmux

local function sh(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local out = p:read("*a")
  p:close()
  return out
end

--- A detached tmux session of a fixed size running `argv` with `env`, on its own socket so
-- nothing touches the user's tmux server. The exit status is written to a file.
function M.tmux(name, argv, env)
  local self = setmetatable({ socket = os.tmpname(), name = name }, Tmux)
  self.rc = self.socket .. ".rc"
  os.remove(self.socket)
  local inner = ("cd %s && %s; echo $? >%s; sleep 60"):format(quote(M.root), M.command(argv, env),
    quote(self.rc))
  os.execute(("env -u LD_PRELOAD tmux -S %s new-session -d -s %s -x 120 -y 40 %s"):format(
    quote(self.socket), quote(name), quote(inner)))
  return self
end

function Tmux:capture()
  return sh(("env -u LD_PRELOAD tmux -S %s capture-pane -p -t %s"):format(quote(self.socket),
    quote(self.name)))
end

function Tmux:send(...)
  local keys = {}
  for i, k in ipairs({ ... }) do keys[i] = quote(k) end
  os.execute(("env -u LD_PRELOAD tmux -S %s send-keys -t %s %s"):format(quote(self.socket),
    quote(self.name), table.concat(keys, " ")))
end

--- Polls the pane until `pattern` (a Lua pattern) shows, up to `timeout` seconds.
function Tmux:wait_for(pattern, timeout)
  local socket = require "socket"
  local deadline = socket.gettime() + (timeout or 10)
  local screen
  repeat
    screen = self:capture()
    if screen:find(pattern) then return screen end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return nil, screen
end

--- The exit status once the command has ended, waiting up to `timeout` seconds.
function Tmux:exit_code(timeout)
  local socket = require "socket"
  local deadline = socket.gettime() + (timeout or 10)
  repeat
    local rc = tonumber(slurp(self.rc):match("%d+") or "")
    if rc then return rc end
    socket.sleep(0.05)
  until socket.gettime() > deadline
end

function Tmux:kill()
  os.execute(("env -u LD_PRELOAD tmux -S %s kill-server >/dev/null 2>&1"):format(quote(self.socket)))
  os.remove(self.socket)
  os.remove(self.rc)
end

return M
