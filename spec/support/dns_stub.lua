-- A DNS server on 127.0.0.1 (UDP) for specs, in three moods:
--   "nxdomain": every query is answered "no such name" (RCODE 3), as a real DNS server
--               answers for a mistyped host name;
--   "loopback": every name is 127.0.0.1 (A queries; others get no records);
--   "mute":     queries are read and never answered, as a DNS server that is down;
--   "refused":  every query is answered "refused" (RCODE 5), as a DNS server that does not
--               serve this client.
--
--   local dns = require("support.dns_stub").start("nxdomain")
--   -- resolver 127.0.0.1:<dns.port>;   dns.queries() -- how many it got;   dns.stop()
local M = {}

--- Starts the server in a background process. Raises when it does not come up.
function M.start(mood)
  local read = require("fakecloud.proc").read
  local server = assert(require("support.background").start("dns_stub.lua", { mood }))
  return { port = server.port, stop = server.stop,
           queries = function() return #(read(server.dir .. "/queries") or "") end }
end

-- The server, when this file is run as a script: <dir> <mood>
local function serve(dir, mood)
  local socket = require "socket"
  local udp = assert(socket.udp())
  assert(udp:setsockname("127.0.0.1", 0))
  local log = assert(io.open(dir .. "/queries", "a"))
  local tmp = dir .. "/port.tmp"
  local f = assert(io.open(tmp, "w"))
  f:write(select(2, udp:getsockname()), "\n")
  f:close()
  os.rename(tmp, dir .. "/port")
  while true do
    local query, ip, port = udp:receivefrom()
    if query and #query >= 12 then
      log:write(".")
      log:flush()
      -- The answer: same id and question (the query's other sections are dropped);
      -- flags: a response, recursion desired as asked, recursion available, the RCODE.
      local qend = query:find("\0", 13, true) -- the question's name ends with a zero byte
      local question = qend and query:sub(13, qend + 4) or ""
      local qtype = qend and (query:byte(qend + 1) * 256 + query:byte(qend + 2))
      local rd = query:byte(3) % 2
      if mood == "nxdomain" or mood == "refused" then
        local rcode = mood == "nxdomain" and 0x83 or 0x85
        udp:sendto(query:sub(1, 2) .. string.char(0x80 + rd, rcode) .. "\0\1\0\0\0\0\0\0" .. question, ip, port)
      elseif mood == "loopback" then
        -- One A record: a pointer to the question's name, type A, class IN, TTL 60, 127.0.0.1.
        local answer = qtype == 1 and "\192\12\0\1\0\1\0\0\0\60\0\4\127\0\0\1" or ""
        udp:sendto(query:sub(1, 2) .. string.char(0x80 + rd, 0x80) .. "\0\1\0" .. (qtype == 1 and "\1" or "\0")
          .. "\0\0\0\0" .. question .. answer, ip, port)
      end
    end
  end
end

if arg and arg[0] and arg[0]:match("dns_stub%.lua$") then
  serve(arg[1], arg[2])
end

return M
