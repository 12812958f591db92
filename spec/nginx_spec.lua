-- Inside nginx: the same API from a request and from a timer, over cosockets, without
-- ever blocking the worker; clear errors in phases where nginx allows no I/O.
local env = require "support.cloudenv"
local appnginx = require "support.appnginx"
local socket = require "socket"

local function sh(cmd)
  assert(os.execute("env -u LD_PRELOAD sh -c '" .. cmd .. "' >/dev/null 2>&1"), cmd)
end

describe("inside nginx", function()
  local fc, tfc, wfc, app, dir

  setup(function()
    -- A CA and a certificate for 127.0.0.1: the HTTPS emulator, trusted by the app nginx.
    dir = os.tmpname()
    os.remove(dir)
    sh(("mkdir -p %s && cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=spec-ca"
      .. " -keyout ca.key -out ca.pem && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1"
      .. " -keyout key.pem -out req.csr && printf \"subjectAltName=IP:127.0.0.1\\n\" > ext.cnf"
      .. " && openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
      .. " -extfile ext.cnf -out cert.pem"
      -- Signed by the same CA, but for another name: the chain verifies, the name does not.
      .. " && openssl req -newkey rsa:2048 -nodes -subj /CN=wrong.example -keyout key2.pem -out req2.csr"
      .. " && printf \"subjectAltName=DNS:wrong.example\\n\" > ext2.cnf"
      .. " && openssl x509 -req -in req2.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
      .. " -extfile ext2.cnf -out cert2.pem"):format(dir, dir))
    fc = env.start{
      job_duration = 0.05,
      fleet = { ecs = { { count = 3000, name = "web-%d", status = "ACTIVE" } },
                bms = { { count = 1000, name = "bm-%d", status = "ACTIVE" } } },
    }
    tfc = assert(require("fakecloud.launcher").start{ config = { job_duration = 0.02 },
      tls = { cert = dir .. "/cert.pem", key = dir .. "/key.pem" } })
    wfc = assert(require("fakecloud.launcher").start{ config = { job_duration = 0.02 },
      tls = { cert = dir .. "/cert2.pem", key = dir .. "/key2.pem" } })
    app = assert(appnginx.start{ emulator = fc, trust = dir .. "/ca.pem" })
  end)

  teardown(function()
    if app then app:stop() end
    if fc then fc:stop() end
    if tfc then tfc:stop() end
    if wfc then wfc:stop() end
    if dir then sh("rm -rf " .. dir) end
  end)

  before_each(function()
    fc:configure{ faults = { seed = 3 }, job_duration = 0.05 }
    fc:reset()
  end)

  local function assert_all_stopped(res, n)
    assert.is_nil(res.error, res.error)
    assert.is_true(res.ok, res.first_failure)
    assert.are.equal(n, res.stopped)
  end

  local function wait_result(key, limit)
    local t0 = socket.gettime()
    while socket.gettime() - t0 < (limit or 15) do
      local code, body = app:get("/result?key=" .. key)
      if code == 200 then return require("cjson").decode(body) end
      socket.sleep(0.02)
    end
    error("no result for " .. key .. "\n" .. app:log():sub(-2000))
  end

  it("calls on_request once per HTTP attempt, as the curl transport does", function()
    fc:configure{ faults = { seed = 5, status = { [429] = 0.3 }, retry_after = 0 } }
    local r = app:json("/stop?service=ecs&from=1&to=1500&observe=1")
    assert_all_stopped(r, 1500)
    local stats = fc:stats()
    assert.are.equal(stats.calls.total, r.observed.n)
    assert.is_true(r.observed.fields)
    assert.are.equal(stats.faults["429"], r.observed.statuses["429"])
    assert.is_true(r.observed.paths["POST /v1/{project_id}/cloudservers/action"])
    assert.is_true(r.observed.paths["GET /v1/{project_id}/jobs/{job_id}"])
  end)

  it("stops ECS and BMS fleets from a content handler through 429s, each sent once", function()
    fc:configure{ faults = { seed = 5, status = { [429] = 0.3 }, retry_after = 0 } }
    local ecs = app:json("/stop?service=ecs&from=1&to=3000")
    local bms = app:json("/stop?service=bms&from=1&to=1000")
    assert.are.equal("content", ecs.phase)
    assert_all_stopped(ecs, 3000)
    assert_all_stopped(bms, 1000)
    local stats = fc:stats()
    assert.is_true((stats.faults["429"] or 0) > 0, "no 429 was injected")
    assert.are.equal(4000, stats.stop_requests.total)
    assert.are.equal(0, stats.stop_requests.sent_more_than_once)
    assert.are.equal(3000, stats.servers.ecs.SHUTOFF)
    assert.are.equal(1000, stats.servers.bms.SHUTOFF)
  end)

  it("stops both fleets at once from two timers sharing a client made in init_by_lua, "
    .. "through 429s and drops", function()
    fc:configure{ faults = { seed = 9, status = { [429] = 0.3 }, retry_after = 0, drop = 0.05, drop_after = 0.05 } }
    assert.are.equal("started\n", select(2, app:get("/timer?service=ecs&from=1&to=3000&shared=1&key=e")))
    assert.are.equal("started\n", select(2, app:get("/timer?service=bms&from=1&to=1000&shared=1&key=b")))
    local ecs, bms = wait_result("e"), wait_result("b")
    assert.are.equal("timer", ecs.phase)
    assert_all_stopped(ecs, 3000)
    assert_all_stopped(bms, 1000)
    local stats = fc:stats()
    assert.is_true((stats.faults["429"] or 0) > 0, "no 429 was injected")
    assert.is_true((stats.faults.drop or 0) + (stats.faults.drop_after or 0) > 0, "no connection was dropped")
    assert.are.equal(4000, stats.stop_requests.total)
    assert.are.equal(0, stats.stop_requests.sent_more_than_once)
  end)

  -- Pings the single worker while a stop is waiting on a 500 ms cloud; returns the
  -- slowest ping.
  local function slowest_ping(still_running)
    socket.sleep(0.15)
    local worst = 0
    for _ = 1, 5 do
      local code, body, took = app:get("/ping")
      assert.are.equal(200, code)
      assert.are.equal("pong\n", body)
      worst = math.max(worst, took)
      socket.sleep(0.05)
    end
    assert.is_true(still_running(), "the stop ended before the pings: the test proves nothing")
    return worst
  end

  it("keeps the worker answering while a stop started in a timer waits on the cloud", function()
    fc:configure{ faults = { seed = 1, latency = 0.5 } }
    app:get("/timer?service=ecs&from=1&to=20&key=slow")
    local worst = slowest_ping(function() return app:get("/result?key=slow") == 404 end)
    print(("\n/ping during a stop in a timer: slowest %.1f ms"):format(worst * 1000))
    assert.is_true(worst < 0.25, ("a ping took %.3f s"):format(worst))
    assert_all_stopped(wait_result("slow"), 20)
  end)

  it("keeps the worker answering while a stop runs in a content handler", function()
    fc:configure{ faults = { seed = 1, latency = 0.5 } }
    local host, port = app.url:match("^http://([^:]+):(%d+)")
    local conn = assert(socket.connect(host, tonumber(port)))
    conn:send("GET /stop?service=bms&from=1&to=20 HTTP/1.0\r\nHost: x\r\n\r\n")
    local worst = slowest_ping(function()
      conn:settimeout(0)
      local _, err, partial = conn:receive("*a")
      conn:settimeout(nil)
      return err == "timeout" and partial == ""
    end)
    print(("\n/ping during a stop in a content handler: slowest %.1f ms"):format(worst * 1000))
    assert.is_true(worst < 0.25, ("a ping took %.3f s"):format(worst))
    conn:settimeout(15)
    local answer = assert(conn:receive("*a"))
    conn:close()
    assert_all_stopped(require("cjson").decode(answer:match("\r\n\r\n(.*)$")), 20)
  end)

  it("(control) would show a blocked worker with the libcurl engine", function()
    fc:configure{ faults = { seed = 1, latency = 0.5 } }
    app:get("/timer?service=ecs&from=1&to=2&key=curl&curl=1")
    socket.sleep(0.15)
    local _, _, took = app:get("/ping")
    print(("\n/ping during a libcurl stop inside nginx: %.1f ms"):format(took * 1000))
    assert.is_true(took > 0.3)
    assert_all_stopped(wait_result("curl"), 2)
  end)

  it("refuses phases without I/O with an error naming the phase and the fix", function()
    app:get("/logphase")
    socket.sleep(0.1)
    local e = app:json("/errors")
    for _, phase in ipairs{ "init", "init_worker", "log" } do
      local text = e[phase]
      assert.is_string(text, phase .. ": nothing recorded")
      assert.matches("'" .. phase .. "' phase", text, 1, true)
      assert.matches(phase .. "_by_lua*", text, 1, true)
      assert.matches("ngx.timer.at(0, function(premature)", text, 1, true)
    end
    assert.are.equal(0, fc:stats().calls.total)
  end)

  it("refuses ca_file inside nginx, pointing to nginx.conf, and proxies it cannot tunnel through", function()
    local _, text = app:get("/new?opt=ca_file")
    assert.matches("lua_ssl_trusted_certificate /tmp/x.pem;", text, 1, true)
    _, text = app:get("/new?opt=proxy&value=https%3A%2F%2F127.0.0.1%3A3128")
    assert.matches("option 'proxy' must be an http:// proxy inside nginx", text, 1, true)
    _, text = app:get("/new?opt=proxy&value=socks5%3A%2F%2F127.0.0.1%3A1080")
    assert.matches("option 'proxy' must be an http:// proxy inside nginx", text, 1, true)
    _, text = app:get("/new?opt=proxy&value=http%3A%2F%2F127.0.0.1%3A3128")
    assert.are.equal("no error\n", text)
  end)

  describe("the HTTP/1.1 client", function()
    local function fetch(q) return app:json("/fetch?" .. q) end

    it("reads chunked bodies, skips 1xx answers and keeps the headers the client needs", function()
      local r = fetch("path=/raw/chunked")
      assert.are.same({ 7, 200, "hello world", true, "req-1", "3", "Sun, 22 Nov 2026 10:15:00 GMT" },
        { r.id, r.status, r.body, r.sent, r.request_id, r.retry_after, r.date })
      assert.is_nil(r.error)
      r = fetch("path=/raw/interim")
      assert.are.same({ 201, "ok" }, { r.status, r.body })
    end)

    it("reads a body that ends with the connection", function()
      local r = fetch("path=/raw/close")
      assert.are.same({ 503, "until the end" }, { r.status, r.body })
    end)

    it("sends method, target, headers and body as given", function()
      local r = fetch("path=/raw/echo%3Fa%3D1&method=POST&body=abc")
      assert.are.equal("POST /raw/echo?a=1 3 1", r.body)
    end)

    it("caps the answer: Content-Length, chunked and headers", function()
      for _, path in ipairs{ "/raw/big", "/raw/bigchunked", "/raw/hugeheader" } do
        local r = fetch("max=4096&path=" .. path)
        assert.are.same({ 0, "too_large", true }, { r.status, r.error, r.sent }, path)
      end
    end)

    it("classifies failures like the C engine", function()
      local r = fetch("path=/raw/short")
      assert.are.same({ "dropped", true }, { r.error, r.sent })
      r = fetch("path=/raw/garbage")
      assert.are.same({ "transport", true }, { r.error, r.sent })
      r = fetch("timeout=0.3&path=/raw/slow")
      assert.are.same({ "timeout", true }, { r.error, r.sent })
      assert.is_true(r.elapsed >= 0.25 and r.elapsed < 1.5, tostring(r.elapsed))
      local s = assert(socket.bind("127.0.0.1", 0))
      local _, port = s:getsockname()
      s:close()
      r = fetch("url=http://127.0.0.1:" .. port .. "/")
      assert.are.same({ 0, "connect", false }, { r.status, r.error, r.sent })
      -- nginx resolves names itself: without a resolver directive, say so (and it will
      -- not get better by trying again).
      r = fetch("url=http://localhost:" .. port .. "/")
      assert.are.same({ "dns", false }, { r.error, r.sent })
      assert.matches("add a `resolver` directive", r.message, 1, true)
    end)

    it("drops the calls not yet started, which are then never sent", function()
      assert.are.same({ dropped = 2, answered = 2, hits = 2, active = 0, queued = 0 }, app:json("/drop"))
    end)

    it("reuses connections, except for calls that must not go twice", function()
      fetch("path=/conn")
      local again = tonumber(fetch("path=/conn").body)
      assert.is_true(again >= 2, "not reused: " .. again)
      assert.are.equal("1", fetch("path=/conn&fresh=1").body)
      assert.are.equal("1", fetch("path=/conn&fresh=1").body)
    end)

    it("verifies TLS with nginx's trust store, and never mixes pools across verify settings", function()
      local ok = "/__admin/stats"
      local r = fetch("url=" .. tfc.url .. ok)
      assert.are.equal(200, r.status, r.message)
      -- wfc's certificate comes from the trusted CA, but is for another name.
      local wrong = wfc.url .. ok
      r = fetch("url=" .. wrong)
      assert.are.same({ "tls", false }, { r.error, r.sent })
      r = fetch("verify=0&url=" .. wrong)
      assert.are.equal(200, r.status, r.message)
      -- An unverified connection to it now waits in a pool: a verified call must not get it.
      r = fetch("url=" .. wrong)
      assert.are.equal("tls", r.error, require("cjson").encode(r) .. app:log():sub(-3000))
      local pool = require("cloud.nginx.connect").pool_name
      assert.are_not.equal(pool("https", "h", 443, true), pool("https", "h", 443, false))
      assert.are_not.equal(pool("https", "h", 80, true), pool("http", "h", 80, true))
      local proxy = { host = "p", port = 3128 }
      assert.are_not.equal(pool("https", "h", 443, true), pool("https", "h", 443, true, proxy))
    end)
  end)

  it("left no Lua errors or aborted threads in the app's error log", function()
    local log = app:log()
    for _, bad in ipairs{ "runtime error", "thread aborted", "[alert]", "[crit]", "[emerg]" } do
      assert.is_nil(log:find(bad, 1, true), bad .. " in:\n" .. log:sub(-3000))
    end
  end)

  it("does nothing with ngx when required", function()
    local saved, loaded = _G.ngx, {}
    for name in pairs(package.loaded) do
      if name == "cloud" or name:match("^cloud%.") and name ~= "cloud.core" then
        loaded[name] = package.loaded[name]
        package.loaded[name] = nil
      end
    end
    _G.ngx = setmetatable({}, { __index = function(_, k) error("touched ngx." .. k .. " at require time") end })
    local ok, err = pcall(function()
      for _, m in ipairs{ "cloud", "cloud.net.transport", "cloud.nginx.transport", "cloud.nginx.http",
        "cloud.nginx.reader", "cloud.nginx.phase", "cloud.nginx.connect", "cloud.nginx.tls", "cloud.nginx" } do
        require(m)
      end
    end)
    _G.ngx = saved
    for name, m in pairs(loaded) do package.loaded[name] = m end
    assert(ok, err)
  end)
end)
