-- Processes and files for whoever starts a throwaway nginx (the emulator's launcher, the
-- specs' app nginx): shell quoting, commands run without the sanitizer preload, and a
-- QUIT-then-KILL stop that also takes the workers.
local M = {}

function M.quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Children must not inherit a sanitizer preload meant for the test interpreter
-- (an ASan-preloaded pgrep hangs, and nginx has no business running under it).
local function clean(cmd) return "env -u LD_PRELOAD sh -c " .. M.quote(cmd) end

function M.exec(cmd) return os.execute(clean(cmd)) end

-- Runs cmd and returns its standard output.
function M.sh(cmd)
  local p = io.popen(clean(cmd .. " 2>/dev/null"))
  local out = p:read("*a")
  p:close()
  return out
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

function M.sleep(s) require("socket").sleep(s) end

-- A loopback port nobody listens on right now.
function M.free_port()
  local s = assert(require("socket").bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

-- A zombie (a daemonised nginx whose reaper is slow) counts as gone.
function M.alive(pid)
  local stat = M.read("/proc/" .. pid .. "/stat")
  if stat then return not stat:match("^%d+ %b() Z") end
  local r = M.exec("kill -0 " .. pid .. " 2>/dev/null")
  return r == true or r == 0
end

-- Graceful QUIT, then TERM, then KILL of an nginx master and its workers.
function M.stop_nginx(pid)
  local workers = M.sh("pgrep -P " .. pid)
  for i, sig in ipairs({ "QUIT", "TERM", "KILL" }) do
    if not M.alive(pid) then break end
    M.exec("kill -" .. sig .. " " .. pid .. " 2>/dev/null")
    for _ = 1, (i == 3 and 10 or 20) do
      if not M.alive(pid) then break end
      M.sleep(0.05)
    end
  end
  for w in workers:gmatch("%d+") do
    if M.alive(w) then M.exec("kill -KILL " .. w .. " 2>/dev/null") end
  end
end

return M
