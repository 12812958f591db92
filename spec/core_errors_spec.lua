-- Every binding of the C core fails in one shape (csrc/result.h): a caller's mistake raises
-- the argument error of cloud.errors, naming the function and the field, at the caller's
-- line; a failure of the world returns nil and why. No result's count depends on a flag.
local core = require "cloud.core"
local errors = require "cloud.errors"
local subprocess = require "support.subprocess"

local SIGN = { method = "GET", host = "h", path = "/", ak = "A", sk = "S", date = "20261122T101500Z" }

local function with(over)
  local o = {}
  for k, v in pairs(SIGN) do o[k] = v end
  for k, v in pairs(over) do o[k] = v end
  return o
end

-- The error fn raises: an Error of kind argument, code cloud.argument.
local function raised(fn)
  local ok, e = pcall(fn)
  assert.is_false(ok, "no error")
  assert.are.equal("argument", errors.kind(e), tostring(e))
  assert.are.equal("cloud.argument", e.code)
  assert.are.equal(getmetatable(e), errors.Error)
  return e
end

describe("a caller's mistake in the C core", function()
  local engine, set, body, file, dir
  setup(function()
    engine = core.http{}
    set = core.idset({ "a", "b" })
    body = core.start_body({ "a" })
    local p = io.popen("mktemp -d /tmp/core_errors.XXXXXX")
    dir = p:read("*l")
    p:close()
    file = assert(core.create_file(dir .. "/f"))
  end)
  teardown(function()
    engine:close()
    set:close()
    body:close()
    file:close()
    os.remove(dir .. "/f")
    os.remove(dir)
  end)

  -- { what is called, the call, where, field (false: the whole call) }
  local cases = {
    { "core.sign", function() core.sign(with{ path = "x" }) end, "cloud.core.sign", "path" },
    { "core.sign", function() core.sign("GET /") end, "cloud.core.sign", false },
    { "core.sign_for_sending", function() core.sign_for_sending(with{ query = { n = 0 / 0 } }) end,
      "cloud.core.sign_for_sending", "query.n" },
    { "core.secret", function() core.secret("") end, "cloud.core.secret", "sk" },
    { "core.header_line", function() core.header_line("X", {}) end, "cloud.core.header_line", "value" },
    { "core.http", function() core.http{ concurrency = 0 } end, "cloud.core.http", "concurrency" },
    { "engine:add", function() engine:add(1, "GET", "ftp://x/", {}) end, "cloud.core.http:add", "url" },
    { "engine:run", function() engine:run("soon") end, "cloud.core.http:run", "timeout" },
    { "engine:drop_queued", function() engine:drop_queued(7) end, "cloud.core.http:drop_queued", "ids" },
    { "engine.pending", function() engine.pending({}) end, "cloud.core.http:pending", false },
    { "core.stop_body", function() core.stop_body({ "a" }, 7) end, "cloud.core.stop_body", "type" },
    { "core.start_body", function() core.start_body({ false }) end, "cloud.core.start_body", "ids[1]" },
    { "body.string", function() body.string("x") end, "cloud.core.body:string", false },
    { "core.idset", function() core.idset({ "a", {} }) end, "cloud.core.idset", "ids[2]" },
    { "core.checked_idset", function() core.checked_idset({ "a", "" }) end, "cloud.core.checked_idset", "ids[2]" },
    { "set:mark", function() set:mark("a", "open") end, "cloud.core.idset:mark", "outcome" },
    { "set:batch", function() set:batch(2, 3) end, "cloud.core.idset:batch", "last" },
    { "core.job_outcomes", function() core.job_outcomes(42) end, "cloud.core.job_outcomes", "answer" },
    { "core.job_outcomes", function() core.job_outcomes("{}", set, 99, {}, {}) end, "cloud.core.job_outcomes",
      "batch" },
    { "core.security_key", function() core.security_key({}) end, "cloud.core.security_key", "answer" },
    { "core.create_file", function() core.create_file(7) end, "cloud.core.create_file", "path" },
    { "core.read_file", function() core.read_file("/etc/hostname", -1) end, "cloud.core.read_file", "max_bytes" },
    { "core.lock_file", function() core.lock_file(7) end, "cloud.core.lock_file", "path" },
    { "core.lock_file", function() core.lock_file("/tmp/x.lock", {}) end, "cloud.core.lock_file", "note" },
    { "file:write", function() file:write({}) end, "cloud.core.file:write", "s" },
    { "core.sleep", function() core.sleep(0 / 0) end, "cloud.core.sleep", "seconds" },
    { "core.file_mode", function() core.file_mode() end, "cloud.core.file_mode", "path" },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " raises the argument error naming " .. (c[4] or "the call"), function()
      local e = raised(c[2])
      assert.are.equal(c[3], e.where)
      assert.are.equal(c[4] or nil, e.field)
      local wants = c[4] and ("%s: option '%s' %s"):format(c[3], c[4], e.problem) or ("%s: %s"):format(c[3], e.problem)
      assert.are.equal(wants, e.message)
      -- The text starts at the caller's line (this file), as for the Lua layer's mistakes.
      assert.are.equal("spec/core_errors_spec.lua:", e.position:match("^[^:]+:"), e.position)
      assert.are.equal(e.position .. e.message, tostring(e))
    end)
  end

  it("raises from C what the Lua layer's check raises: same fields, same metatable", function()
    local from_c = raised(function() core.checked_idset({ "a", "" }, "client:stop_ecs") end)
    local from_lua = raised(function() errors.argument("client:stop_ecs", "ids[2]", from_c.problem) end)
    from_c.position, from_lua.position = nil, nil
    assert.are.same(from_lua, from_c)
  end)
end)

