-- Temporary keys from the ECS metadata service (the emulator's): the token flow, keys
-- refreshed before they expire across a long stop, a call whose keys expired on the way
-- signed again once, the service's own words when the instance has no agency, and the
-- secret key and security token kept out of every Lua value we can reach.
local env = require "support.cloudenv"
local cloud = require "cloud"
local core = require "cloud.core"
local cjson = require "cjson"

-- A client with nothing configured but endpoints: keys can only come from the metadata
-- service (the environment is shut out, HOME included).
local function client(fc, over)
  local getenv = os.getenv
  os.getenv = function(k) -- luacheck: ignore
    if k:match("^HUAWEICLOUD_") or k == "HOME" or k:match("^CLOUD_METADATA_") then return nil end
    return getenv(k)
  end
  local opts = { region = "cn-north-4", endpoints = { ecs = fc.url, bms = fc.url, iam = fc.url, metadata = fc.url },
                 retry = { attempts = 3, base = 0.01, cap = 0.05 } }
  for k, v in pairs(over or {}) do opts[k] = v end
  local ok, c, err = pcall(cloud.new, opts)
  os.getenv = getenv -- luacheck: ignore
  assert(ok, c)
  return assert(c, err)
end

describe("metadata credentials", function()
  local fc
  local FLEET = { ecs = { { count = 3000 } }, bms = { { count = 4 } } }
  setup(function() fc = env.start{ job_duration = 0.02, fleet = FLEET } end)
  teardown(function() fc:stop() end)
  before_each(function()
    assert(fc:configure{ metadata = {}, faults = {}, job_duration = 0.02 })
    assert(fc:reset())
  end)

  it("keys that expire every 3 s carry a stop of 3000 servers lasting over 5 s: all stopped, none refused", function()
    assert(fc:configure{ metadata = { ttl = 3 }, job_duration = 5.2 })
    local lines = {}
    local c = client(fc, { logger = function(l) lines[#lines + 1] = l end })
    local ids = env.ids("ecs", 1, 3000)
    local t0 = core.now()
    local res = assert(c:stop_ecs{ ids = ids, poll_interval = 0.25, force = true })
    local took = core.now() - t0
    c:close()
    assert.truthy(took >= 5, "the stop took only " .. took .. " s")
    assert.is_true(res.ok, cjson.encode(res.failed[1] or {}))
    assert.are.equal(3000, #res.stopped)
    env.assert_ledger(res, ids)
    local st = fc:stats()
    assert.are.equal(0, st.signature_failures, cjson.encode(lines))
    assert.are.equal(0, st.expired_keys)
    -- Fetched again before each expiry, not at every call: a handful of fetches for some
    -- forty calls.
    assert.truthy(st.metadata.key_calls >= 3 and st.metadata.key_calls <= 8, cjson.encode(st.metadata))
    assert.truthy(st.calls.total > 3 * st.metadata.key_calls, cjson.encode(st.calls))
    assert.are.equal(1, st.metadata.token_calls) -- the session token lives six hours
    assert.are.equal(1, st.calls.iam) -- the project id came from IAM, signed with those keys
  end)

  it("signs again, once, a call whose keys expired on the way", function()
    -- The keys die 1 s before the expires_at announced, and stop calls take 1.2 s: a stop
    -- call signed ahead (concurrency 1) arrives with keys that are no more.
    assert(fc:configure{ metadata = { ttl = 3, expires_early = 1 }, job_duration = 0.1,
                         faults = { latency = 1.2, apply_to = { job = false, list = false } } })
    local lines = {}
    local c = client(fc, { concurrency = 1, logger = function(l) lines[#lines + 1] = l end })
    local ids = env.ids("ecs", 1, 3000)
    local res = assert(c:stop_ecs{ ids = ids, poll_interval = 0.2, force = true })
    c:close()
    assert.is_true(res.ok, cjson.encode(res.failed[1] or {}))
    env.assert_ledger(res, ids)
    local st = fc:stats()
    assert.truthy(st.expired_keys >= 1, "no call came back 401: the spec proves nothing")
    assert.are.equal(0, st.stop_requests.sent_more_than_once)
    local again = 0
    for _, l in ipairs(lines) do
      if l:find("signing again with fresh temporary keys", 1, true) then again = again + 1 end
    end
    assert.are.equal(st.expired_keys, again)
  end)

  it("does not sign again with fixed keys: a 401 there is the key's", function()
    local lines = {}
    local c = env.client(fc, { sk = fc.sk .. "X", logger = function(l) lines[#lines + 1] = l end })
    local res = c:stop_ecs{ ids = env.ids("ecs", 1, 2), force = true }
    c:close()
    assert.is_false(res.ok)
    assert.are.equal(1, fc:stats().calls.action)
    for _, l in ipairs(lines) do assert.is_nil(l:find("signing again", 1, true)) end
  end)

  for _, case in ipairs({ { "optional", 1 }, { "required", 1 }, { 404, 1 }, { 405, 1 }, { 503, 1 } }) do
    it("token service answering " .. tostring(case[1]) .. ": keys all the same", function()
      assert(fc:configure{ metadata = { token = case[1] } })
      local c = client(fc)
      local res = assert(c:stop_bms{ ids = env.ids("bms", 1, 2), poll_interval = 0.02 })
      c:close()
      assert.is_true(res.ok)
      local st = fc:stats()
      assert.are.equal(case[2], st.metadata.token_calls)
      assert.are.equal(1, st.metadata.key_calls)
    end)
  end

  it("reports a missing agency in the service's words", function()
    assert(fc:configure{ metadata = { agency = false } })
    local c = client(fc, { credentials = "metadata" })
    local res, err = c:stop_ecs{ ids = env.ids("ecs", 1, 1) }
    c:close()
    assert.is_nil(res)
    assert.are.equal("cloud.no_credentials", err.code)
    assert.are.equal("config", err.kind)
    assert.truthy(err.message:find("Please configure Cloud Service Agency first", 1, true), err.message)
    assert.are.equal(0, fc:stats().calls.total)
  end)

  it("says a service that does not answer gave no answer in 3 s", function()
    assert(fc:configure{ metadata = { hang = 5 } })
    local c = client(fc)
    local t0 = core.now()
    local res, err = c:stop_ecs{ ids = env.ids("ecs", 1, 1) }
    local took = core.now() - t0
    c:close()
    assert.is_nil(res)
    assert.are.equal("cloud.no_credentials", err.code)
    assert.truthy(err.message:find("metadata service (" .. fc.url .. "): no answer in 3 s", 1, true), err.message)
    assert.truthy(took >= 2.9 and took < 4.5, took)
  end)

  it("forced with credentials = \"metadata\" even when keys are set elsewhere", function()
    local c = client(fc, { credentials = "metadata", ak = nil })
    local res = assert(c:stop_ecs{ ids = env.ids("ecs", 1, 1), poll_interval = 0.02 })
    c:close()
    assert.is_true(res.ok)
    assert.are.equal(1, fc:stats().metadata.key_calls)
    assert.has_error(function() cloud.new{ credentials = "metadata", ak = "a", sk = "b" } end)
    assert.has_error(function() cloud.new{ credentials = "keys" } end)
  end)

  it("fetches its keys on an engine of its own when the client is given an engine object", function()
    local seen = {}
    local opts = { concurrency = 2 }
    opts.transport = env.stand_in(opts, { add = function(t, id, method, url, ...)
      seen[#seen + 1] = url
      return t:add(id, method, url, ...)
    end })
    local c = client(fc, opts)
    local res = assert(c:stop_ecs{ ids = env.ids("ecs", 1, 2), poll_interval = 0.02 })
    c:close()
    assert.is_true(res.ok)
    assert.are.equal(1, fc:stats().metadata.key_calls)
    assert.truthy(#seen >= 2, #seen) -- the stop and its job's polls went through it
    for _, url in ipairs(seen) do assert.is_nil(url:find("/openstack/latest/securitykey", 1, true), url) end
  end)

  it("keeps the temporary secret and security token out of Lua strings it holds, logs and errors", function()
    assert(fc:configure{ metadata = { ttl = 3, expires_early = 1 }, job_duration = 0.1,
                         faults = { latency = 1.2, apply_to = { job = false, list = false } } })
    local lines = {}
    local c = client(fc, { concurrency = 1, logger = function(l) lines[#lines + 1] = l end })
    -- The keys come as C secrets (a secret key and a token per fetch, refetched on the way).
    local made, res = env.secrets_made(function()
      return assert(c:stop_ecs{ ids = env.ids("ecs", 1, 2500), poll_interval = 0.2, force = true })
    end)
    assert.is_true(#made >= 4 and #made % 2 == 0, #made)
    local last = made[#made - 1] -- the newest keys' secret key: the client holds it until closed
    assert.are.equal("cloud.core.secret (hidden)", tostring(last))
    -- Every string reachable from the client, its result and the log: none is a 40-hex SK
    -- or a 600-hex token as the emulator issues them.
    local function scan(v, seen, where)
      seen = seen or {}
      if type(v) == "string" then
        assert.is_nil(v:find("%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x"),
          where .. " holds a hex secret: " .. v:sub(1, 80))
        return
      end
      if type(v) ~= "table" or seen[v] then return end
      seen[v] = true
      for k, x in pairs(v) do scan(k, seen, where) scan(x, seen, where .. "." .. tostring(k)) end
    end
    -- Job ids and project ids are not 40 hex digits in a row; request ids are 32.
    scan(c, nil, "client")
    scan(res, nil, "result")
    scan(lines, nil, "log")
    assert.truthy(#lines >= 1) -- the 401 went through the log, its token hidden
    for _, l in ipairs(lines) do assert.is_nil(l:find("x-security-token:%x")) end
    c:close()
    local ok, e = pcall(core.sign, { method = "GET", host = "h", path = "/", ak = "A", sk = last })
    assert.is_false(ok)
    assert.are.same({ "argument", "sk", "is a closed secret" }, { e.kind, e.field, e.problem })
    assert.are.equal("cloud.core.secret (closed)", tostring(made[#made]))
  end)
end)

describe("a security token given with fixed keys", function()
  local TOKEN = "TOKENSPOTME" .. ("7"):rep(60)
  local fc
  setup(function()
    fc = env.start{ job_duration = 0.02,
                    credentials = { { ak = "TOKAK", sk = "TOKSK000000000", security_token = TOKEN } } }
  end)
  teardown(function() fc:stop() end)

  local function never(where, v, seen)
    seen = seen or {}
    if type(v) == "string" then
      assert.is_nil(v:find("TOKENSPOTME", 1, true), where .. " shows the security token")
    elseif type(v) == "table" and not seen[v] then
      seen[v] = true
      for k, x in pairs(v) do never(where, k, seen) never(where .. "." .. tostring(k), x, seen) end
    end
  end

  it("is sent and signed from C memory, and never shows, not even in the gateway's 401", function()
    local lines = {}
    local made, c = env.secrets_made(function()
      return env.client(fc, { ak = "TOKAK", sk = "TOKSK000000000", security_token = TOKEN,
                              logger = function(l) lines[#lines + 1] = l end })
    end)
    assert.are.equal(2, #made) -- the secret key and the token, each copied into C memory
    local res = assert(c:stop_ecs{ ids = env.ids("ecs", 1, 2), poll_interval = 0.02 })
    assert.is_true(res.ok) -- the emulator checks X-Security-Token
    never("client", c)
    never("tostring(client)", tostring(c))
    c:close()
    assert.are.same({ "cloud.core.secret (closed)", "cloud.core.secret (closed)" },
      { tostring(made[1]), tostring(made[2]) })
    -- A wrong SK: the gateway's 401 quotes its canonical request, token included.
    c = env.client(fc, { ak = "TOKAK", sk = "WRONGSK", security_token = TOKEN,
                         logger = function(l) lines[#lines + 1] = l end })
    res = c:stop_ecs{ ids = env.ids("ecs", 3, 3), force = true }
    c:close()
    assert.are.equal(401, res.failed[1].status)
    assert.truthy(res.failed[1].message:find("x-security-token:(hidden)", 1, true), res.failed[1].message)
    never("result", res)
    never("log", lines)
    never("json", cjson.encode(res))
  end)
end)

describe("core.security_key", function()
  local ANSWER = [[{"credential": {"access": "TMPAK1", "secret": "S\u0045CRET", "securitytoken": "tok\/en",
    "expires_at": "2026-11-29T12:00:00.000000Z", "extra": [1, {"a": null}]}, "other": true}]]

  it("reads the four fields, the secret parts as cloud.core.secret", function()
    local k = assert(core.security_key(ANSWER))
    assert.are.equal("TMPAK1", k.access)
    assert.are.equal("2026-11-29T12:00:00.000000Z", k.expires_at)
    assert.are.equal("cloud.core.secret (hidden)", tostring(k.secret))
    assert.are.equal("X-Security-Token: tok/en\r\n", core.header_line("X-Security-Token", k.security_token))
    -- Signing with the secrets is signing with their bytes.
    local req = { method = "GET", host = "h", path = "/p", ak = "TMPAK1", date = "20261122T101500Z" }
    local function signed(sk, token)
      local r = {}
      for f, v in pairs(req) do r[f] = v end
      r.sk, r.security_token = sk, token
      return core.sign(r).authorization
    end
    assert.are.equal(signed("SECRET", "tok/en"), signed(k.secret, k.security_token))
    -- The headers to send carry the token as the secret itself.
    local headers = core.sign_for_sending{ method = "GET", host = "h", path = "/", ak = "A", sk = k.secret,
                                           security_token = k.security_token }
    assert.are.equal(k.security_token, headers["X-Security-Token"])
  end)

  it("refuses what is not one, never quoting the answer", function()
    local bad = {
      { '{"credential": {"access": "A"}}', "lacks" },
      { '{"credential": "x"}', "not an object" },
      { '{"credential": {"access": "A", "secret": "s", "securitytoken": "t\\r\\n", "expires_at": "x"}}',
        "header value" },
      { '{"credential": {"access": "A B", "secret": "s", "securitytoken": "t", "expires_at": "x"}}', "access key" },
      { '{"credential": {"access": "A", "secret": "s", "securitytoken": "t", "expires_at": "x"}} x', "after" },
      { '{"credential": {"access": "A", "secret": "SEEME', "end of input" },
      { '{"credential": {"access": "A", "secret": "\\ud800", "securitytoken": "t", "expires_at": "x"}}', "surrogate" },
      { ("["):rep(100), "not a JSON object" },
      { '{"a":' .. ("["):rep(100), "nested too deep" },
      { "", "end of input" },
    }
    for _, b in ipairs(bad) do
      local k, why = core.security_key(b[1])
      assert.is_nil(k, b[1])
      assert.truthy(why:find(b[2], 1, true), why)
      assert.is_nil(why:find("SEEME", 1, true))
    end
  end)
end)
