#!/usr/bin/env lua5.4
-- cloud-stop, cloud-start and cloud-schedule in Lua (bin/cloud-start.lua and
-- bin/cloud-schedule.lua are symlinks to this file; the name it was run by says which): stop
-- or start Huawei Cloud ECS/BMS servers in batches, or on schedules. See `cloud-stop --help`.
-- Runs under Lua 5.4, LuaJIT and Lua 5.1 alike; bin/cloud-stop picks the interpreter. Run
-- from a checkout (or through a symlink to one), it uses that checkout's lua/ and C core
-- build (build/5.4, build/luajit or build/5.1) first, so a checkout never runs against an
-- older installed copy. Installed, it looks beside its bin/ first: share/lua/<v>
-- and lib/lua/<v>, the layout of a LuaRocks tree and of a CMake install, whichever tree that is.
-- With CLOUD_STOP_PROBE set it only loads the module and exits 0, or 1 when it cannot.

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- readlink's answer for `path` (with -f: the real path), or nil.
local function readlink(flags, path)
  local q = "'" .. path:gsub("'", "'\\''") .. "'"
  local p = io.popen("readlink " .. flags .. q .. " 2>/dev/null")
  local out = p and p:read("*l")
  if p then p:close() end
  if out == "" then out = nil end
  return out
end

-- The command is told by the name run, not by the file it resolves to: the first name along
-- the symlink chain from `path` that is cloud-start.lua, cloud-schedule.lua or cloud-stop.lua
-- (LuaRocks installs
-- a copy named cloud-start.lua, CMake the symlink); "stop" when none is.
local function command_of(path)
  for _ = 1, 40 do
    local name = path:match("[^/]*$")
    if name == "cloud-start.lua" then return "start" end
    if name == "cloud-stop.lua" then return "stop" end
    if name == "cloud-schedule.lua" then return "schedule" end
    local link = readlink("", path)
    if not link then break end
    path = link:sub(1, 1) == "/" and link or (path:match("^(.*/)") or "") .. link
  end
  return "stop"
end

local abi = _VERSION:match("%d+%.%d+") -- LuaJIT says 5.1
local script = arg and arg[0] and (readlink("-f ", arg[0]) or arg[0])
local command = arg and arg[0] and command_of(arg[0]) or "stop"
local program = "cloud-" .. command
if script then
  local root = (script:match("^(.*)/[^/]*$") or ".") .. "/.."
  if exists(root .. "/lua/cloud/init.lua") then
    package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
    local build = root .. "/build/" .. (jit and "luajit" or abi)
    if exists(build .. "/cloud/core.so") then
      package.cpath = build .. "/?.so;" .. package.cpath
    end
  else
    local lua, lib = root .. "/share/lua/" .. abi, root .. "/lib/lua/" .. abi
    package.path = lua .. "/?.lua;" .. lua .. "/?/init.lua;" .. package.path
    package.cpath = lib .. "/?.so;" .. package.cpath
  end
end

local ok, main = pcall(require, "cloud.cli.main")
if os.getenv("CLOUD_STOP_PROBE") then os.exit(ok and 0 or 1) end
if not ok then
  io.stderr:write(program, ": cannot load the cloud module: ", tostring(main), "\n")
  os.exit(3)
end
local code = main.run(arg, nil, command)
io.stdout:flush()
io.stderr:flush()
os.exit(code)
