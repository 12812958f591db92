-- cloud.core.body and core.stop_body (csrc/body_lua.c): request bodies built in C memory,
-- checked against lua-cjson and against the signer reading the same bytes as a string.
local core = require "cloud.core"
local errors = require "cloud.errors"
local cjson = require "cjson"

-- fn raises the argument error of cloud.errors, its message `message`.
local function refuses(fn, message)
  local ok, e = pcall(fn)
  assert.is_false(ok)
  assert.are.same({ "argument", message }, { errors.kind(e), e.message })
end

local function text(ids, kind)
  local b = core.stop_body(ids, kind)
  local s = b:string()
  b:close()
  return s
end

describe("core.stop_body", function()
  it("builds the os-stop body, escaping what JSON needs", function()
    local ids = { "a", 'q"uote', "back\\slash", "tab\tnew\nline\1", "caf\xc3\xa9", "del\127" }
    local body = text(ids, "SOFT")
    local want = { ["os-stop"] = { type = "SOFT", servers = {} } }
    for i, id in ipairs(ids) do want["os-stop"].servers[i] = { id = id } end
    assert.are.same(want, cjson.decode(body))
    assert.truthy(body:find('"tab\\tnew', 1, true) == nil) -- control bytes go out as \u00XX
    assert.truthy(body:find("tab\\u0009new\\u000aline\\u0001", 1, true))
  end)

  it("escapes a quote, a backslash or a control byte at any place of an id of any length", function()
    for len = 1, 40 do
      for pos = 1, len do
        for _, c in ipairs({ 0, 31, 34, 92 }) do
          local id = ("x"):rep(pos - 1) .. string.char(c) .. ("y"):rep(len - pos)
          local body = text({ id }, "SOFT")
          local ok, decoded = pcall(cjson.decode, body)
          assert(ok and decoded["os-stop"].servers[1].id == id, ("byte %d at %d of %d: %s"):format(c, pos, len, body))
        end
      end
      -- The bytes either side of those pass as they are.
      local id = (" !#[]~\127\255"):rep(6):sub(1, len)
      assert.are.equal('{"os-stop":{"type":"SOFT","servers":[{"id":"' .. id .. '"}]}}', text({ id }, "SOFT"))
    end
  end)

  it("is exactly the seed's form for plain ids", function()
    assert.are.equal('{"os-stop":{"type":"HARD","servers":[{"id":"x-1"},{"id":"y-2"}]}}',
      text({ "x-1", "y-2" }, "HARD"))
    assert.are.equal('{"os-stop":{"type":"HARD","servers":[]}}', text({}, "HARD"))
  end)

  it("sizes a thousand UUIDs without trouble and reports its length", function()
    local ids = {}
    for i = 1, 1000 do ids[i] = ("%08x-0ec5-4dc9-a550-%012d"):format(i, i) end
    local b = core.stop_body(ids, "SOFT")
    local s = b:string()
    assert.are.equal(#s, #b)
    assert.are.equal(1000, #cjson.decode(s)["os-stop"].servers)
    b:close()
    b:close() -- idempotent
    assert.are.equal(0, #b)
    assert.are.equal("", b:string())
  end)

  it("refuses ids that are not strings", function()
    refuses(function() core.stop_body({ "a", 1 }, "SOFT") end, "cloud.core.stop_body: option 'ids[2]' is not a string")
    refuses(function() core.stop_body("a", "SOFT") end,
      "cloud.core.stop_body: option 'ids' must be a table, not string")
    refuses(function() core.stop_body({ "a" }) end, "cloud.core.stop_body: option 'type' must be a string, not nil")
  end)

  it("signs the same as the same bytes in a string", function()
    local body = core.stop_body({ "a", "b" }, "SOFT")
    local function sign(b)
      return core.sign{ method = "POST", host = "ecs.example.com", path = "/v1/p/cloudservers/action", body = b,
        ak = "AK", sk = "SK", date = "20231114T221320Z", headers = { ["Content-Type"] = "application/json" } }
    end
    assert.are.same(sign(body:string()), sign(body))
    refuses(function() sign({}) end, "cloud.core.sign: option 'body' must be a string or cloud.core.body")
  end)
end)

describe("core.start_body", function()
  local function start_text(ids)
    local b = core.start_body(ids)
    local s = b:string()
    b:close()
    return s
  end

  it("builds the os-start body of the API reference: the servers, no type", function()
    assert.are.equal('{"os-start":{"servers":[{"id":"x-1"},{"id":"y-2"}]}}', start_text({ "x-1", "y-2" }))
    assert.are.equal('{"os-start":{"servers":[]}}', start_text({}))
  end)

  it("escapes ids as the stop body does", function()
    local ids = { 'q"uote', "back\\slash", "tab\tnew\nline\1", "caf\xc3\xa9" }
    local want = { ["os-start"] = { servers = {} } }
    for i, id in ipairs(ids) do want["os-start"].servers[i] = { id = id } end
    assert.are.same(want, cjson.decode(start_text(ids)))
    -- The servers part is byte for byte the stop body's.
    local stop = text(ids, "HARD"):match('"servers":(%b[])')
    assert.are.equal(stop, start_text(ids):match('"servers":(%b[])'))
  end)

  it("refuses ids that are not strings, naming itself", function()
    refuses(function() core.start_body({ "a", {} }) end, "cloud.core.start_body: option 'ids[2]' is not a string")
    refuses(function() core.start_body("a") end, "cloud.core.start_body: option 'ids' must be a table, not string")
    refuses(function() core.stop_body({ "a" }, "SOFT").close(7) end,
      "cloud.core.body:close: call it with ':' on a cloud.core.body")
  end)

  it("signs like the same bytes in a string", function()
    local body = core.start_body({ "a" })
    local function sign(b)
      return core.sign{ method = "POST", host = "ecs.example.com", path = "/v1/p/cloudservers/action", body = b,
        ak = "AK", sk = "SK", date = "20231114T221320Z", headers = { ["Content-Type"] = "application/json" } }
    end
    assert.are.same(sign(body:string()), sign(body))
    body:close()
  end)
end)

describe("core.http with nothing to do", function()
  it("returns nil from run rather than an empty table", function()
    local e = core.http{}
    assert.is_nil(e:run(0))
    e:close()
  end)
end)
