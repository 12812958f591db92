-- The contract between the library and its callers: argument errors raised at the caller's
-- line with a kind and a field, the world's failures returned with a kind, and the cases
-- where an earlier version raised, hung or said something untrue.
local env = require "support.cloudenv"
local cloud = require "cloud"
local cjson = require "cjson"
local errors = require "cloud.errors"
local F = require "cloud.filter"

local THIS_FILE = debug.getinfo(1, "S").short_src

-- Calls fn (which makes one call on the line `line`), and checks what it raised: an
-- argument error whose text starts at this file's `line`, naming `field`.
local function raised_at(line, field, fn)
  local ok, e = pcall(fn)
  assert.is_false(ok, "did not raise (line " .. line .. ")")
  assert.are.equal("argument", errors.kind(e), tostring(e))
  assert.are.equal("cloud.argument", e.code)
  local prefix = THIS_FILE .. ":" .. line .. ": "
  assert.are.equal(prefix, tostring(e):sub(1, #prefix), tostring(e))
  if field then assert.are.equal(field, e.field, tostring(e)) end
  return e
end

local function here() return debug.getinfo(2, "l").currentline end

describe("argument errors", function()
  local fc, client
  setup(function()
    fc = env.start{ job_duration = 0.02, fleet = { ecs = { { count = 10, name = "web-%03d" } } } }
    client = env.client(fc)
  end)
  teardown(function()
    client:close()
    fc:stop()
  end)

  it("point at the caller's line from every public entry point", function()
    local line
    raised_at(here(), "concurrency", function() line = cloud.new{ concurrency = 0 } end)
    raised_at(here(), "region", function() cloud.new{ region = "localhost:18443/x" } end)
    raised_at(here(), "endpoints.ecs", function() cloud.new{ endpoints = { ecs = "ftp://127.0.0.1" } } end)
    raised_at(here(), "attempts", function() cloud.new{ retry = { attempts = 0 } } end)
    raised_at(here(), "type", function() client:stop_ecs{ ids = { "a" }, type = "GENTLE" } end)
    raised_at(here(), "type", function() client:stop_bms{ ids = { "a" }, type = "SOFT" } end)
    raised_at(here(), "ids[2]", function() client:stop_ecs{ ids = { "a", 42 } } end)
    raised_at(here(), "filter.name", function() client:stop_ecs{ filter = { name = "web[" } } end)
    raised_at(here(), "filter.colour", function() client:stop_bms{ filter = { colour = "x" } } end)
    raised_at(here(), "type", function() cloud.stop_ecs{ ids = { "a" }, type = "GENTLE" } end)
    raised_at(here(), "filter.status", function() cloud.stop_bms{ filter = { status = 1 } } end)
    raised_at(here(), nil, function() client.stop_ecs{ ids = { "a" } } end)
    raised_at(here(), nil, function() F.status() end)
    raised_at(here(), nil, function() F.name("(x") end)
    raised_at(here(), nil, function() F.all{ "x" } end)
    assert.is_nil(line)
    assert.are.equal(0, fc:stats().calls.total)
  end)

  it("malformed endpoints are refused at cloud.new, naming endpoints.ecs, before anything is sent", function()
    local bad = { "https://:443", "https://127.0..0.1", "https://.127.0.0.1", "https://[zz]" }
    local tails = { " x", "\r\nX-Injected: 1", "\n", ":0", ":99999", ":443:80", ":", ":8a", "/a b", "/\27x" }
    for _, tail in ipairs(tails) do
      bad[#bad + 1] = "https://127.0.0.1" .. tail
    end
    for _, url in ipairs(bad) do
      local e = raised_at(here(), "endpoints.ecs", function() cloud.new{ ak = "a", sk = "b",
        project_id = "0123456789abcdef0123456789abcdef", endpoints = { ecs = url } } end)
      assert.is_nil(e.message:find("[\r\n]"), e.message) -- the error line stays one line
    end
    for _, url in ipairs({ "https://ecs.cn-north-4.myhuaweicloud.com", "https://127.0.0.1:18443/x",
                           "http://[::1]:8080/prefix", "https://h_1.localhost:65535" }) do
      assert(cloud.new{ ak = "a", sk = "b", project_id = "0123456789abcdef0123456789abcdef",
                        endpoints = { ecs = url } }):close()
    end
    assert.are.equal(0, fc:stats().calls.total)
  end)

  it("an empty filter is refused; { all = true } means every server on purpose", function()
    local e = raised_at(here(), "filter", function() client:stop_ecs{ filter = {} } end)
    assert.truthy(e.message:find("all = true", 1, true))
    raised_at(here(), "filter.all", function() client:stop_ecs{ filter = { all = "yes" } } end)
    raised_at(here(), "filter.all", function() client:stop_ecs{ filter = { all = true, name = "x" } } end)
    assert.are.equal(0, fc:stats().calls.total)
    local res = assert(client:stop_ecs{ filter = { all = true }, dry_run = true })
    assert.are.equal(10, #res.selected)
    assert.is_true(res.dry_run)
  end)
end)

describe("the world's failures", function()
  it("come back as nil, err with a kind, also from a bad environment", function()
    local c, err = cloud.new{ ak = "a", sk = "b", endpoints = { ecs = "https://127.0.0.1:1" } }
    assert.is_nil(c)
    assert.are.equal("config", err.kind)
    assert.are.equal("cloud.no_project_id", err.code)
    -- The same mistake from the environment is the setup's, not the caller's: returned.
    -- os.getenv is replaced for these calls on purpose (the linter's warning 122 is ignored there).
    local getenv = os.getenv
    local fake = { HUAWEICLOUD_SDK_PROJECT_ID = "p/q", HUAWEICLOUD_SDK_REGION = "cn north 4" }
    os.getenv = function(k) if fake[k] ~= nil then return fake[k] end return getenv(k) end -- luacheck: ignore 122
    local ok, c2, err2 = pcall(cloud.new, { ak = "a", sk = "b", endpoints = { ecs = "https://127.0.0.1:1" } })
    local ok3, c3, err3 = pcall(cloud.new, { ak = "a", sk = "b", project_id = "0123456789abcdef0123456789abcdef" })
    os.getenv = getenv -- luacheck: ignore 122
    assert.is_true(ok, tostring(c2))
    assert.is_nil(c2)
    assert.are.equal("config", err2.kind)
    assert.truthy(err2.message:find("HUAWEICLOUD_SDK_PROJECT_ID", 1, true), err2.message)
    assert.is_true(ok3, tostring(c3))
    assert.is_nil(c3)
    assert.truthy(err3.message:find("HUAWEICLOUD_SDK_REGION", 1, true), err3.message)
  end)
end)

describe("stopping", function()
  local fc, client
  local FLEET = { ecs = { { count = 6, name = "web-%03d" }, { count = 2, name = "db-%d", status = "SHUTOFF" } } }
  setup(function()
    fc = env.start{ job_duration = 0.02, fleet = FLEET }
    client = env.client(fc)
  end)
  teardown(function()
    client:close()
    fc:stop()
  end)
  before_each(function()
    assert(fc:configure{ faults = {}, fleet = FLEET })
    assert(fc:reset())
  end)

  it("an empty ids array is nothing to do: ok, requested 0, no request", function()
    local res = assert(client:stop_ecs{ ids = {} })
    assert.is_true(res.ok)
    assert.are.equal(0, res.requested)
    assert.same({}, res.stopped)
    assert.same({}, res.failed)
    assert.are.equal(0, fc:stats().calls.total)
  end)

  it("exclude by id: reported skipped, never sent, not a failure", function()
    local ids = env.ids("ecs", 1, 3)
    local res = assert(client:stop_ecs{ ids = ids, exclude = { ids[2] }, poll_interval = 0.02 })
    assert.is_true(res.ok)
    assert.are.equal(3, res.requested)
    assert.same({ { id = ids[2], reason = "excluded" } }, res.skipped)
    assert.are.equal(2, #res.stopped)
    assert.are.equal(2, fc:stats().stop_requests.servers)
  end)

  it("confirm decides between choosing and sending", function()
    local seen
    local res = assert(client:stop_ecs{ filter = { name = "^web" }, confirm = function(plan)
      seen = plan
      return false
    end })
    assert.are.equal(6, #seen.selected)
    assert.is_true(res.cancelled)
    assert.is_false(res.ok)
    assert.are.equal(0, fc:stats().calls.action or 0)
  end)

  it("matches statuses in any case, and hints at a bare '-' in a name that selects nothing", function()
    local res = assert(client:stop_ecs{ filter = { status = "active" }, dry_run = true })
    assert.are.equal(6, #res.selected)
    res = assert(client:stop_ecs{ filter = { name = "^web-00" }, dry_run = true })
    assert.are.equal(0, #res.selected)
    assert.truthy(res.hint and res.hint:find("%-", 1, true), tostring(res.hint))
    res = assert(client:stop_ecs{ filter = { name = "^web%-00" }, dry_run = true })
    assert.are.equal(6, #res.selected)
    assert.is_nil(res.hint)
  end)

  it("cloud.to_json writes a result's empty arrays as arrays", function()
    local res = assert(client:stop_ecs{ ids = env.ids("ecs", 1, 2), poll_interval = 0.02 })
    local text = cloud.to_json(res)
    assert.truthy(text:find('"failed":[]', 1, true), text)
    assert.truthy(text:find('"skipped":[]', 1, true), text)
    local doc = cjson.decode(text)
    assert.are.equal(2, #doc.stopped)
    assert.is_true(doc.ok)
    -- An error object encodes as its fields.
    local _, err = cloud.new{ ak = "a", sk = "b" }
    assert.are.equal("config", cjson.decode(cloud.to_json({ error = err })).error.kind)
  end)
end)
