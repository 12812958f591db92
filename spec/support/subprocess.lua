-- Runs a Lua snippet in a fresh interpreter (the one running the specs) with exactly the
-- environment given, plus the paths to this tree's modules (and, unless given, a metadata
-- service on loopback: support.no_metadata). Returns stdout, exit status.
-- With `limit` (seconds) the snippet runs under a hard timeout: killed when it runs longer,
-- so a hang fails the spec instead of stopping the suite (exit status 137).
local no_metadata = require "support.no_metadata"

local M = {}

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

M.interpreter = (jit and "luajit") or "lua5.4"

-- A network namespace of the child's own (an unprivileged user namespace, so no root
-- needed): only a loopback, which is down, so nothing it does reaches another address,
-- not even a DNS query to the machine's name server.
local OFFLINE = "unshare --map-root-user --net"

--- True when children can run offline (M.run's `offline`): user namespaces are allowed.
function M.offline_available()
  local ok = os.execute(OFFLINE .. " true >/dev/null 2>&1")
  return ok == true or ok == 0
end

local function command(code, env, limit, offline)
  local parts = { "env", "-i", "PATH=" .. quote(os.getenv("PATH") or "/usr/bin:/bin"),
    "LUA_PATH=" .. quote("lua/?.lua;lua/?/init.lua;tools/?.lua;spec/?.lua;;"),
    "LUA_CPATH=" .. quote(os.getenv("LUA_CPATH") or ";;") }
  -- The sanitizer run's preload goes along: the child loads the same ASan-built module.
  for _, k in ipairs({ "LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS" }) do
    if os.getenv(k) then parts[#parts + 1] = k .. "=" .. quote(os.getenv(k)) end
  end
  for k, v in pairs(no_metadata.child_env(env)) do parts[#parts + 1] = k .. "=" .. quote(v) end
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  -- Unbuffered, so what the child printed is in the pipe before the sanitizer's check at
  -- exit, whatever that check does.
  f:write('io.stdout:setvbuf("no") ', code)
  f:close()
  if limit then
    parts[#parts + 1] = "timeout -s KILL " .. tostring(limit)
  end
  parts[#parts + 1] = M.interpreter
  parts[#parts + 1] = script
  if offline then table.insert(parts, 1, OFFLINE) end
  return table.concat(parts, " "), script
end

-- What the sanitizers print for a finding in a child (the sanitizer run's preload goes
-- along): the spec fails on it, whatever the child printed besides.
local FINDINGS = { "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:" }

--- Runs the snippet (with `offline`, in a network namespace of its own: see
-- M.offline_available); returns what it printed (stdout and stderr) and its exit status.
-- Raises when a sanitizer reported a finding in it. LeakSanitizer's own tracer sometimes
-- crashes in the exit-time check ("Tracer caught signal 11 ... LeakSanitizer has
-- encountered a fatal error", a known fault of the tool): that is no finding, and the
-- child's output is whole (unbuffered), so it is returned as it is, exit status and all.
function M.run(code, env, limit, offline)
  local cmd, script = command(code, env, limit, offline)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local _, _, status = p:close()
  os.remove(script)
  for _, finding in ipairs(FINDINGS) do
    if out:find(finding, 1, true) then error("a sanitizer finding in the child:\n" .. out, 2) end
  end
  return out, status
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

--- Starts the snippet in the background; returns a handle: `pid`, `output()` (what it
-- printed so far), `kill(signal)`, `exit_code(timeout)` (nil while it runs) and `clean()`.
function M.spawn(code, env)
  local cmd, script = command(code, env)
  local base = os.tmpname()
  -- The wrapper's own output (the shell's "Killed") goes nowhere; the snippet's to .out.
  os.execute(("(%s >%s 2>&1 & echo $! >%s; wait $!; echo $? >%s) >/dev/null 2>&1 &"):format(cmd,
    quote(base .. ".out"), quote(base .. ".pid"), quote(base .. ".rc")))
  local h = {}
  local socket = require "socket"
  for _ = 1, 200 do
    h.pid = slurp(base .. ".pid"):match("%d+")
    if h.pid then break end
    socket.sleep(0.01)
  end
  function h.output() return slurp(base .. ".out") end
  function h.kill(signal) os.execute(("kill -%s %s 2>/dev/null"):format(signal or "KILL", h.pid)) end
  function h.exit_code(timeout)
    local deadline = socket.gettime() + (timeout or 0)
    repeat
      local rc = tonumber(slurp(base .. ".rc"):match("%d+") or "")
      if rc then return rc end
      socket.sleep(0.02)
    until socket.gettime() > deadline
  end
  function h.clean()
    for _, ext in ipairs({ "", ".out", ".pid", ".rc" }) do os.remove(base .. ext) end
    os.remove(script)
  end
  return h
end

return M
