--- One request on a transport, waited for: the few calls made outside an operation's
-- scheduler (IAM's project lookup, the metadata service). Works on both transports: on
-- nginx's, waiting yields to the worker.
-- @module cloud.net.sync
local M = {}

--- Sends one request and returns its response table (see cloud.net.transport), never nil:
-- the transport's timeouts end every call. Answers to other ids (calls of an earlier,
-- abandoned operation on the same engine, which nobody waits for any more) are dropped.
function M.exchange(transport, id, method, url, headers, body, raw)
  transport:add(id, method, url, headers, body, false, raw)
  while true do
    local done = transport:run(1)
    for i = 1, done and #done or 0 do
      local r = done[i]
      if r.id == id then return r end
      if type(r.body) == "userdata" then r.body:close() end
    end
  end
end

--- Waits `seconds` on the transport (nothing of ours is in flight: its run is a sleep
-- that, inside nginx, yields to the worker).
function M.sleep(transport, seconds)
  if seconds > 0 then transport:run(seconds) end
end

return M
