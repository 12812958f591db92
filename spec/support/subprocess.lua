-- Runs a Lua snippet in a fresh interpreter (the one running the specs) with exactly the
-- environment given, plus the paths to this tree's modules. Returns stdout, exit status.
-- With `limit` (seconds) the snippet runs under a hard timeout: killed when it runs longer,
-- so a hang fails the spec instead of stopping the suite (exit status 137).
local M = {}

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

M.interpreter = (jit and "luajit") or "lua5.4"

function M.run(code, env, limit)
  local parts = { "env", "-i", "PATH=" .. quote(os.getenv("PATH") or "/usr/bin:/bin"),
    "LUA_PATH=" .. quote("lua/?.lua;lua/?/init.lua;tools/?.lua;spec/?.lua;;"),
    "LUA_CPATH=" .. quote(os.getenv("LUA_CPATH") or ";;") }
  -- The sanitizer run's preload goes along: the child loads the same ASan-built module.
  for _, k in ipairs({ "LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS" }) do
    if os.getenv(k) then parts[#parts + 1] = k .. "=" .. quote(os.getenv(k)) end
  end
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. quote(v) end
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  if limit then
    parts[#parts + 1] = "timeout -s KILL " .. tostring(limit)
  end
  parts[#parts + 1] = M.interpreter
  parts[#parts + 1] = script
  local p = assert(io.popen(table.concat(parts, " ") .. " 2>&1"))
  local out = p:read("*a")
  local _, _, status = p:close()
  os.remove(script)
  return out, status
end

return M
