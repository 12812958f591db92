#!/usr/bin/env lua5.4
-- cloud-stop and cloud-start in Lua (this same file under both names: its name says which):
-- stop or start Huawei Cloud ECS/BMS servers in batches. See `cloud-stop --help`.
-- Runs under Lua 5.4, LuaJIT and Lua 5.1 alike; bin/cloud-stop picks the interpreter. Run
-- from a checkout (or through a symlink to one), it uses that checkout's lua/ and C core
-- build (build/5.4, build/luajit or build/5.1) first, so a checkout never runs against an
-- older installed copy. Installed, it looks beside its bin/ first: share/lua/<v> and
-- lib/lua/<v>, the layout of a LuaRocks tree and of a CMake install, whichever tree that is.
-- With CLOUD_STOP_PROBE set it only loads the module and exits 0, or 1 when it cannot.

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function real_path(path)
  local q = "'" .. path:gsub("'", "'\\''") .. "'"
  local p = io.popen("readlink -f " .. q .. " 2>/dev/null")
  local real = p and p:read("*l")
  if p then p:close() end
  if not real or real == "" then real = path end
  return real
end

local abi = _VERSION:match("%d+%.%d+") -- LuaJIT says 5.1
local script = arg and arg[0] and real_path(arg[0])
-- The file's own name (through any symlink) says the command: cloud-start.lua starts,
-- anything else (cloud-stop.lua) stops.
local command = script and script:match("cloud%-start%.lua$") and "start" or "stop"
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
