-- A small HTTP proxy on 127.0.0.1 for specs: CONNECT tunnels (what clients use for
-- https:// through a proxy) and plain forwarding of absolute-form requests
-- ("GET http://127.0.0.1:port/... HTTP/1.1", what curl sends for http:// through a proxy).
-- It records every request line it gets, and every byte a client sent on through it, so
-- a spec can tell what the proxy could read.
--
--   local proxy = require("support.connect_proxy").start{ auth = "user:pass" } -- auth optional
--   proxy.url            -- "http://127.0.0.1:<port>" (proxy.port alone too)
--   proxy.log()          -- { "CONNECT 127.0.0.1:8443 HTTP/1.1", ... }: the first request line
--                        -- of each connection, in arrival order
--   proxy.relayed()      -- the bytes clients sent to the servers through it, concatenated
--                        -- (later requests on a forwarded keep-alive connection are there)
--   proxy.stop()
--
-- Only loopback destinations are served (403 otherwise): specs never reach anything else.
-- With `auth`, a request without `Proxy-Authorization: Basic <user:pass>` gets a 407.
-- Forwarded (non-CONNECT) connections stay tied to their first destination.
local M = {}

local function lines_of(s)
  local out = {}
  for line in (s or ""):gmatch("[^\n]+") do out[#out + 1] = line end
  return out
end

--- Starts the proxy in a background process. Raises when it does not come up.
function M.start(opts)
  opts = opts or {}
  local read = require("fakecloud.proc").read
  local server = assert(require("support.background").start("connect_proxy.lua", { opts.auth or "" }))
  local p = { port = server.port, url = "http://127.0.0.1:" .. server.port, stop = server.stop }
  function p.log() return lines_of(read(server.dir .. "/requests")) end
  function p.relayed() return read(server.dir .. "/relayed") or "" end
  return p
end

---------------------------------------------------------------------------------------
-- The server itself, when this file is run as a script: <dir> [user:pass]

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local function digit(shift) local d = math.floor(n / 2 ^ shift) % 64 return B64:sub(d + 1, d + 1) end
    out[#out + 1] = digit(18) .. digit(12) .. (b and digit(6) or "=") .. (c and digit(0) or "=")
  end
  return table.concat(out)
end

local LOOPBACK = { ["127.0.0.1"] = true, ["localhost"] = true, ["::1"] = true, ["[::1]"] = true }

local function serve(dir, auth)
  local socket = require "socket"
  local requests = assert(io.open(dir .. "/requests", "a"))
  local relayed = assert(io.open(dir .. "/relayed", "ab"))
  local listener = assert(socket.bind("127.0.0.1", 0))
  listener:settimeout(0)
  local want_auth = auth ~= "" and ("Basic " .. b64(auth)) or nil

  local conns = {} -- socket -> { peer = socket, head = string|nil (still reading it), client = bool }
  local function close(s)
    local c = conns[s]
    if not c then return end
    conns[s] = nil
    s:close()
    if c.peer and conns[c.peer] then conns[c.peer] = nil; c.peer:close() end
  end

  local function send_all(s, data)
    s:settimeout(5)
    local ok = s:send(data)
    s:settimeout(0)
    return ok
  end

  -- A complete request head from a client: open the way, or refuse.
  local function start_relay(s, c)
    local head, rest = c.head:match("^(.-\r\n\r\n)(.*)$")
    local line = head:match("^([^\r\n]*)")
    requests:write(line, "\n")
    requests:flush()
    local method, target = line:match("^(%u+) (%S+) HTTP/1%.%d$")
    local host, port
    if method == "CONNECT" then
      host, port = target:match("^(.*):(%d+)$")
    elseif target then
      host, port = target:match("^http://([^/:]+):?(%d*)")
      port = port ~= "" and port or "80"
    end
    local function refuse(status)
      send_all(s, "HTTP/1.1 " .. status .. "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
      close(s)
    end
    if not host then return refuse("400 Bad Request") end
    if want_auth then
      local given = head:match("\r\n[Pp]roxy%-[Aa]uthorization:%s*([^\r\n]*)")
      if given ~= want_auth then return refuse("407 Proxy Authentication Required") end
    end
    if not LOOPBACK[host] then return refuse("403 Forbidden") end
    local up = socket.tcp()
    up:settimeout(5)
    if not up:connect(host:gsub("^%[(.*)%]$", "%1"), tonumber(port)) then
      up:close()
      return refuse("502 Bad Gateway")
    end
    up:settimeout(0)
    c.head, c.peer = nil, up
    conns[up] = { peer = s, client = false }
    local forward
    if method == "CONNECT" then
      send_all(s, "HTTP/1.1 200 Connection established\r\n\r\n")
      forward = rest
    else
      forward = c.head_all -- the whole request goes on as it came
    end
    if forward ~= "" then
      relayed:write(forward)
      relayed:flush()
      send_all(up, forward)
    end
  end

  local tmp = dir .. "/port.tmp"
  local f = assert(io.open(tmp, "w"))
  f:write(select(2, listener:getsockname()), "\n")
  f:close()
  os.rename(tmp, dir .. "/port")

  while true do
    local readers = { listener }
    for s in pairs(conns) do readers[#readers + 1] = s end
    local ready = socket.select(readers, nil, 1)
    for _, s in ipairs(ready) do
      if s == listener then
        local client = listener:accept()
        if client then
          client:settimeout(0)
          conns[client] = { head = "", client = true }
        end
      elseif conns[s] then
        local c = conns[s]
        local data, err, partial = s:receive(65536)
        data = data or partial
        if data and data ~= "" then
          if c.head then
            c.head = c.head .. data
            if c.head:find("\r\n\r\n", 1, true) then
              c.head_all = c.head
              start_relay(s, c)
            elseif #c.head > 65536 then
              close(s)
            end
          else
            if c.client then
              relayed:write(data)
              relayed:flush()
            end
            if not send_all(c.peer, data) then close(s) end
          end
        end
        if err == "closed" then close(s) end
      end
    end
  end
end

if arg and arg[0] and arg[0]:match("connect_proxy%.lua$") then
  serve(arg[1], arg[2] or "")
end

return M
