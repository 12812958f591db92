-- cloud.classify: the table that says what an answer of the cloud means, checked row by row
-- against expectations written here and against the reference's own error table
-- (docs/reference/ECS-BMS.md).
local classify = require "cloud.classify"

-- What each row of the reference's table must mean: code, the status the reference gives it,
-- class, minimum delay, scope. Written out here, not read from the module, so a changed row fails.
local EXPECTED = {
  { "APIGW.0301", 401, "permanent", 0, "call" },
  { "APIGW.0308", 429, "throttled", 0, "call" },
  { "APIG.0301", 401, "permanent", 0, "call" }, -- the gateway's own spelling, as APIGW.0301
  { "APIG.0308", 429, "throttled", 0, "call" },
  { "Common.0024", 202, "throttled", 0, "call" },
  { "Common.1503", 503, "throttled", 0, "call" },
  { "Ecs.0603", 501, "retry_later", 60, "server" },
  { "Common.0001", 500, "retry", 0, "call" },
  { "Ecs.0002", 500, "retry", 0, "call" },
  { "Ecs.1000", 500, "retry", 0, "call" },
  { "Ecs.1001", 500, "retry", 0, "call" },
  { "Ecs.1002", 400, "retry", 0, "call" },
  { "Ecs.0100", 400, "done", 0, "server" },
  { "Ecs.0114", 404, "permanent", 0, "server" },
  { "Ecs.0614", 404, "permanent", 0, "server" },
  { "Ecs.0118", 400, "permanent", 0, "call" },
  { "Ecs.0605", 400, "permanent", 0, "server" },
  { "Ecs.0005", 400, "permanent", 0, "call" },
  { "Pdp.0001", 403, "permanent", 0, "call" },
  { "Common.0011", 400, "permanent", 0, "call" },
}

