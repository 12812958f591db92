-- Our own known answers (hashed by the emulator's independent crypto: libcrypto through
-- LuaJIT's FFI, or the openssl command under Lua 5.4), and bad input.
local core = require "cloud.core"
local errors = require "cloud.errors"
local crypto = require "fakecloud.crypto"
local openssl = { sha256 = crypto.sha256_hex, hmac_sha256 = crypto.hmac_sha256_hex }

local SK = "SpecSecretKey0123456789SpecSecretKey0123"
local NONE = {} -- in base{...}: leave this field out

local function base(over)
  local o = {
    method = "POST",
    host = "ecs.cn-north-4.myhuaweicloud.com",
    path = "/v1/p/cloudservers/action",
    headers = { ["Content-Type"] = "application/json" },
    body = "{}",
    ak = "AKSPEC",
    sk = SK,
    date = "20261122T101500Z",
  }
  for k, v in pairs(over or {}) do
    if v == NONE then o[k] = nil else o[k] = v end
  end
  return o
end

-- The signature the algorithm gives for a canonical request written out by hand.
local function expected_signature(canonical, date)
  local sts = "SDK-HMAC-SHA256\n" .. date .. "\n" .. openssl.sha256(canonical)
  return openssl.hmac_sha256(SK, sts), sts
end

local function check(opts, canonical)
  local s = core.sign(opts)
  assert.are.equal(canonical, s.canonical_request)
  local sig, sts = expected_signature(canonical, opts.date)
  assert.are.equal(sts, s.string_to_sign)
  assert.are.equal(sig, s.signature)
  return s
end

describe("core.sign known answers", function()
  it("encodes UTF-8 path segments and keeps the wire path's slashes", function()
    check(base{ path = "/v1/p/名字/a b", body = NONE, method = "GET", headers = {} },
      "GET\n/v1/p/%E5%90%8D%E5%AD%97/a%20b/\n\nhost:ecs.cn-north-4.myhuaweicloud.com\n" ..
      "x-sdk-date:20261122T101500Z\n\nhost;x-sdk-date\n" .. openssl.sha256(""))
  end)

  it("returns only what is sent from sign_for_sending: headers, wire path, query string", function()
    local opts = base{ path = "/v1/p/名字/a b", query = { b = "1", a = "x y" } }
    local full = core.sign(opts)
    local headers, path, query = core.sign_for_sending(opts)
    assert.are.same(full.headers, headers)
    assert.are.equal("/v1/p/%E5%90%8D%E5%AD%97/a%20b", path)
    assert.are.equal(full.query_string, query)
    assert.are.equal("a=x%20y&b=1", query)
    local _, slash = core.sign_for_sending(base{ path = "/v1/p/" })
    assert.are.equal("/v1/p/", slash)
  end)

  it("returns as many values whatever it is given: no flag changes the shape", function()
    assert.are.equal(1, select("#", core.sign(base())))
    assert.are.equal(3, select("#", core.sign_for_sending(base())))
    -- A second argument is no flag: it is passed over, and the shape stays.
    assert.are.equal(1, select("#", core.sign(base(), true)))
    assert.are.equal("table", type(core.sign(base(), true)))
    assert.are.equal(3, select("#", core.sign_for_sending(base(), false)))
  end)

  it("encodes % and + in query keys and values, and sorts by raw key then value", function()
    local s = check(base{ method = "GET", body = NONE, headers = {},
        query = { ["a+b"] = "100%", z = { "b+", "a%20", "" }, e = {}, n = 2.0, f = false } },
      "GET\n/v1/p/cloudservers/action/\na%2Bb=100%25&f=false&n=2&z=&z=a%2520&z=b%2B\n" ..
      "host:ecs.cn-north-4.myhuaweicloud.com\nx-sdk-date:20261122T101500Z\n\nhost;x-sdk-date\n" ..
      openssl.sha256(""))
    assert.are.equal("a%2Bb=100%25&f=false&n=2&z=&z=a%2520&z=b%2B", s.query_string)
  end)

  it("hashes a 1000-id body", function()
    local ids = {}
    for i = 1, 1000 do ids[i] = ('{"id":"%08x-0000-4000-8000-%012x"}'):format(i, i) end
    local body = '{"os-stop":{"type":"SOFT","servers":[' .. table.concat(ids, ",") .. "]}}"
    check(base{ body = body },
      "POST\n/v1/p/cloudservers/action/\n\ncontent-type:application/json\n" ..
      "host:ecs.cn-north-4.myhuaweicloud.com\nx-sdk-date:20261122T101500Z\n\n" ..
      "content-type;host;x-sdk-date\n" .. openssl.sha256(body))
  end)

  it("trims header values and signs a security token", function()
    local s = check(base{ headers = { ["Content-Type"] = "  application/json\t" }, security_token = "tok+/=" },
      "POST\n/v1/p/cloudservers/action/\n\ncontent-type:application/json\n" ..
      "host:ecs.cn-north-4.myhuaweicloud.com\nx-sdk-date:20261122T101500Z\nx-security-token:tok+/=\n\n" ..
      "content-type;host;x-sdk-date;x-security-token\n" .. openssl.sha256("{}"))
    assert.are.equal("tok+/=", s.headers["X-Security-Token"])
    assert.are.equal("application/json", s.headers["Content-Type"])
    assert.are.equal("ecs.cn-north-4.myhuaweicloud.com", s.headers.Host)
  end)

  it("lets a signed X-Sdk-Content-Sha256 stand in for the body hash", function()
    check(base{ headers = { ["X-Sdk-Content-Sha256"] = "UNSIGNED-PAYLOAD" } },
      "POST\n/v1/p/cloudservers/action/\n\nhost:ecs.cn-north-4.myhuaweicloud.com\n" ..
      "x-sdk-content-sha256:UNSIGNED-PAYLOAD\nx-sdk-date:20261122T101500Z\n\n" ..
      "host;x-sdk-content-sha256;x-sdk-date\nUNSIGNED-PAYLOAD")
  end)

  it("defaults the date to now, in UTC", function()
    local s = core.sign(base{ date = NONE })
    assert.are.equal(os.date("!%Y%m%d"), s.date:sub(1, 8))
    assert.truthy(s.date:match("^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$"))
  end)

  it("accepts the SK as a core.secret and hides it in tostring", function()
    local secret = core.secret(SK)
    assert.are.equal(core.sign(base()).signature, core.sign(base{ sk = secret }).signature)
    assert.is_nil(tostring(secret):find(SK, 1, true))
    secret:close()
    secret:close() -- idempotent
    local ok, e = pcall(core.sign, base{ sk = secret })
    assert.is_false(ok)
    assert.are.same({ "argument", "sk", "is a closed secret" }, { errors.kind(e), e.field, e.problem })
    assert.are.equal("cloud.core.sign: option 'sk' is a closed secret", e.message)
  end)
end)

describe("core.sign bad input", function()
  -- Both functions refuse alike: the argument error of cloud.errors, naming the function
  -- and the field (field nil: the whole call; false: not checked), and never the SK.
  local function fails(over, field, message)
    for _, name in ipairs({ "sign", "sign_for_sending" }) do
      local ok, e = pcall(core[name], base(over))
      assert.is_false(ok)
      assert.are.equal("argument", errors.kind(e), tostring(e))
      assert.are.same({ "cloud.argument", "cloud.core." .. name }, { e.code, e.where })
      if field ~= false then assert.are.equal(field, e.field) end
      assert.is_truthy(e.message:find(message, 1, true), e.message)
      assert.is_truthy(tostring(e):find("^spec/sign_spec%.lua:%d+: cloud%.core%." .. name .. ": "), tostring(e))
      assert.is_nil(tostring(e):find(SK, 1, true))
    end
  end

  it("names a missing field", function()
    fails({ ak = NONE }, "ak", "option 'ak' is required")
    fails({ sk = NONE }, "sk", "option 'sk' is required")
    fails({ method = NONE }, "method", "option 'method' is required")
    fails({ host = NONE }, "host", "option 'host' is required")
    fails({ path = NONE }, "path", "option 'path' is required")
  end)

  it("names a field of the wrong type", function()
    fails({ body = {} }, "body", "option 'body' must be a string")
    fails({ body = 12 }, "body", "option 'body' must be a string")
    fails({ sk = 42 }, "sk", "option 'sk' must be a string or a cloud.core.secret")
    fails({ query = "a=1" }, "query", "option 'query' must be a table")
    fails({ headers = "x" }, "headers", "option 'headers' must be a table")
    fails({ date = "2026-11-22" }, "date", "option 'date' must look like")
    fails({ path = "v1/x" }, "path", "option 'path' must start with '/'")
    fails({ host = "a b" }, "host", "option 'host' is not a host[:port]")
    fails({ ak = "A,K" }, "ak", "option 'ak' has characters")
    fails({ sk = "" }, "sk", "option 'sk' must not be empty")
    fails({ colour = "red" }, "colour", "option 'colour' is unknown")
    fails({ [1] = "x" }, nil, "option names must be strings")
    for _, name in ipairs({ "sign", "sign_for_sending" }) do
      local ok, e = pcall(core[name], "GET /")
      assert.is_false(ok)
      assert.are.same({ "argument", "expected a table of request fields, not string" }, { errors.kind(e), e.problem })
    end
  end)

  it("rejects query values that are tables of tables", function()
    fails({ query = { tags = { { "a" } } } }, "query.tags[1]",
      "option 'query.tags[1]' must be a string, number or boolean")
    fails({ query = { tags = { a = 1 } } }, "query.tags", "option 'query.tags' must be a scalar or an array")
    fails({ query = { [1] = "x" } }, "query", "option 'query' must have strings for keys")
    fails({ query = { f = print } }, "query.f", "option 'query.f' must be a string, number, boolean or array")
  end)

  it("rejects bad header names and values", function()
    fails({ headers = { ["X Bad"] = "1" } }, 'headers["X Bad"]',
      'option \'headers["X Bad"]\' is not a valid header name')
    fails({ headers = { ["X-Bad\n"] = "1" } }, 'headers["X-Bad\n"]', "is not a valid header name")
    fails({ headers = { ["X-Ok"] = "a\r\nX-Injected: 1" } }, 'headers["X-Ok"]', "contains CR, LF or NUL")
    fails({ headers = { ["X-Ok"] = "a\0b" } }, 'headers["X-Ok"]', "contains CR, LF or NUL")
    fails({ headers = { ["X-Ok"] = 1 } }, 'headers["X-Ok"]', "must be a string")
    fails({ headers = { [1] = "x" } }, "headers", "option 'headers' must have strings for names")
    fails({ headers = { Host = "evil" } }, 'headers["Host"]', "is set by the signer")
    fails({ headers = { ["x-sdk-date"] = "1" } }, 'headers["x-sdk-date"]', "is set by the signer")
    -- Which of the two is named depends on the order the table is walked in.
    fails({ headers = { ["content-type"] = "a", ["Content-Type"] = "b" } }, false, "is given twice")
    fails({ headers = { ["X-Security-Token"] = "a" }, security_token = "b" }, false, "is given twice")
    fails({ security_token = "a\nb" }, "security_token", "option 'security_token' must be a non-empty header value")
  end)

  it("never crashes on random input", function()
    local pool = { "", "a", "/", "%", "\0", "\r\n", " x ", "名", 1, 1.5, -0.0, 2^63, true, false,
                   {}, { 1, 2 }, { {} }, { a = 1 }, print }
    math.randomseed(7)
    local function any() return pool[math.random(#pool)] end
    local fields = { "method", "host", "path", "query", "headers", "body", "ak", "sk", "date",
                     "security_token" }
    for _ = 1, 3000 do
      local o = {}
      for _, f in ipairs(fields) do
        if math.random() < 0.8 then o[f] = any() end
      end
      if math.random() < 0.5 then o.query = { [tostring(any())] = any(), k = { any(), any() } } end
      if math.random() < 0.5 then o.headers = { [tostring(any())] = any() } end
      local ok, err = pcall(core.sign, o)
      assert.is_true(ok or errors.kind(err) == "argument", tostring(err))
    end
  end)
end)
