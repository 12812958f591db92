-- Runs one of the specs' small loopback servers (a Lua script using luasocket) as a
-- background process, with the interpreter running the specs, and stops it.
-- The script gets a fresh directory as its first argument and writes the port it bound
-- to `<dir>/port` once it is ready; whatever else it records goes into that directory.
local proc = require "fakecloud.proc"
local quote, exec, read = proc.quote, proc.exec, proc.read

local M = {}

local INTERPRETER = (jit and "luajit") or "lua5.4"

-- The directory of this file: scripts are named relative to it.
local HERE = (function()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  local dir = src:match("^(.*)/[^/]*$") or "."
  if dir:sub(1, 1) ~= "/" then dir = os.getenv("PWD") .. "/" .. dir end
  return dir
end)()

--- Starts `spec/support/<script>` with extra arguments; returns a table with `port`, `dir`,
-- `pid` and `stop()`, or nil and the script's output when it did not come up in 5 s.
function M.start(script, args)
  local p = io.popen("mktemp -d /tmp/specserver.XXXXXX")
  local dir = p:read("*l")
  p:close()
  local argv = { INTERPRETER, quote(HERE .. "/" .. script), quote(dir) }
  for _, a in ipairs(args or {}) do argv[#argv + 1] = quote(a) end
  exec(table.concat(argv, " ") .. " >" .. quote(dir .. "/out") .. " 2>&1 & echo $! >" .. quote(dir .. "/pid"))
  local pid = (read(dir .. "/pid") or ""):match("%d+")
  local server = { dir = dir, pid = pid }
  function server.stop()
    if server.stopped then return end
    server.stopped = true
    if pid then exec("kill " .. pid .. " 2>/dev/null") end
    exec("rm -rf " .. quote(dir))
  end
  for _ = 1, 250 do
    local port = tonumber((read(dir .. "/port") or ""):match("^%d+\n"))
    if port then
      server.port = port
      return server
    end
    if pid and not proc.alive(pid) then break end
    proc.sleep(0.02)
  end
  local out = read(dir .. "/out") or ""
  server.stop()
  return nil, script .. " did not start: " .. out
end

return M
