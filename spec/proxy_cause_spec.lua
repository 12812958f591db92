-- A failure at a proxy is named as the cause (cloud.net.proxy_cause): libcurl's own words
-- ("Failed to connect to 127.0.0.1 port 1") do not say that address is the proxy's.
local proxy_cause = require "cloud.net.proxy_cause"
local transport = require "cloud.net.transport"
local answer = require "cloud.net.answer"
local connect_proxy = require "support.connect_proxy"
local launcher = require "fakecloud.launcher"

describe("cloud.net.proxy_cause", function()
  it("parses proxy URLs as libcurl takes them, never keeping a password", function()
    local cases = {
      { "http://127.0.0.1:3128", "127.0.0.1", 3128, "http://127.0.0.1:3128" },
      { "http://user:secret@LocalHost:8080/", "localhost", 8080, "http://LocalHost:8080" },
      { "localhost", "localhost", 1080, "http://localhost:1080" },
      { "https://localhost", "localhost", 443, "https://localhost:443" },
      { "http://[::1]:3128", "::1", 3128, "http://[::1]:3128" },
      { "socks5h://127.0.0.1:1080", "127.0.0.1", 1080, "socks5h://127.0.0.1:1080" },
    }
    for _, c in ipairs(cases) do
      local p = proxy_cause.parse(c[1])
      assert.are.same({ c[2], c[3], c[4] }, { p.host, p.port, p.shown }, c[1])
    end
    assert.is_nil(proxy_cause.parse(""))
    assert.is_nil(proxy_cause.parse("http://"))
    assert.is_nil(proxy_cause.parse(nil))
  end)

  it("takes the proxy option, or the variables libcurl reads", function()
    local env = { HTTPS_PROXY = "http://a:1", http_proxy = "http://b:2", HTTP_PROXY = "http://ignored:3",
                  ALL_PROXY = "http://c:4" }
    local got = proxy_cause.candidates("env", function(k) return env[k] end)
    local from = {}
    for i, p in ipairs(got) do from[i] = p.from .. "=" .. p.shown end
    assert.are.same({ "HTTPS_PROXY=http://a:1", "http_proxy=http://b:2", "ALL_PROXY=http://c:4" }, from)
    assert.are.equal("the proxy option", proxy_cause.candidates("http://d:5")[1].from)
    assert.are.same({}, proxy_cause.candidates(nil))
  end)

  it("names the proxy only when the failure was at it", function()
    local proxies = proxy_cause.candidates("env", function(k)
      return ({ HTTPS_PROXY = "http://u:pw@proxy.example:3128" })[k]
    end)
    local r = { error = "connect", message = "Failed to connect to proxy.example port 3128 after 3 ms: refused" }
    proxy_cause.name(r, proxies)
    assert.are.equal("the proxy http://proxy.example:3128 (from HTTPS_PROXY) could not be reached: "
      .. "Failed to connect to proxy.example port 3128 after 3 ms: refused", r.message)
    assert.are.equal("http://proxy.example:3128", r.proxy)
    assert.is_nil(r.message:find("pw", 1, true))
    -- The cloud's own address: not the proxy's doing.
    r = { error = "connect", message = "Failed to connect to ecs.example port 443 after 3 ms: refused" }
    proxy_cause.name(r, proxies)
    assert.is_nil(r.proxy)
    r = { error = "timeout", message = "Failed to connect to proxy.example port 3128 after 3000 ms: Timeout" }
    proxy_cause.name(r, proxies)
    assert.truthy(r.message:find("^the proxy http://proxy.example:3128 %(from HTTPS_PROXY%) did not answer in time"))
    r = { error = "dns", proxy_unresolved = true, message = "Could not resolve proxy: proxy.example" }
    proxy_cause.name(r, proxies)
    assert.truthy(r.message:find("^the proxy http://proxy.example:3128 %(from HTTPS_PROXY%) does not resolve"))
    r = { error = "connect", proxy_status = 407, peer = "10.0.0.9:3128", message = "CONNECT tunnel failed" }
    proxy_cause.name(r, proxies)
    assert.truthy(r.message:find("refused the tunnel with HTTP 407 (it wants a user and password", 1, true), r.message)
  end)

  describe("through the curl transport", function()
    local fc, proxy
    setup(function()
      fc = assert(launcher.start{ config = {} })
      proxy = connect_proxy.start{ auth = "user:pass" }
    end)
    teardown(function()
      if proxy then proxy.stop() end
      if fc then fc:stop() end
    end)

    local function one(opts, url)
      local engine = transport.new(opts)
      finally(function() engine:close() end)
      engine:add(1, "GET", url, {}, nil)
      local out
      for _ = 1, 200 do
        out = engine:run(0.1)
        if out and out[1] then break end
      end
      return assert(out and out[1], "no response")
    end

    it("a proxy that is not there is named, and the call counts as not sent", function()
      local r = one({ transport = "curl", proxy = "http://127.0.0.1:1", timeout = 20, connect_timeout = 10 },
        fc.url .. "/v3/projects")
      assert.are.equal("connect", r.error)
      assert.is_false(r.sent)
      local err = answer.transport_error(r)
      assert.are.equal("cloud.connect", err.code)
      assert.are.equal("http://127.0.0.1:1", err.proxy)
      assert.truthy(tostring(err):find("the proxy http://127.0.0.1:1 (from the proxy option) could not be reached",
        1, true), tostring(err))
    end)

    it("a proxy refusing the tunnel is named, and nothing reached the cloud", function()
      local before = fc:stats().calls.total
      local r = one({ transport = "curl", proxy = proxy.url, verify_tls = false, timeout = 20, connect_timeout = 10 },
        "https://127.0.0.1:" .. fc.port .. "/v3/projects")
      assert.are.equal("connect", r.error)
      assert.is_false(r.sent)
      assert.are.equal(407, r.proxy_status)
      assert.truthy(r.message:find("the proxy " .. proxy.url .. " (from the proxy option) refused the tunnel with "
        .. "HTTP 407", 1, true), r.message)
      assert.are.equal(before, fc:stats().calls.total)
    end)

    it("leaves a failure that is not the proxy's as it was", function()
      local r = one({ transport = "curl", timeout = 20, connect_timeout = 10 }, "http://127.0.0.1:1/x")
      assert.are.equal("connect", r.error)
      assert.is_nil(r.proxy)
      assert.is_nil(r.message:find("proxy", 1, true))
    end)
  end)
end)
