-- A minimal HTTP CONNECT proxy on 127.0.0.1 for the specs (no Debian package needed):
-- tunnels to loopback addresses only, refuses everything else, and logs one line per
-- request ("CONNECT host:port" or "REFUSED <request line>") to LOGFILE.
--   lua5.4 spec/support/tunnel_proxy.lua PORTFILE LOGFILE
-- It writes its port to PORTFILE once listening, and runs until killed. The spec side:
-- M.start() / proxy:stop() (when required as a module).
local socket = require "socket"

local M = {}

local function serve(portfile, logfile)
  local server = assert(socket.bind("127.0.0.1", 0))
  server:settimeout(0)
  local _, port = server:getsockname()
  local log = assert(io.open(logfile, "a"))
  log:setvbuf("line")
  local f = assert(io.open(portfile .. ".tmp", "w"))
  f:write(port)
  f:close()
  os.rename(portfile .. ".tmp", portfile)

  local peer = {} -- socket -> the other end of its tunnel
  local reading = { server }

  local function drop(s)
    for i = #reading, 1, -1 do
      if reading[i] == s or reading[i] == peer[s] then table.remove(reading, i) end
    end
    local p = peer[s]
    peer[s] = nil
    if p then peer[p] = nil p:close() end
    s:close()
  end

  -- Reads the request head of a new client (briefly blocking: specs open few connections).
  local function open_tunnel(client)
    client:settimeout(5)
    local line = client:receive("*l")
    if not line then client:close() return end
    repeat
      local h = client:receive("*l")
    until not h or h == ""
    local host, p = line:match("^CONNECT ([%d.]+):(%d+) HTTP/1%.[01]$")
    if not host or not host:match("^127%.") then
      log:write("REFUSED ", line, "\n")
      client:send("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
      client:close()
      return
    end
    local up = socket.tcp()
    up:settimeout(5)
    if not up:connect(host, tonumber(p)) then
      client:send("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
      client:close()
      return
    end
    log:write("CONNECT ", host, ":", p, "\n")
    client:send("HTTP/1.1 200 Connection established\r\n\r\n")
    client:settimeout(0)
    up:settimeout(0)
    peer[client], peer[up] = up, client
    reading[#reading + 1] = client
    reading[#reading + 1] = up
  end

  while true do
    local ready = socket.select(reading, nil, 1)
    for _, s in ipairs(ready or {}) do
      if s == server then
        local client = server:accept()
        if client then open_tunnel(client) end
      elseif peer[s] then
        local data, err, partial = s:receive(16384)
        data = data or partial
        if data and #data > 0 then
          local out = peer[s]
          out:settimeout(5)
          out:send(data)
          out:settimeout(0)
        end
        if err == "closed" then drop(s) end
      end
    end
  end
end

local Proxy = {}
Proxy.__index = Proxy

--- Starts the proxy as a process of its own (the interpreter running the specs); returns
-- { port, url, log() (the lines so far), stop() }.
function M.start()
  local base = os.tmpname()
  local portfile, logfile = base .. ".port", base .. ".log"
  local interp = jit and "luajit" or "lua5.4"
  local script = debug.getinfo(1, "S").source:gsub("^@", "")
  -- The sanitizer's preload stays with the spec interpreter, as for other helpers.
  local p = io.popen(("env -u LD_PRELOAD %s %s %s %s >/dev/null 2>&1 & echo $!"):format(interp, script, portfile,
    logfile))
  local pid = p:read("*l")
  p:close()
  local port
  for _ = 1, 200 do
    local f = io.open(portfile)
    if f then port = tonumber(f:read("*a")) f:close() end
    if port then break end
    socket.sleep(0.025)
  end
  assert(port, "the tunnel proxy did not start")
  return setmetatable({ pid = pid, port = port, url = "http://127.0.0.1:" .. port, base = base,
                        logfile = logfile, portfile = portfile }, Proxy)
end

function Proxy:log()
  local f = io.open(self.logfile)
  if not f then return {} end
  local lines = {}
  for l in f:lines() do lines[#lines + 1] = l end
  f:close()
  return lines
end

function Proxy:stop()
  if self.pid and self.pid:match("^%d+$") then os.execute("kill " .. self.pid .. " 2>/dev/null") end
  os.remove(self.logfile)
  os.remove(self.portfile)
  os.remove(self.base)
end

if arg and arg[0] and arg[0]:match("tunnel_proxy%.lua$") and arg[1] then
  serve(arg[1], arg[2])
end

return M
