-- The emulator over HTTPS with a CA the spec makes: verified with ca_file, refused without.
-- Its certificate is for 127.0.0.1 by a subjectAltName IP entry only (its subject CN is no
-- address), as the nginx transport's spec (nginx_connect_spec) checks it there too.
local env = require "support.cloudenv"
local certs = require "support.certs"
local launcher = require "fakecloud.launcher"

describe("TLS", function()
  local pki, fc, wrongip

  setup(function()
    pki = certs.new()
    local cert, key = pki:server("ip", { cn = "spec-ip-san", san = "IP:127.0.0.1" })
    fc = assert(launcher.start{ config = { job_duration = 0.02 }, tls = { cert = cert, key = key } })
    -- From the same CA, for another address (and a subject CN that must not count).
    cert, key = pki:server("wrongip", { cn = "127.0.0.1", san = "IP:127.0.0.2" })
    wrongip = assert(launcher.start{ config = { job_duration = 0.02 }, tls = { cert = cert, key = key } })
  end)

  teardown(function()
    if fc then fc:stop() end
    if wrongip then wrongip:stop() end
    pki:remove()
  end)

  it("stops servers over HTTPS when the CA is given", function()
    assert.matches("^https://", fc.url)
    local c = env.client(fc, { ca_file = pki.ca })
    local res = c:stop_ecs{ ids = { env.id("ecs", 1) }, poll_interval = 0.02 }
    c:close()
    assert.is_true(res.ok)
  end)

  it("refuses a certificate from the CA for another IP address, and sends nothing", function()
    local cl = env.client(wrongip, { ca_file = pki.ca })
    local res = cl:stop_ecs{ ids = { env.id("ecs", 1) }, poll_interval = 0.02 }
    cl:close()
    assert.is_false(res.ok)
    assert.are.equal("cloud.tls", res.failed[1].code)
    assert.are.equal(0, wrongip:stats().calls.total)
  end)

  it("refuses the server's certificate without the CA, and sends nothing", function()
    local c = env.client(fc)
    local before = fc:stats().calls.total
    local res = c:stop_ecs{ ids = { env.id("ecs", 2) }, poll_interval = 0.02 }
    c:close()
    assert.is_false(res.ok)
    assert.are.equal("cloud.tls", res.failed[1].code)
    assert.are.equal(before, fc:stats().calls.total)
  end)

  it("cannot be talked out of verifying by environment variables", function()
    local subprocess = require "support.subprocess"
    local out = subprocess.run(([[
      local c = assert(require("cloud").new{ project_id = %q, ak = %q, sk = %q, endpoints = { ecs = %q },
        retry = { attempts = 1 } })
      local res = c:stop_ecs{ ids = { %q }, force = true }
      print(res.ok, res.failed[1] and res.failed[1].code)
    ]]):format(fc.project_id, fc.ak, fc.sk, fc.url, env.id("ecs", 4)), {
      HOME = "/nonexistent", CURL_INSECURE = "1", CURLOPT_SSL_VERIFYPEER = "0", SSL_CERT_FILE = "/dev/null",
      CURL_CA_BUNDLE = "/dev/null", HUAWEICLOUD_SDK_IGNORE_SSL_VERIFICATION = "true",
      NODE_TLS_REJECT_UNAUTHORIZED = "0",
      https_proxy = "http://127.0.0.1:1", HTTPS_PROXY = "http://127.0.0.1:1",
    })
    assert.are.equal("false\tcloud.tls\n", out)
  end)

  it("skips verification only when asked with verify_tls = false", function()
    local c = env.client(fc, { verify_tls = false })
    local res = c:stop_ecs{ ids = { env.id("ecs", 3) }, poll_interval = 0.02 }
    c:close()
    assert.is_true(res.ok)
  end)
end)