describe("a failure of the world in the C core", function()
  it("returns nil and why, never raising", function()
    local none, why, errno = core.read_file("/nonexistent/x", 10)
    assert.are.same({ nil, "/nonexistent/x: No such file or directory", 2 }, { none, why, errno })
    assert.are.same({ nil, "No such file or directory" }, { core.file_mode("/nonexistent/x") })
    none, why = core.job_outcomes("{")
    assert.is_nil(none)
    assert.truthy(why:find("^invalid job answer: "), why)
    none, why = core.security_key("{}")
    assert.is_nil(none)
    assert.truthy(why:find("lacks"), why)
  end)
end)

describe("the C core's results", function()
  it("come in as many values whatever the flags: sign and sign_for_sending, idset and checked_idset", function()
    for _, flag in ipairs({ false, true }) do
      assert.are.equal(1, select("#", core.sign(SIGN, flag)))
      assert.are.equal(3, select("#", core.sign_for_sending(SIGN, flag)))
    end
    assert.are.equal(1, select("#", core.idset({ "a" })))
    assert.are.equal(1, select("#", core.checked_idset({ "a" })))
    local set = core.checked_idset({ "a" })
    assert.are.equal(1, select("#", set:state("a")))
    assert.are.equal(1, select("#", set:state("zzz")))
    set:close()
  end)
end)

describe("a caller's mistake in the C core without cloud.errors", function()
  -- The signer used alone: cloud.core on the path, the Lua layer not.
  local function run(code)
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(code)
    f:close()
    local p = io.popen(("env LUA_PATH=';;' %s %s 2>&1"):format(subprocess.interpreter, script))
    local out = p:read("*a")
    p:close()
    os.remove(script)
    return out
  end

  it("raises a string saying the same, at the caller's line", function()
    local out = run([[
      package.path = "/nonexistent/?.lua" -- require finds the C core itself, and no cloud.errors
      local core = require "cloud.core"
      local _, e = pcall(function() return core.sign{ method = "GET" } end)
      print(type(e), e)
      print(package.loaded["cloud.errors"])
      _, e = pcall(function() return core.checked_idset({ "a", 7 }, "client:stop_ecs") end)
      print(e)
    ]])
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.truthy(lines[1]:find("^string\t.*:3: cloud%.core%.sign: option 'host' is required$"), out)
    assert.are.equal("nil", lines[2], out)
    assert.truthy(lines[3]:find(":6: client:stop_ecs: option 'ids%[2%]' must be a non%-empty string"), out)
  end)
end)
