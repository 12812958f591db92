-- cloud-stop's connection flags, run as a process: a private-CA endpoint (--ca-file,
-- --no-verify-tls), a CONNECT proxy from HTTPS_PROXY / NO_PROXY as curl reads them or from
-- --proxy, --timeout / --connect-timeout / --retries, --iam-endpoint and --credentials
-- metadata, and a message for each credentials source that did not serve.
local cli = require "spec.support.cli"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"
local connect_proxy = require "support.connect_proxy"

local function sh(cmd)
  assert(os.execute("env -u LD_PRELOAD sh -c '" .. cmd .. "' >/dev/null 2>&1"), cmd)
end

describe("cloud-stop connection flags", function()
  local dir, tls, plain, proxy

  local function keys(fc)
    return { HUAWEICLOUD_SDK_AK = fc.ak, HUAWEICLOUD_SDK_SK = fc.sk, HUAWEICLOUD_SDK_PROJECT_ID = fc.project_id,
             CLOUD_METADATA_ENDPOINT = "http://127.0.0.1:1" }
  end

  local function run(argv, env)
    local r = cli.run(argv, env)
    for _, fc in ipairs({ tls, plain }) do
      assert.is_nil(r.stdout:find(fc.sk, 1, true))
      assert.is_nil(r.stderr:find(fc.sk, 1, true))
    end
    return r
  end

  local function ecs(n) return ids.server_id("ecs", n) end

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    sh("mkdir -p " .. dir)
    -- A private CA, and a certificate for 127.0.0.1 signed by it (as spec/tls_spec.lua).
    sh(("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=private-ca -keyout ca.key -out ca.pem"
      .. " && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out req.csr"
      .. " && printf \"subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n\" > ext.cnf"
      .. " && openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf"
      .. " -out cert.pem")
      :format(dir))
    tls = assert(launcher.start{ config = { job_duration = 0.02 },
      tls = { cert = dir .. "/cert.pem", key = dir .. "/key.pem" } })
    plain = assert(launcher.start{ config = { job_duration = 0.02 } })
    proxy = connect_proxy.start()
  end)

  teardown(function()
    if proxy then proxy.stop() end
    if tls then tls:stop() end
    if plain then plain:stop() end
    os.execute("rm -rf " .. dir)
  end)

  before_each(function()
    for _, fc in ipairs({ tls, plain }) do
      assert(fc:configure{ faults = {}, metadata = {}, iam = { enabled = true } })
      assert(fc:reset())
    end
  end)

  local function connects()
    local n = 0
    for _, l in ipairs(proxy.log()) do
      if l == "CONNECT 127.0.0.1:" .. tls.port .. " HTTP/1.1" then n = n + 1 end
    end
    return n
  end

  it("--ca-file trusts a private CA; without it the certificate is refused", function()
    local r = run({ "ecs", ecs(1), "--endpoint", tls.url, "--ca-file", dir .. "/ca.pem", "--poll-interval", "0.05" },
      keys(tls))
    assert.equal(0, r.code, r.stderr)
    assert.equal(1, (tls:server(ecs(1))).stop_requests)
    r = run({ "ecs", ecs(2), "--endpoint", tls.url, "--poll-interval", "0.05" }, keys(tls))
    assert.equal(3, r.code, r.stderr)
    assert.truthy(r.stderr:find("cloud.tls", 1, true), r.stderr)
    assert.equal(0, (tls:server(ecs(2))).stop_requests)
    r = run({ "ecs", ecs(2), "--endpoint", tls.url, "--ca-file", dir .. "/missing.pem" }, keys(tls))
    assert.equal(2, r.code)
    assert.truthy(r.stderr:find("--ca-file cannot be read (No such file or directory)", 1, true), r.stderr)
  end)

  it("--no-verify-tls skips verification", function()
    local r = run({ "ecs", ecs(3), "--endpoint", tls.url, "--no-verify-tls", "--poll-interval", "0.05" }, keys(tls))
    assert.equal(0, r.code, r.stderr)
    assert.equal(1, (tls:server(ecs(3))).stop_requests)
  end)

  it("goes through the proxy in HTTPS_PROXY, except for hosts in NO_PROXY, as curl does", function()
    local env = keys(tls)
    env.HTTPS_PROXY = proxy.url
    local before = connects()
    local r = run({ "ecs", ecs(4), "--endpoint", tls.url, "--ca-file", dir .. "/ca.pem", "--poll-interval", "0.05" },
      env)
    assert.equal(0, r.code, r.stderr)
    assert.equal(1, (tls:server(ecs(4))).stop_requests)
    assert.truthy(connects() > before, table.concat(proxy.log(), "\n"))
    -- NO_PROXY: straight to the endpoint.
    before = connects()
    env.NO_PROXY = "127.0.0.1"
    r = run({ "ecs", ecs(5), "--endpoint", tls.url, "--ca-file", dir .. "/ca.pem", "--poll-interval", "0.05" }, env)
    assert.equal(0, r.code, r.stderr)
    assert.equal(before, connects())
    -- A proxy that is not there: nothing reaches the endpoint (the variable is honoured).
    env.NO_PROXY, env.HTTPS_PROXY = nil, "http://127.0.0.1:1"
    r = run({ "ecs", ecs(6), "--endpoint", tls.url, "--ca-file", dir .. "/ca.pem", "--retries", "0" }, env)
    assert.equal(3, r.code, r.stderr)
    assert.equal(0, (tls:server(ecs(6))).stop_requests)
    -- ... and it is named as the cause, not the endpoint.
    assert.truthy(r.stderr:find("cloud.connect: ", 1, true), r.stderr)
    assert.truthy(r.stderr:find("the proxy http://127.0.0.1:1 (from HTTPS_PROXY) could not be reached", 1, true),
      r.stderr)
  end)

  it("a proxy refusing the tunnel is named, with what it answered", function()
    local authed = connect_proxy.start{ auth = "user:pass" }
    finally(function() authed.stop() end)
    local r = run({ "ecs", ecs(6), "--endpoint", tls.url, "--ca-file", dir .. "/ca.pem", "--retries", "0",
                    "--proxy", authed.url }, keys(tls))
    assert.equal(3, r.code, r.stderr)
    assert.truthy(r.stderr:find("the proxy " .. authed.url .. " (from the proxy option) refused the tunnel with "
      .. "HTTP 407", 1, true), r.stderr)
    assert.equal(0, tls:stats().calls.total)
  end)

  it("a wrong secret key while finding the project: the signature error is the headline, once", function()
    local r = run({ "ecs", ecs(9), "--region", "cn-north-4", "--endpoint", plain.url, "--iam-endpoint", plain.url },
      { HUAWEICLOUD_SDK_AK = plain.ak, HUAWEICLOUD_SDK_SK = "WRONGSECRET" .. ("9"):rep(28),
        CLOUD_METADATA_ENDPOINT = "http://127.0.0.1:1" })
    assert.equal(3, r.code, r.stderr)
    assert.truthy(r.stderr:find("nothing was stopped: APIGW.0301: ", 1, true), r.stderr)
    assert.is_nil(r.stderr:find("cloud.no_project_id", 1, true), r.stderr)
    assert.is_nil(r.stderr:find("WRONGSECRET", 1, true))
    local rid = r.stderr:match("%[request (%x+)%]")
    assert.is_string(rid, r.stderr)
    local _, n = r.stderr:gsub(rid, "")
    assert.equal(1, n, r.stderr)
    _, n = r.stderr:gsub("HTTP 401", "")
    assert.equal(1, n, r.stderr)
    assert.equal(1, plain:stats().calls.iam)
    assert.equal(0, plain:stats().calls.action)
  end)

  it("--proxy names the proxy, over the environment", function()
    local env = keys(tls)
    env.HTTPS_PROXY = "http://127.0.0.1:1"
    local before = connects()
    local r = run({ "ecs", ecs(7), "--endpoint", tls.url, "--ca-file", dir .. "/ca.pem", "--proxy", proxy.url,
                    "--poll-interval", "0.05" }, env)
    assert.equal(0, r.code, r.stderr)
    assert.truthy(connects() > before)
    r = run({ "ecs", ecs(7), "--endpoint", tls.url, "--proxy", "proxy here" }, keys(tls))
    assert.equal(2, r.code)
    assert.truthy(r.stderr:find("--proxy must be \"env\" or a URL", 1, true), r.stderr)
  end)

  it("--timeout and --retries bound each call and its attempts", function()
    assert(plain:configure{ faults = { seed = 1, hang = 2, hang_rate = 1 } })
    local r = run({ "ecs", ecs(1), "--endpoint", plain.url, "--timeout", "0.3", "--retries", "0" }, keys(plain))
    assert.equal(3, r.code, r.stderr)
    assert.truthy(r.stderr:find("cloud.timeout", 1, true), r.stderr)
    assert.equal(1, plain:stats().calls.total)
    assert(plain:reset())
    r = run({ "ecs", ecs(1), "--endpoint", plain.url, "--timeout", "0.3", "--retries", "2", "--verbose" }, keys(plain))
    assert.equal(3, r.code)
    assert.equal(3, plain:stats().calls.total)
    assert.truthy(r.stderr:find("retry 2/2", 1, true), r.stderr)
  end)

  it("names the flag of a bad value", function()
    local cases = {
      { { "--timeout", "soon" }, "--timeout wants a number, not 'soon'" },
      { { "--timeout", "0" }, "--timeout must be at least 0.001" },
      { { "--connect-timeout", "-1" }, "--connect-timeout must be at least 0.001" },
      { { "--retries", "-1" }, "--retries wants a whole number from 0 to 99, not '-1'" },
      { { "--retries", "2.5" }, "--retries wants a whole number" },
      { { "--credentials", "vault" }, "--credentials must be one of metadata (got vault)" },
      { { "--iam-endpoint", "127.0.0.1" }, "--iam-endpoint must look like https://host" },
      { { "--no-verify-tls=yes" }, "--no-verify-tls takes no value" },
    }
    for _, c in ipairs(cases) do
      local argv = { "ecs", ecs(1), "--endpoint", plain.url }
      for _, a in ipairs(c[1]) do argv[#argv + 1] = a end
      local r = run(argv, keys(plain))
      assert.equal(2, r.code, table.concat(c[1], " ") .. ": " .. r.stderr)
      assert.truthy(r.stderr:find(c[2], 1, true), r.stderr)
    end
    assert.equal(0, plain:stats().calls.total)
  end)

  it("--credentials metadata with --iam-endpoint: the instance's keys, the project from IAM", function()
    local r = run({ "ecs", ecs(8), "--region", "cn-north-4", "--endpoint", plain.url, "--iam-endpoint", plain.url,
                    "--credentials", "metadata", "--poll-interval", "0.05" },
      { HUAWEICLOUD_SDK_AK = plain.ak, HUAWEICLOUD_SDK_SK = plain.sk, CLOUD_METADATA_ENDPOINT = plain.url })
    assert.equal(0, r.code, r.stderr)
    local st = plain:stats()
    assert.equal(1, st.metadata.key_calls)
    assert.equal(1, st.calls.iam)
    assert.equal(1, (plain:server(ecs(8))).stop_requests)
  end)

  it("says, for each credentials source, why it did not serve", function()
    assert(plain:configure{ metadata = { hang = 5 } })
    local r = run({ "ecs", ecs(9), "--region", "cn-north-4", "--endpoint", plain.url },
      { HUAWEICLOUD_SDK_AK = plain.ak, HUAWEICLOUD_SDK_CREDENTIALS_FILE = dir .. "/no-such-credentials",
        HUAWEICLOUD_SDK_PROJECT_ID = plain.project_id, CLOUD_METADATA_ENDPOINT = plain.url })
    assert.equal(3, r.code)
    for _, said in ipairs({
      "cloud.no_credentials",
      "options: not given",
      "environment: HUAWEICLOUD_SDK_AK set, HUAWEICLOUD_SDK_SK missing",
      "credentials file " .. dir .. "/no-such-credentials: not found (the path HUAWEICLOUD_SDK_CREDENTIALS_FILE gives)",
      "metadata service (" .. plain.url .. "): no answer in 3 s",
      -- The unusable file the user named is also a warning, shown without --verbose.
      "cloud-stop: credentials: HUAWEICLOUD_SDK_CREDENTIALS_FILE names " .. dir .. "/no-such-credentials",
    }) do
      assert.truthy(r.stderr:find(said, 1, true), said .. "\n" .. r.stderr)
    end
    assert.equal(0, plain:stats().calls.total)
  end)

  it("refuses an unknown region, suggesting the nearest", function()
    local r = run({ "ecs", ecs(1), "--region", "cn-nort-4" }, keys(plain))
    assert.equal(3, r.code)
    assert.truthy(r.stderr:find("cloud.unknown_region", 1, true), r.stderr)
    assert.truthy(r.stderr:find("did you mean cn-north-4?", 1, true), r.stderr)
  end)
end)
