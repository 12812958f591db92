-- One table of defaults (lua/cloud/base/defaults.lua): core.http's own defaults, for callers
-- that give none, and the nginx transport's equal it. The C engine is checked by what it
-- does, against a server on 127.0.0.1 in this process.
local core = require "cloud.core"
local defaults = require "cloud.base.defaults"
local socket = require "socket"

-- A server that accepts every connection, reads each request's head and hands the
-- connection to `answer(conn)`, which returns a function sending more (true while it has
-- more to send), or nil. Driven by turns of `engine:run` until the request `id` is done.
-- Returns that response and how many connections were open at once at most.
local function drive(engine, answer, turns)
  local server = assert(socket.bind("127.0.0.1", 0))
  server:settimeout(0)
  local _, port = server:getsockname()
  local url = ("http://127.0.0.1:%d/"):format(port)
  local conns, most = {}, 0
  local function step()
    local c = server:accept()
    if c then
      c:settimeout(0)
      conns[#conns + 1] = { sock = c, head = "" }
      most = math.max(most, #conns)
    end
    for _, k in ipairs(conns) do
      if not k.send then
        local data, err, partial = k.sock:receive(4096)
        k.head = k.head .. (data or partial or "")
        if k.head:find("\r\n\r\n", 1, true) then k.send = answer(k.sock) or false end
        if err == "closed" then k.send = false end
      elseif k.send and not k.send() then
        k.send = false
      end
    end
  end
  return url, function()
    local done = {}
    for _ = 1, turns do
      step()
      for _, r in ipairs(engine:run(0.002) or {}) do done[#done + 1] = r end
      if #done > 0 then break end
    end
    for _, k in ipairs(conns) do k.sock:close() end
    server:close()
    return done, most
  end
end

describe("defaults", function()
  it("core.http keeps at most defaults.http.max_response bytes of an answer when given no limit", function()
    local engine = core.http{}
    local max = defaults.http.max_response
    local chunk = ("x"):rep(1024 * 1024)
    local url, run = drive(engine, function(sock)
      assert(sock:send(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"):format(max + 1)))
      local left = max + 1
      return function() -- nonblocking: as much as the socket takes
        local n = math.min(left, #chunk)
        local last, err, partial = sock:send(chunk, 1, n)
        local sent = last or partial or 0
        left = left - sent
        if err and err ~= "timeout" then return false end
        return left > 0
      end
    end, 100000)
    engine:add(1, "GET", url, {}, nil, false, false)
    local done = run()
    engine:close()
    assert.are.equal(1, #done)
    assert.are.equal("too_large", done[1].error)
    assert.are.equal(("response larger than %d bytes"):format(max), done[1].message)
  end)

  it("core.http runs at most defaults.http.concurrency calls at once when given no number", function()
    local engine = core.http{}
    local n = defaults.http.concurrency
    local url, run = drive(engine, function() return nil end, 300) -- never answers
    for id = 1, n + 2 do engine:add(id, "GET", url, {}, nil, true, false) end
    local done, most = run()
    assert.are.equal(0, #done)
    assert.are.equal(n, most)
    engine:close()
  end)

  it("the nginx transport takes the same defaults", function()
    local engine = require("cloud.nginx.transport").new{}
    local d = defaults.http
    assert.are.same({ d.concurrency, d.timeout, d.connect_timeout, d.verify_tls, d.max_response },
      { engine.concurrency, engine.http.timeout, engine.http.connect_timeout, engine.http.verify,
        engine.http.max_response })
  end)
end)
