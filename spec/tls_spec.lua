-- The emulator over HTTPS with a CA the spec makes: verified with ca_file, refused without.
local env = require "support.cloudenv"

local function sh(cmd)
  assert(os.execute("env -u LD_PRELOAD sh -c '" .. cmd .. "' >/dev/null 2>&1"), cmd)
end

describe("TLS", function()
  local dir, fc

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    sh("mkdir -p " .. dir)
    -- A CA, and a server certificate for 127.0.0.1 signed by it.
    sh(("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=spec-ca -keyout ca.key -out ca.pem"
      .. " && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out req.csr"
      .. " && printf \"subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n\" > ext.cnf"
      .. " && openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out cert.pem")
      :format(dir))
    fc = assert(require("fakecloud.launcher").start{ config = { job_duration = 0.02 },
      tls = { cert = dir .. "/cert.pem", key = dir .. "/key.pem" } })
  end)

  teardown(function()
    if fc then fc:stop() end
    sh("rm -rf " .. dir)
  end)

  it("stops servers over HTTPS when the CA is given", function()
    assert.matches("^https://", fc.url)
    local c = env.client(fc, { ca_file = dir .. "/ca.pem" })
    local res = c:stop_ecs{ ids = { env.id("ecs", 1) }, poll_interval = 0.02 }
    c:close()
    assert.is_true(res.ok)
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
      CURL_CA_BUNDLE = "/dev/null", HUAWEICLOUD_SDK_IGNORE_SSL_VERIFICATION = "true", NODE_TLS_REJECT_UNAUTHORIZED = "0",
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