-- The reference's error table: code -> its HTTP column, ranges (`Ecs.1000`-`Ecs.1002`) expanded.
local function reference_table()
  local path = "docs/reference/ECS-BMS.md"
  local f = assert(io.open(path, "rb"), "cannot read " .. path)
  local text = f:read("*a")
  f:close()
  local out, n = {}, 0
  local in_table = false
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:find("^| code | HTTP |") then in_table = true
    elseif in_table and not line:find("^|") then in_table = false
    elseif in_table and line:find("^| *%**`") then
      local cells = {}
      for cell in line:gmatch("|([^|]*)") do cells[#cells + 1] = cell:gsub("%*", ""):match("^%s*(.-)%s*$") end
      local codes, http = cells[1], cells[2]
      codes = codes:gsub("`(%a+)%.(%d+)`%-`%a+%.(%d+)`", function(prefix, a, b)
        local list = {}
        for i = tonumber(a), tonumber(b) do list[#list + 1] = ("`%s.%04d`"):format(prefix, i) end
        return table.concat(list, ", ")
      end)
      for code in codes:gmatch("`([^`]+)`") do out[code] = http n = n + 1 end
    end
  end
  return out, n
end

describe("cloud.classify", function()
  describe("the table", function()
    it("has a row for every code of the reference's table, citing its HTTP status, and no other", function()
      local ref, n = reference_table()
      assert.is_true(n >= 15, "read only " .. n .. " codes from the reference")
      local rows = {}
      for _, row in ipairs(classify.rows) do
        assert.are.equal(ref[row.code], row.http, row.code)
        assert.is_string(row.why)
        rows[row.code] = true
      end
      for code in pairs(ref) do assert.is_true(rows[code], "no row for " .. code) end
    end)

    it("is the table this spec expects, row for row", function()
      assert.are.equal(#EXPECTED, #classify.rows)
      for i, e in ipairs(EXPECTED) do assert.are.equal(e[1], classify.rows[i].code) end
    end)

    for _, e in ipairs(EXPECTED) do
      local code, status, class, delay, scope = e[1], e[2], e[3], e[4], e[5]
      it(("%s (HTTP %d) is %s"):format(code, status, class), function()
        local v = classify.answer { status = status, code = code, has_job_id = false }
        assert.are.equal(class, v.class)
        assert.are.equal(delay, v.min_delay)
        assert.are.equal(scope, v.scope)
        assert.are.equal(code, v.code)
        assert.are.equal(status, v.status)
        assert.are.equal(code, v.row.code)
        -- The code decides, whatever the status: "the HTTP status may not be accurate".
        for _, other in ipairs({ 200, 202, 400, 404, 500, 503 }) do
          local w = classify.answer { status = other, code = code, has_job_id = false }
          assert.are.equal(class, w.class, code .. " with HTTP " .. other)
          assert.are.equal(delay, w.min_delay, code .. " with HTTP " .. other)
        end
        -- Inside a job's answer, where many codes arrive, the code means the same.
        local s = classify.sub_job(code)
        assert.are.equal(class, s.class)
        assert.are.equal(delay, s.min_delay)
        assert.are.equal("server", s.scope)
      end)
    end
  end)

  describe("the gateway's two spellings", function()
    it("APIG.0301 and APIG.0308 mean what their APIGW twins mean, in answers and in sub-jobs", function()
      for _, twin in ipairs({ { "APIG.0301", "APIGW.0301" }, { "APIG.0308", "APIGW.0308" } }) do
        for _, status in ipairs({ 202, 401, 429, 500 }) do
          local a = classify.answer { status = status, code = twin[1], has_job_id = false, retry_after = 9 }
          local b = classify.answer { status = status, code = twin[2], has_job_id = false, retry_after = 9 }
          assert.are.same({ b.class, b.scope, b.min_delay }, { a.class, a.scope, a.min_delay }, twin[1])
          assert.are.equal(twin[1], a.code)
        end
        assert.are.equal(classify.sub_job(twin[2]).class, classify.sub_job(twin[1]).class)
        assert.are.equal(twin[1], classify.code_in("error_code: " .. twin[1]))
      end
      assert.are.equal(9, classify.answer { status = 429, code = "APIG.0308", retry_after = 9 }.min_delay)
    end)
  end)

  describe("by status, for an absent or unknown code", function()
    for _, c in ipairs({
      { 200, nil, nil, "ok" }, { 200, nil, true, "ok" }, { 202, nil, true, "ok" },
      { 200, nil, false, "ambiguous" }, { 202, nil, false, "ambiguous" }, { 202, "Ecs.9999", false, "ambiguous" },
      { 429, nil, nil, "throttled" }, { 429, "APIGW.9999", false, "throttled" },
      { 500, nil, false, "retry" }, { 502, nil, false, "retry" }, { 503, nil, false, "retry" },
      { 504, "Ecs.0500", false, "retry" }, { 501, nil, false, "retry" },
      { 400, nil, false, "permanent" }, { 401, nil, false, "permanent" }, { 403, "X.0001", false, "permanent" },
      { 404, nil, nil, "permanent" }, { 302, nil, false, "permanent" },
    }) do
      local status, code, has, class = c[1], c[2], c[3], c[4]
      it(("HTTP %d, code %s, job_id %s is %s"):format(status, tostring(code), tostring(has), class), function()
        local v = classify.answer { status = status, code = code, has_job_id = has }
        assert.are.equal(class, v.class)
        assert.is_nil(v.row)
        assert.are.equal(0, v.min_delay)
      end)
    end
  end)

  it("takes a job_id as acceptance, whatever code the answer names", function()
    for _, code in ipairs({ "Common.0024", "Ecs.0603", "Ecs.0114" }) do
      assert.are.equal("ok", classify.answer { status = 202, code = code, has_job_id = true }.class)
    end
  end)

  it("waits at least Retry-After when it is longer, never shorter than the row's delay", function()
    assert.are.equal(7, classify.answer { status = 429, code = "APIGW.0308", retry_after = 7 }.min_delay)
    assert.are.equal(3, classify.answer { status = 503, retry_after = 3 }.min_delay)
    assert.are.equal(60, classify.answer { status = 501, code = "Ecs.0603", retry_after = 5 }.min_delay)
    assert.are.equal(90, classify.answer { status = 501, code = "Ecs.0603", retry_after = 90 }.min_delay)
    assert.are.equal(0, classify.answer { status = 404, code = "Ecs.0114", retry_after = 9 }.min_delay)
  end)

  describe("already in the wanted state (Ecs.0100)", function()
    it("is done for a stop once a lookup shows SHUTOFF, for a start once it shows ACTIVE", function()
      local stop = classify.sub_job("Ecs.0100", "stop")
      assert.are.equal("done", stop.class)
      assert.are.equal("SHUTOFF", stop.confirm)
      assert.are.equal("SHUTOFF", classify.answer { status = 400, code = "Ecs.0100" }.confirm) -- stop by default
      assert.are.equal("ACTIVE", classify.answer { status = 400, code = "Ecs.0100", action = "start" }.confirm)
      assert.are.equal("done", classify.confirm(stop, { status = "SHUTOFF", ["OS-EXT-STS:task_state"] = nil }))
      assert.are.equal("wait",
        classify.confirm(stop, { status = "ACTIVE", ["OS-EXT-STS:task_state"] = "powering-off" }))
      assert.are.equal("permanent", classify.confirm(stop, { status = "ERROR" }))
      assert.are.equal("permanent", classify.confirm(stop, { status = "ACTIVE" }))
      assert.are.equal("permanent", classify.confirm(stop, nil))
      local start = classify.sub_job("Ecs.0100", "start")
      assert.are.equal("done", classify.confirm(start, { status = "ACTIVE" }))
      assert.are.equal("permanent", classify.confirm(start, { status = "SHUTOFF" }))
    end)

    it("is a plain refusal for an action with no wanted state", function()
      local v = classify.sub_job("Ecs.0100", "reboot")
      assert.are.equal("permanent", v.class)
      assert.is_nil(v.confirm)
      assert.has_error(function() classify.confirm(v, { status = "SHUTOFF" }) end)
    end)
  end)

  describe("sub-jobs", function()
    it("read the code from errorcode_message or fail_reason when error_code is absent", function()
      assert.are.equal("permanent", classify.sub_job(nil, "stop", "Ecs.0114: server x does not exist").class)
      local v = classify.sub_job(nil, "stop", '{"error":{"code":"Ecs.0603","message":"busy"}}')
      assert.are.equal("retry_later", v.class)
      assert.are.equal("Ecs.0603", v.code)
      assert.are.equal("done", classify.sub_job("", "stop", "Ecs.0100: already stopped").class)
    end)

    it("are permanent for an unknown or absent code, keeping what the cloud said", function()
      local v = classify.sub_job("Ecs.0500")
      assert.are.equal("permanent", v.class)
      assert.are.equal("Ecs.0500", v.code)
      assert.is_nil(v.row)
      assert.are.equal("permanent", classify.sub_job(nil, "stop", "something failed").class)
      assert.is_nil(classify.sub_job(nil).code)
    end)
  end)

  it("finds a code only as a whole word", function()
    assert.are.equal("Ecs.0100", classify.code_in("x Ecs.0100: y"))
    assert.are.equal("APIGW.0301", classify.code_in('"APIGW.0301"'))
    assert.is_nil(classify.code_in("xEcs.0100"))
    assert.is_nil(classify.code_in("Ecs.01001"))
    assert.is_nil(classify.code_in("ecs.0100"))
    assert.is_nil(classify.code_in(nil))
  end)

  it("raises a caller's mistake as an argument error at the caller's line, naming the field", function()
    local function raises(f, field, text)
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.are.equal("argument", require("cloud.errors").kind(err))
      assert.are.equal(field, err.field)
      assert.truthy(tostring(err):find(text, 1, true), tostring(err))
      assert.truthy(tostring(err):find("classify_spec.lua:%d+: "), tostring(err))
    end
    raises(function() classify.answer { status = "500" } end, "status",
      "cloud.classify.answer: option 'status' must be an HTTP status")
    raises(function() classify.answer { status = 500, code = 7 } end, "code",
      "cloud.classify.answer: option 'code' must be")
    raises(function() classify.answer { status = 429, retry_after = -1 } end, "retry_after", "'retry_after' must be")
    raises(function() classify.answer { status = 400, action = "halt" } end, "action",
      "cloud.classify.answer: option 'action' must be")
    raises(function() classify.sub_job("Ecs.0100", "halt") end, "action",
      "cloud.classify.sub_job: option 'action' must be")
    raises(function() classify.sub_job(100) end, "code", "cloud.classify.sub_job: option 'code' must be")
    raises(function() classify.answer(nil) end, nil, "cloud.classify.answer: expects a table")
    raises(function() classify.confirm({ class = "ok" }, {}) end, "verdict", "cloud.classify.confirm: option 'verdict'")
  end)
end)
