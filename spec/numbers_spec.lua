-- Every number that crosses into the C core: NaN, infinities and values a C type cannot
-- hold are refused with an error naming the field, before any conversion (a cast of such
-- a double is undefined behaviour; the ASan run's float-cast-overflow check would report it).
local core = require "cloud.core"
local errors = require "cloud.errors"

local BAD = { ["math.huge"] = math.huge, ["-math.huge"] = -math.huge, ["0/0"] = 0 / 0, ["1e300"] = 1e300,
              ["1e30"] = 1e30 }

-- fn raises a caller's mistake (the argument error of cloud.errors), and its message
-- contains text (plain).
local function raises(fn, text, what)
  local ok, err = pcall(fn)
  assert.is_false(ok, what .. ": accepted")
  assert.are.equal("argument", errors.kind(err), what .. ": " .. tostring(err))
  assert.truthy(tostring(err):find(text, 1, true), what .. ": " .. tostring(err))
end

describe("core.http options", function()
  for _, field in ipairs({ "timeout", "connect_timeout", "max_response", "concurrency" }) do
    it(field .. " refuses NaN, infinities and numbers its C type cannot hold", function()
      for name, v in pairs(BAD) do
        raises(function() core.http{ [field] = v } end, "cloud.core.http: option '" .. field .. "' must be",
          field .. " = " .. name)
      end
    end)
  end

  it("timeout and connect_timeout: seconds up to what curl's milliseconds (a long) hold", function()
    for _, field in ipairs({ "timeout", "connect_timeout" }) do
      raises(function() core.http{ [field] = 1e16 } end,
        "option '" .. field .. "' must be a number of seconds from 0.001 to ", field)
      raises(function() core.http{ [field] = 0 } end, "option '" .. field .. "'", field)
      -- At the edge the milliseconds round up to 2^63, one past a 64-bit long.
      raises(function() core.http{ [field] = 2 ^ 63 / 1000 } end, "option '" .. field .. "'", field)
      core.http{ [field] = 1e15 }:close() -- 31 million years: held, and harmless
    end
  end)

  it("concurrency and max_response: whole numbers in range", function()
    local concurrency = "option 'concurrency' must be an integer from 1 to 65536"
    raises(function() core.http{ concurrency = 1.5 } end, concurrency, "1.5")
    raises(function() core.http{ concurrency = 65537 } end, concurrency, "65537")
    raises(function() core.http{ max_response = 1023 } end,
      "option 'max_response' must be an integer from 1024 to ", "1023")
    raises(function() core.http{ max_response = 2048.5 } end, "option 'max_response'", "2048.5")
    core.http{ concurrency = 65536, max_response = 2 ^ 53 }:close()
  end)
end)

describe("cloud.new numbers", function()
  local cloud = require "cloud"

  it("refuses NaN, infinities and numbers C cannot hold, naming the field, before any C call", function()
    local cases = { { "timeout", math.huge }, { "timeout", 0 / 0 }, { "connect_timeout", 1e300 },
                    { "connect_timeout", -math.huge }, { "max_response", 1e30 }, { "max_response", 0 / 0 },
                    { "concurrency", 0 / 0 }, { "concurrency", math.huge } }
    for _, c in ipairs(cases) do
      local ok, err = pcall(cloud.new, { ak = "a", sk = "b", project_id = "0123456789abcdef0123456789abcdef",
        endpoints = { ecs = "https://127.0.0.1" },
        [c[1]] = c[2] })
      assert.is_false(ok, c[1] .. " = " .. tostring(c[2]))
      assert.are.equal("argument", err.kind, tostring(err))
      assert.are.equal(c[1], err.field, tostring(err))
    end
    for _, f in ipairs({ "attempts", "base", "cap" }) do
      local ok, err = pcall(cloud.new, { ak = "a", sk = "b", project_id = "0123456789abcdef0123456789abcdef",
        endpoints = { ecs = "https://127.0.0.1" },
        retry = { [f] = 0 / 0 } })
      assert.is_false(ok, f)
      assert.are.equal(f, err.field, tostring(err))
    end
  end)
end)

describe("core.http engine calls", function()
  local e
  before_each(function() e = core.http{} end)
  after_each(function() e:close() end)

  it("run refuses a wait of NaN or one too long to count in milliseconds", function()
    for _, v in ipairs({ 0 / 0, math.huge, 1e300, 2 ^ 63 / 1000 }) do
      raises(function() e:run(v) end, "cloud.core.http:run: option 'timeout' must be a number of seconds", tostring(v))
    end
    assert.is_nil(e:run(-math.huge)) -- at most 0: no wait
  end)

  it("add refuses an id that is not an integer", function()
    for _, v in ipairs({ 0 / 0, math.huge, 1e300, 1.5 }) do
      raises(function() e:add(v, "GET", "http://127.0.0.1:1/", {}) end,
        "cloud.core.http:add: option 'id' must be a whole number", tostring(v))
    end
    assert.are.same({ 0, 0 }, { e:pending() })
  end)
end)

describe("core.sleep", function()
  it("refuses NaN and seconds a time_t cannot hold; returns at once for none", function()
    for _, v in ipairs({ 0 / 0, math.huge, 1e300 }) do
      raises(function() core.sleep(v) end, "option 'seconds' must be a number, not NaN or too large", tostring(v))
    end
    core.sleep(-math.huge)
    core.sleep(0)
  end)
end)

describe("core.sign query numbers", function()
  local function sign(query)
    return core.sign{ method = "GET", host = "h", path = "/", query = query, ak = "a", sk = "b",
                      date = "20261122T101500Z" }
  end

  it("refuses NaN and infinities, naming the key", function()
    for name, v in pairs({ ["0/0"] = 0 / 0, ["math.huge"] = math.huge, ["-math.huge"] = -math.huge }) do
      raises(function() sign{ limit = v } end, "cloud.core.sign: option 'query.limit' must be a finite number", name)
      raises(function() sign{ multi = { 1, v } } end,
        "cloud.core.sign: option 'query.multi[2]' must be a finite number", name)
    end
    -- Finite numbers are fine, however large: written as %.17g.
    assert.truthy(sign{ limit = 1e300 }.canonical_request:find("\nlimit=1.0000000000000001e%2B300\n", 1, true))
  end)
end)

describe("core.idset batch numbers", function()
  it("refuse NaN, infinities and fractions", function()
    local set = assert(core.checked_idset({ "a", "b", "c" }))
    for _, v in ipairs({ 0 / 0, math.huge, 1e300, 1.5 }) do
      raises(function() set:batch(v, 2) end, "option 'first' must be a whole number", tostring(v))
      raises(function() set:mark_all({ "a" }, "stopped", v) end, "option 'batch' must be a whole number", tostring(v))
    end
    local ids, b = set:batch(1, 2)
    assert.are.same({ "a", "b" }, ids)
    assert.are.equal(2, set:mark_all(ids, "stopped", b))
  end)
end)
