-- Inside nginx, how connections to the cloud are made: DNS failures that will not get
-- better fail at once, TLS decides as the curl transport does (IP addresses included)
-- with the hint that fits the failure, and an HTTP proxy works through CONNECT.
local env = require "support.cloudenv"
local appnginx = require "support.appnginx"
local certs = require "support.certs"
local dns_stub = require "support.dns_stub"
local connect_proxy = require "support.connect_proxy"
local launcher = require "fakecloud.launcher"

local TRUST_HINT = "lua_ssl_trusted_certificate"

describe("connections inside nginx", function()
  local fc, app, c, nx, mute, loopback, refused
  local ipfc, selffc, wrongipfc, namefc -- HTTPS emulators with different certificates

  local function tls_emulator(cert, key)
    return assert(launcher.start{ config = { job_duration = 0.02 }, tls = { cert = cert, key = key } })
  end

  setup(function()
    c = certs.new()
    -- For 127.0.0.1 by its IP entry only: a subject CN that is no address, so that nothing
    -- but the subjectAltName can make it match.
    ipfc = tls_emulator(c:server("ip", { cn = "spec-ip-san", san = "IP:127.0.0.1" }))
    selffc = tls_emulator(c:server("self", { cn = "127.0.0.1", san = "IP:127.0.0.1", self_signed = true }))
    -- From the trusted CA, for another address (and a subject CN of ours, which must not count).
    wrongipfc = tls_emulator(c:server("wrongip", { cn = "127.0.0.1", san = "IP:127.0.0.2" }))
    namefc = tls_emulator(c:server("name", { cn = "wrong.example", san = "DNS:wrong.example" }))
    fc = env.start{ job_duration = 0.02 }
    nx, mute, loopback = dns_stub.start("nxdomain"), dns_stub.start("mute"), dns_stub.start("loopback")
    refused = dns_stub.start("refused")
    app = assert(appnginx.start{ emulator = fc, trust = c.ca,
      resolvers = { nx = nx.port, mute = mute.port, loopback = loopback.port, refused = refused.port } })
  end)

  teardown(function()
    for _, x in ipairs{ app, fc, ipfc, selffc, wrongipfc, namefc } do x:stop() end
    for _, x in ipairs{ nx, mute, loopback, refused } do x.stop() end
    c:remove()
  end)

  local function fetch(path, q) return app:json(path .. "?" .. q) end
  local function escape(s)
    return (s:gsub("[^%w._~-]", function(ch) return ("%%%02X"):format(ch:byte()) end))
  end
  local function port_of(url) return url:match(":(%d+)$") end

  describe("DNS", function()
    local function stop_at(prefix, host)
      return app:json(prefix .. "/stop?service=ecs&from=1&to=3&retry=default&endpoint=http://" .. host .. ":"
        .. port_of(fc.url))
    end

    it("fails at once, naming the fix, without a resolver directive", function()
      local before = fc:stats().calls.total
      local res = stop_at("", "cloud-spec.invalid")
      assert.are.same({ false, 3, "cloud.dns" }, { res.ok, res.failed, res.first_code })
      assert.matches("add a `resolver` directive", res.first_failure, 1, true)
      -- With the default retry policy, retrying would take 1 + 2 + 4 + ... seconds.
      assert.is_true(res.elapsed < 3, "took " .. res.elapsed .. " s")
      assert.are.equal(before, fc:stats().calls.total)
    end)

    it("fails at once when the name does not exist", function()
      local asked = nx.queries()
      local res = stop_at("/nx", "cloud-spec.invalid")
      assert.are.same({ false, 3, "cloud.dns" }, { res.ok, res.failed, res.first_code })
      assert.matches("no such host name", res.first_failure, 1, true)
      assert.is_true(res.elapsed < 3, "took " .. res.elapsed .. " s")
      assert.is_true(nx.queries() > asked, "the resolver was never asked")
    end)

    it("fails a dry run within seconds, naming the resolver, when the resolver refuses", function()
      local asked = refused.queries()
      local res = app:json("/refused/stop?service=ecs&from=1&to=3&retry=default&dry_run=1"
        .. "&endpoint=http://cloud-spec.invalid:" .. port_of(fc.url))
      local code, why = res.first_code or res.code, res.first_failure or res.error
      assert.are.equal("cloud.dns", code, why)
      assert.is_not_true(res.ok)
      assert.matches("the resolver refused or failed the lookup", why, 1, true)
      assert.matches("5: Operation refused", why, 1, true)
      -- Retried with the default policy, as it was, this took 193 s; libcurl's transport does
      -- not retry it either. A generous bound: the specs also run under valgrind.
      assert.is_true(res.elapsed < 30, "took " .. res.elapsed .. " s")
      assert.is_true(refused.queries() > asked, "the resolver was never asked")
      assert.are.equal(0, fc:stats().calls.action)
    end)

    it("keeps a resolver that does not answer transient: retried", function()
      local r = fetch("/mute/fetch", "url=http://cloud-spec.invalid:" .. port_of(fc.url) .. "/")
      assert.are.same({ "connect", false }, { r.error, r.sent })
      assert.matches("timed out", r.message, 1, true)
      assert.is_true(r.elapsed >= 0.9, tostring(r.elapsed))
      local asked = mute.queries()
      local res = app:json("/mute/stop?service=ecs&from=1&to=1&attempts=2&endpoint=http://cloud-spec.invalid:"
        .. port_of(fc.url))
      assert.are.same({ false, "cloud.connect" }, { res.ok, res.first_code })
      assert.is_true(res.elapsed >= 1.8, "not retried: " .. res.elapsed .. " s")
      assert.is_true(mute.queries() >= asked + 2, "asked " .. (mute.queries() - asked) .. " times")
    end)

    it("resolves through the resolver directive when it answers", function()
      local r = fetch("/loopback/fetch", "url=http://cloud-spec.test:" .. port_of(fc.url) .. "/__admin/stats")
      assert.are.equal(200, r.status, r.message)
    end)
  end)

  describe("TLS", function()
    it("accepts a certificate for the IP address from a trusted CA, and refuses it untrusted", function()
      local r = fetch("/fetch", "url=" .. ipfc.url .. "/__admin/stats")
      assert.are.equal(200, r.status, r.message)
      -- fresh: a pooled connection (made under the other location's trust store) would skip the handshake.
      r = fetch("/fetch-system-ca", "fresh=1&url=" .. ipfc.url .. "/__admin/stats")
      assert.are.same({ "tls", false }, { r.error, r.sent })
    end)

    it("refuses a trusted certificate for another address, with no trust store hint", function()
      local r = fetch("/fetch", "url=" .. wrongipfc.url .. "/__admin/stats")
      assert.are.same({ "tls", false }, { r.error, r.sent })
      assert.matches("not for 127.0.0.1", r.message, 1, true)
      assert.is_nil(r.message:find(TRUST_HINT, 1, true), r.message)
    end)

    it("refuses a trusted certificate for another host name, with no trust store hint", function()
      local r = fetch("/loopback/fetch", "url=https://cloud-spec.test:" .. port_of(namefc.url) .. "/__admin/stats")
      assert.are.same({ "tls", false }, { r.error, r.sent })
      assert.matches("certificate host mismatch", r.message, 1, true)
      assert.is_nil(r.message:find(TRUST_HINT, 1, true), r.message)
      -- The same server under the name in its certificate passes (SNI and nginx's name check).
      r = fetch("/loopback/fetch", "url=https://wrong.example:" .. port_of(namefc.url) .. "/__admin/stats")
      assert.are.equal(200, r.status, r.message)
    end)

    it("names the trust store whenever the issuer is not trusted, whatever OpenSSL's wording", function()
      -- "21: unable to verify the first certificate": a CA nginx was not given.
      local r = fetch("/fetch-system-ca", "fresh=1&url=" .. ipfc.url .. "/__admin/stats")
      assert.matches("^TLS handshake with 127%.0%.0%.1:%d+: 21: ", r.message)
      assert.matches(TRUST_HINT, r.message, 1, true)
      -- "18: self-signed certificate": no word of verifying in it.
      r = fetch("/fetch", "url=" .. selffc.url .. "/__admin/stats")
      assert.are.same({ "tls", false }, { r.error, r.sent })
      assert.matches("^TLS handshake with 127%.0%.0%.1:%d+: 18: ", r.message)
      assert.matches(TRUST_HINT, r.message, 1, true)
    end)

    it("skips the checks only with verify_tls = false", function()
      for _, emu in ipairs{ selffc, wrongipfc } do
        local r = fetch("/fetch", "verify=0&url=" .. emu.url .. "/__admin/stats")
        assert.are.equal(200, r.status, r.message)
      end
    end)
  end)

  describe("through an HTTP proxy", function()
    local proxy
    before_each(function() proxy = connect_proxy.start() end)
    after_each(function() proxy.stop() end)

    it("stops servers through a CONNECT tunnel; the proxy sees nothing of the signed requests", function()
      ipfc:reset()
      local res = app:json("/stop?service=ecs&from=1&to=6&endpoint=" .. ipfc.url .. "&proxy=" .. proxy.url)
      assert.is_true(res.ok, res.first_failure or res.error)
      assert.are.equal(6, res.stopped)
      local stats = ipfc:stats()
      assert.are.equal(6, stats.stop_requests.total)
      assert.are.equal(0, stats.stop_requests.sent_more_than_once)
      local lines = proxy.log()
      assert.is_true(#lines >= 1, "the proxy saw no request")
      for _, line in ipairs(lines) do
        assert.are.equal("CONNECT 127.0.0.1:" .. port_of(ipfc.url) .. " HTTP/1.1", line)
      end
      -- What went through it is TLS records only (content type 22 opens a handshake).
      local relayed = proxy.relayed()
      assert.is_true(#relayed > 1000, "relayed only " .. #relayed .. " bytes")
      assert.are.equal(22, relayed:byte(1))
      for _, clear in ipairs{ fc.ak, "Authorization", "os-stop", "/v1/", "X-Sdk-Date" } do
        assert.is_nil(relayed:find(clear, 1, true), clear .. " went through the proxy in clear")
      end
    end)

    it("sends the proxy's credentials from the URL, and reports a refusal as a connect error", function()
      proxy.stop()
      proxy = connect_proxy.start{ auth = "spec user:p@ss" }
      local at = proxy.url:gsub("^http://", "")
      local r = fetch("/fetch",
        "url=" .. ipfc.url .. "/__admin/stats&proxy=" .. escape("http://spec%20user:p%40ss@" .. at))
      assert.are.equal(200, r.status, r.message)
      r = fetch("/fetch", "url=" .. ipfc.url .. "/__admin/stats&proxy=" .. escape("http://spec%20user:wrong@" .. at))
      assert.are.same({ "connect", false }, { r.error, r.sent })
      assert.matches("407", r.message, 1, true)
      assert.is_nil(r.message:find("wrong", 1, true), "the password is in the message: " .. r.message)
    end)

    it("tunnels plain http endpoints too, and verifies TLS inside the tunnel", function()
      local r = fetch("/fetch", "url=" .. fc.url .. "/__admin/stats&proxy=" .. proxy.url)
      assert.are.equal(200, r.status, r.message)
      r = fetch("/fetch", "url=" .. wrongipfc.url .. "/__admin/stats&proxy=" .. proxy.url)
      assert.are.same({ "tls", false }, { r.error, r.sent })
      assert.are.same({ "CONNECT 127.0.0.1:" .. port_of(fc.url) .. " HTTP/1.1",
                        "CONNECT 127.0.0.1:" .. port_of(wrongipfc.url) .. " HTTP/1.1" }, proxy.log())
    end)
  end)

  it("left no Lua errors or aborted threads in the app's error log", function()
    local log = app:log()
    for _, bad in ipairs{ "runtime error", "thread aborted", "[alert]", "[crit]", "[emerg]" } do
      assert.is_nil(log:find(bad, 1, true), bad .. " in:\n" .. log:sub(-3000))
    end
  end)
end)
