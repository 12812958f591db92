-- core.job_outcomes (csrc/jobscan.c) against lua-cjson: the same fields from the same
-- answers, and the same verdict on what is JSON, except where cjson is laxer than JSON.
local job_outcomes = require("cloud.core").job_outcomes
local unpack = table.unpack or unpack
local cjson = require("cjson").new()
cjson.decode_max_depth(64) -- as lua/cloud/base/json.lua sets it

local function str(v)
  return type(v) == "string" and v or false
end

-- A sub-job's server_id and errorcode_message from its decoded entities: an object, or
-- (the BMS job table's form) an array of objects read one after the other, where two
-- elements naming different servers leave no server_id.
local function entities_fields(e)
  if e[1] == nil then return str(e.server_id), str(e.errorcode_message) end
  local id, ecm, disagree = false, false, false
  for _, el in ipairs(e) do
    if type(el) == "table" then
      local before = id
      if el.server_id ~= nil then id = str(el.server_id) end
      if el.errorcode_message ~= nil then ecm = str(el.errorcode_message) end
      if before and id ~= before then disagree = true end
    end
  end
  return not disagree and id, ecm
end

-- What job_outcomes must return, from cjson's full decode; nil when cjson refuses the body.
local function expected(body)
  local ok, v = pcall(cjson.decode, body)
  if not ok then return nil end
  if not body:match("^[ \t\r\n]*{") then return nil end -- an array or scalar: refused
  local want = {
    status = str(v.status) or nil,
    error_code = str(v.error_code) or nil,
    fail_reason = str(v.fail_reason) or nil,
    server_id = {}, sub_status = {}, sub_error_code = {}, sub_fail_reason = {},
    sub_errorcode_message = {},
  }
  local subs = type(v.entities) == "table" and v.entities.sub_jobs
  if type(subs) ~= "table" then subs = {} end
  want.sub_jobs = #subs
  for i = 1, #subs do
    local sub = type(subs[i]) == "table" and subs[i] or {}
    local e = type(sub.entities) == "table" and sub.entities or {}
    want.sub_status[i] = str(sub.status)
    want.sub_error_code[i] = str(sub.error_code)
    want.sub_fail_reason[i] = str(sub.fail_reason)
    want.server_id[i], want.sub_errorcode_message[i] = entities_fields(e)
  end
  return want
end

local function same_as_cjson(body)
  local want = assert(expected(body), "cjson refused the test body")
  local got, err = job_outcomes(body)
  assert.is_nil(err)
  assert.are.same(want, got)
  return got
end

local function refused(body, reason)
  local got, err = job_outcomes(body)
  assert.is_nil(got)
  assert.is_string(err)
  assert.matches("^invalid job answer: .- at byte %d+$", err)
  if reason then assert.truthy(err:find(reason, 1, true), err) end
  return err
end

local EXAMPLE = [[
{"status": "SUCCESS", "job_id": "...", "job_type": "batchStopServer",
 "begin_time": "...", "end_time": "...", "error_code": null, "fail_reason": null,
 "entities": {"sub_jobs_total": 2,
   "sub_jobs": [{"status": "SUCCESS", "job_id": "...", "job_type": "...",
                 "error_code": null, "fail_reason": null,
                 "entities": {"server_id": "616fb98f-...", "errorcode_message": null}}]}}
]]

local function uuid(i)
  return ("%08x-0000-4000-8000-%012x"):format(i, i)
end

-- A sub-job as the cloud writes it; every 7th one failed.
local function sub_json(i)
  if i % 7 == 0 then
    return ('{"status": "FAIL", "job_id": "ff8080818c%022x", "job_type": "stopServer", ' ..
      '"begin_time": "2026-11-22T10:15:00.123Z", "end_time": "2026-11-22T10:15:31.456Z", ' ..
      '"error_code": "Ecs.0001", "fail_reason": "server %d is locked", ' ..
      '"entities": {"server_id": "%s", "errorcode_message": "Ecs.0001: locked"}}'):format(i, i, uuid(i))
  end
  return ('{"status": "SUCCESS", "job_id": "ff8080818c%022x", "job_type": "stopServer", ' ..
    '"begin_time": "2026-11-22T10:15:00.123Z", "end_time": "2026-11-22T10:15:31.456Z", ' ..
    '"error_code": null, "fail_reason": null, ' ..
    '"entities": {"server_id": "%s", "errorcode_message": null}}'):format(i, uuid(i))
end

local function answer(n, status)
  local subs = {}
  for i = 1, n do subs[i] = sub_json(i) end
  return ('{"status": "%s", "job_id": "ff8080818c000000000000000000000", ' ..
    '"job_type": "batchStopServer", "begin_time": "2026-11-22T10:15:00.000Z", ' ..
    '"end_time": "2026-11-22T10:16:00.000Z", "error_code": null, "fail_reason": null, ' ..
    '"entities": {"sub_jobs_total": %d, "sub_jobs": [%s]}}'):format(status or "SUCCESS", n,
    table.concat(subs, ", "))
end

-- Adds whitespace around every structural token (outside strings, never inside numbers).
local function spread(body)
  local WS = { " ", "\t", "\r\n", "\n  ", "" }
  local out, k, in_string, escaped = {}, 0, false, false
  for c in body:gmatch(".") do
    if in_string then
      if escaped then
        escaped = false
      elseif c == "\\" then
        escaped = true
      elseif c == '"' then
        in_string = false
      end
    elseif c:match("[{}%[%],:]") then
      k = k + 1
      c = WS[k % #WS + 1] .. c .. WS[(k + 2) % #WS + 1]
    elseif c == '"' then
      in_string = true
    end
    out[#out + 1] = c
  end
  return table.concat(out)
end

describe("core.job_outcomes reads what cjson reads", function()
  it("the documented example", function()
    local got = same_as_cjson(EXAMPLE)
    assert.are.equal("SUCCESS", got.status)
    assert.is_nil(got.error_code)
    assert.are.equal(1, got.sub_jobs)
    assert.are.same({ "616fb98f-..." }, got.server_id)
    assert.are.same({ false }, got.sub_errorcode_message)
  end)

  it("a 1000-sub-job answer (~300 KB)", function()
    local body = answer(1000, "FAIL")
    assert.is_true(#body > 250000)
    local got = same_as_cjson(body)
    assert.are.equal(1000, got.sub_jobs)
    assert.are.equal(uuid(1000), got.server_id[1000])
    assert.are.equal("FAIL", got.sub_status[7])
    assert.are.equal("server 7 is locked", got.sub_fail_reason[7])
    assert.are.equal(false, got.sub_fail_reason[8])
  end)

  it("the same answer with whitespace around every token", function()
    local body = spread(answer(20))
    assert.is_truthy(body:find("\r\n", 1, true))
    assert.are.same(job_outcomes(answer(20)), same_as_cjson(body))
    same_as_cjson(" \t\r\n" .. EXAMPLE .. " \t\r\n")
  end)

  it("members in any order", function()
    math.randomseed(7)
    local members = {
      '"status": "FAIL"', '"error_code": "E1"', '"fail_reason": "r"', '"job_id": "j"',
      '"entities": {"errorcode_message": "m", "server_id": "s", "x": [1, {}]}', '"extra": {"status": 1}',
    }
    local subs = {}
    for i = 1, 30 do
      for j = #members, 2, -1 do
        local k = math.random(j)
        members[j], members[k] = members[k], members[j]
      end
      subs[i] = "{" .. table.concat(members, ", ") .. "}"
    end
    same_as_cjson('{"entities": {"sub_jobs": [' .. table.concat(subs, ",") ..
      '], "sub_jobs_total": 30}, "fail_reason": "f", "status": "RUNNING"}')
  end)

  it("sub-jobs without entities or server_id, and with other types where strings belong", function()
    local got = same_as_cjson([[{"status": 1, "error_code": true, "fail_reason": ["x"],
      "entities": {"sub_jobs": [
        {"status": "SUCCESS"},
        {"status": "FAIL", "entities": {}},
        {"status": 1, "error_code": 2.5e3, "fail_reason": -0, "entities": {"server_id": 7}},
        {"entities": {"server_id": {"id": "x"}, "errorcode_message": ["m"]}},
        {"entities": null}, {"entities": "s"}, {"entities": [{"server_id": 1}]},
        null, "a string", 42, true, [], [{"status": "no"}], {}
      ]}}]])
    assert.is_nil(got.status)
    assert.are.equal(14, got.sub_jobs)
    for i = 1, 14 do assert.are.equal(false, got.server_id[i]) end
    assert.are.same({ "SUCCESS", "FAIL", false, false }, { unpack(got.sub_status, 1, 4) })
  end)

  it("entities as an array of objects (the BMS job table's form), as well as an object", function()
    local got = same_as_cjson([[{"status": "FAIL", "entities": {"sub_jobs": [
        {"status": "SUCCESS", "entities": [{"server_id": "a1", "errorcode_message": null}]},
        {"status": "FAIL", "error_code": "BMS.0100", "entities": [{"server_id": "b2",
          "errorcode_message": "BMS.0100: not ACTIVE"}]},
        {"status": "SUCCESS", "entities": [{"server_id": "c3"}, {"errorcode_message": "m"}, 5, [], null]},
        {"status": "SUCCESS", "entities": [{"server_id": "d4"}, {"server_id": "d4"}]},
        {"status": "SUCCESS", "entities": {"server_id": "e5"}},
        {"status": "SUCCESS", "entities": [{"errorcode_message": "m"}, {"server_id": "f6"}]},
        {"status": "SUCCESS", "entities": [{"server_id": "g7", "server_id": "g7"}, {"server_id": "x8"}]},
        {"status": "SUCCESS", "entities": [{"server_id": "h9"}, {"server_id": null}, {"server_id": "h9"}]},
        {"status": "SUCCESS", "entities": [{"server_id": "i0"}], "entities": [{"errorcode_message": "m"}]},
        {"status": "SUCCESS", "entities": []}
      ]}}]])
    assert.are.same({ "a1", "b2", "c3", "d4", "e5", "f6", false, false, false, false }, got.server_id)
    assert.are.same({ false, "BMS.0100: not ACTIVE", "m", false, false, "m", false, false, "m", false },
      got.sub_errorcode_message)
  end)

  it("nulls everywhere", function()
    local got = same_as_cjson([[{"status": null, "error_code": null, "fail_reason": null,
      "entities": {"sub_jobs": [{"status": null, "error_code": null, "fail_reason": null,
      "entities": {"server_id": null, "errorcode_message": null}}]}}]])
    assert.is_nil(got.status)
    assert.are.same({ false }, got.server_id)
  end)

  it("no entities, or entities/sub_jobs of another type: no sub-jobs", function()
    for _, body in ipairs {
      '{"status": "SUCCESS"}', "{}", '{"entities": null}', '{"entities": []}', '{"entities": [1]}',
      '{"entities": "x"}', '{"entities": {}}', '{"entities": {"sub_jobs": null}}',
      '{"entities": {"sub_jobs": {"1": {"status": "x"}}}}', '{"entities": {"sub_jobs": "x"}}',
      '{"entities": {"sub_jobs": []}}', '{"sub_jobs": [{"status": "top-level sub_jobs are not read"}]}',
    } do
      local got = same_as_cjson(body)
      assert.are.equal(0, got.sub_jobs)
      assert.are.same({}, got.server_id)
    end
  end)

  it("escapes unescaped exactly as cjson does", function()
    local s = [["q\" b\\ s\/ n\n t\t r\r b\b f\f e\u00e9 E\u00C9 euro\u20ac ]]
      .. [[smile\ud83d\ude00 max\udbff\udfff nul\u0000 end"]]
    local got = same_as_cjson('{"status": ' .. s .. ', "entities": {"sub_jobs": [{"fail_reason": ' ..
      s .. ', "entities": {"server_id": "\\u0061\\u0062", "errorcode_message": "\\"\\\\"}}]}}')
    assert.are.equal(cjson.decode(s), got.status)
    assert.are.equal('q" b\\ s/ n\n t\t r\r b\b f\f eé EÉ euro€ smile😀 max\244\143\191\191 nul\0 end', got.status)
    assert.are.equal("ab", got.server_id[1])
    assert.are.equal('"\\', got.sub_errorcode_message[1])
  end)

  it("member names with escapes are the names they spell", function()
    local got = same_as_cjson([[{"st\u0061tus": "A", "\u0065ntities": {"sub\u005fjobs": [
      {"server\u005fid": "no, not in entities", "entities": {"server\u005Fid": "s1"}}]}}]])
    assert.are.equal("A", got.status)
    assert.are.same({ "s1" }, got.server_id)
  end)

  it("UTF-8 and invalid UTF-8 pass through as bytes", function()
    local got = same_as_cjson('{"status": "状态 ✓ \255\254 \192\128", "entities": {"sub_jobs": ' ..
      '[{"entities": {"server_id": "服务器-\237\160\128"}}]}}')
    assert.are.equal("状态 ✓ \255\254 \192\128", got.status)
    assert.are.equal("服务器-\237\160\128", got.server_id[1])
  end)

  it("deep unknown members up to depth 64", function()
    local deep = ("["):rep(62) .. '{"status": "inner"}' .. ("]"):rep(62) -- 63 levels + the top
    local got = same_as_cjson('{"x": ' .. deep .. ', "y": ' .. ('{"a":'):rep(63) .. "1" ..
      ("}"):rep(63) .. ', "status": "outer"}')
    assert.are.equal("outer", got.status)
    -- inside a sub-job too: top, entities, sub_jobs, sub-job, then 60 more
    same_as_cjson('{"entities": {"sub_jobs": [{"status": "S", "x": ' .. ("["):rep(60) ..
      ("]"):rep(60) .. "}]}}")
  end)

  it("duplicate members: the last one wins, whatever its type", function()
    for _, body in ipairs {
      '{"status": "A", "status": "B"}',
      '{"status": "A", "status": null}',
      '{"status": "A", "status": 5}',
      '{"entities": {"sub_jobs": [{"status": "x"}]}, "entities": {"sub_jobs": [{}, {}]}}',
      '{"entities": {"sub_jobs": [{"status": "x"}]}, "entities": null}',
      '{"entities": {"sub_jobs": [{"status": "x"}], "sub_jobs": 3}}',
      '{"entities": {"sub_jobs": [{"status": "x"}], "sub_jobs": [{"status": "y"}]}}',
      '{"entities": {"sub_jobs": [{"status": "x", "entities": {"server_id": "a", "errorcode_message": "m"}, ' ..
        '"entities": {"server_id": "b"}, "status": "y"}]}}',
      '{"entities": {"sub_jobs": [{"entities": {"server_id": "a"}, "entities": 1}]}}',
      '{"entities": {"sub_jobs": [{"entities": {"server_id": "a", "server_id": false}}]}}',
    } do
      same_as_cjson(body)
    end
  end)

  it("keeps answers apart across calls (buffers are reused)", function()
    local a = job_outcomes('{"status": "\\u00e9A", "entities": {"sub_jobs": [{"status": "\\u00e9x"}]}}')
    local b = job_outcomes('{"status": "B"}')
    assert.are.equal("éA", a.status)
    assert.are.same({ "éx" }, a.sub_status)
    assert.are.equal("B", b.status)
    assert.are.equal(0, b.sub_jobs)
    assert.is_nil(job_outcomes("{"))
    assert.are.same(a, job_outcomes('{"status": "\\u00e9A", "entities": {"sub_jobs": [{"status": "\\u00e9x"}]}}'))
  end)
end)

describe("core.job_outcomes refuses what is not a JSON object", function()
  it("raises only for an argument that is not a string", function()
    for _, v in ipairs { 1, true, {} } do
      assert.has_error(function() job_outcomes(v) end)
    end
    assert.has_error(function() job_outcomes() end)
  end)

  it("the empty string and blanks", function()
    assert.are.equal("invalid job answer: unexpected end of input at byte 1", refused(""))
    refused(" \r\n\t", "unexpected end of input")
  end)

  it("a top level that is not an object", function()
    for _, body in ipairs { "[]", '[{"status": "x"}]', '"x"', "1", "null", "true", " []" } do
      refused(body, "the top level is not an object")
    end
  end)

  it("every truncation of an answer", function()
    local body = answer(3)
    for i = 0, #body - 1 do
      refused(body:sub(1, i))
      assert.is_nil(expected(body:sub(1, i)))
    end
  end)

  it("trailing garbage", function()
    for _, body in ipairs { "{} x", "{}{}", "{},", "{}]", '{}"', "{} 1", "{}\0", "\239\187\191{}" } do
      refused(body)
    end
    assert.are.equal("invalid job answer: trailing characters after the object at byte 4", refused("{} x"))
  end)

  it("bad escapes, and lone surrogates as cjson refuses them", function()
    for _, s in ipairs {
      [[\x]], [[\U0041]], [[\']], [[\u12]], [[\u12G4]], [[\u]], [[\ud83d]], [[\ude00]], [[\uDBFF]],
      [[\ud83dx]], [[\ud83d\u0041]], [[\ud800\ud800]], [[\ud83d\\ude00]], [[\ud83d\ud]],
      "\\u00\16\25", "\\ud83d\\ude0\16", -- control bytes are no hex digits (found by fuzz_jobscan)
    } do
      local body = '{"job_id": "a' .. s .. 'b"}' -- in a member that is only skipped
      assert.is_nil(expected(body), s)
      refused(body)
      refused('{"status": "' .. s .. '"}')
      refused('{"st' .. s .. 'atus": 1}')
    end
    assert.are.equal("invalid job answer: lone UTF-16 surrogate at byte 14", refused([[{"job_id": "a\ud83d"}]]))
  end)

  it("a raw NUL in a string (other control bytes pass, as cjson lets them)", function()
    refused('{"status": "a' .. string.char(0) .. 'b"}', "NUL byte in string")
    -- Long enough for the eight-byte scan, short enough for the byte loop, in each field read.
    local raw = "a\tb\1c" .. ("x\31"):rep(5)
    local body = ('{"status": "%s", "entities": {"sub_jobs": [{"fail_reason": "%s", "status": "FAIL",'
      .. ' "entities": {"server_id": "s\31"}}]}}'):format(raw, raw)
    local got = same_as_cjson(body)
    assert.are.same({ raw, raw, "s\31" }, { got.status, got.sub_fail_reason[1], got.server_id[1] })
  end)

  it("nesting deeper than 64, as cjson with decode_max_depth(64)", function()
    local body = '{"x": ' .. ("["):rep(64) .. ("]"):rep(64) .. "}"
    assert.is_nil(expected(body))
    assert.are.equal("invalid job answer: nested too deep at byte 70", refused(body))
    refused('{"entities": {"sub_jobs": [{"x": ' .. ("{\"a\":"):rep(61) .. "1" .. ("}"):rep(61) .. "}]}}",
      "nested too deep")
    refused(("["):rep(100000), "the top level is not an object")
    refused(("{\"a\":"):rep(100000), "nested too deep")
  end)

  it("structural errors", function()
    for _, body in ipairs {
      '{"a" 1}', '{"a":}', '{"a":1,}', "{,}", '{"a":1 "b":2}', "{1:2}", "{a:1}", '{"a":[1,]}',
      '{"a":[1 2]}', '{"a":tru}', '{"a":nul}', '{"a":True}', '{"a":.5}', '{"a":-}', '{"a":1e}',
      '{"a":1e+}', '{"a":"x}', "{'a':1}", '{"a":1]', '{"a":[1}', '{"a"\0:1}',
    } do
      assert.is_nil(expected(body), body)
      refused(body)
    end
  end)

  it("numbers cjson takes but JSON does not", function()
    for _, n in ipairs { "01", "-01", "1.", "0x10", "+1", "inf", "-inf", "nan", "Infinity", "1.e5", "00" } do
      assert.is_not_nil(expected('{"a": ' .. n .. "}"), n) -- cjson says yes
      refused('{"a": ' .. n .. "}")
    end
    for _, n in ipairs { "0", "-0", "1.5", "-1.5e-3", "1E+5", "123456789012345678901234567890", "1e400" } do
      same_as_cjson('{"a": ' .. n .. ', "b": [' .. n .. "]}")
    end
  end)
end)

describe("core.job_outcomes on mutated answers", function()
  -- Where cjson takes a body and job_outcomes refuses it, the reason must be one of the
  -- places cjson is laxer than JSON, checked here on the bytes at the reported offset.
  local function strict_number(tok)
    local rest = tok:match("^%-?0(.*)$") or tok:match("^%-?[1-9]%d*(.*)$")
    if rest and rest:match("^%.") then rest = rest:match("^%.%d+(.*)$") end
    if rest and rest:match("^[eE]") then rest = rest:match("^[eE][%+%-]?%d+(.*)$") end
    return rest == ""
  end

  local function lax_in_cjson(body, err)
    local at = tonumber(err:match("at byte (%d+)$"))
    if err:find("the top level is not an object", 1, true) then
      return not body:match("^[ \t\r\n]*{")
    elseif err:find("trailing characters", 1, true) then
      return body:byte(at) == 0 -- cjson stops reading at a NUL
    elseif err:find("invalid number", 1, true) or err:find("invalid literal", 1, true) then
      local tok = body:match("^[%w%.%+%-]+", at)
      local ok, v = pcall(cjson.decode, tok or "")
      return ok and type(v) == "number" and not strict_number(tok)
    end
    return false
  end

  local PIECES = {
    '"', "\\", "{", "}", "[", "]", ",", ":", " ", "\n", "0", "1", "-", ".", "e", "+", "u", "x", "n",
    "\0", "\1", "\255", "\\u", "\\ud83d", "\\ude00", "\\u00e9", "null", "true", '"status"',
    '"entities"', '"sub_jobs"', '"server_id"', "[[[[", "{}", "0x1", "inf",
  }

  local function mutate(s)
    for _ = 1, math.random(1, 3) do
      local op, pos = math.random(1, 10), math.random(1, #s + 1)
      local piece = PIECES[math.random(#PIECES)]
      if op <= 3 then
        s = s:sub(1, pos - 1) .. s:sub(pos + 1)
      elseif op <= 6 then
        s = s:sub(1, pos - 1) .. piece .. s:sub(pos)
      elseif op <= 8 then
        s = s:sub(1, pos - 1) .. piece .. s:sub(pos + #piece)
      elseif op == 9 then
        local a = math.random(1, #s + 1)
        local slice = s:sub(a, a + math.random(0, 40))
        s = s:sub(1, pos - 1) .. slice .. s:sub(pos)
      else
        s = s:sub(1, pos + math.random(0, #s))
      end
    end
    return s
  end

  it("never crash, and agree with cjson (3000 mutations)", function()
    math.randomseed(20261122)
    local seed = [=[{"status": "FAIL", "job_id": "j\u00e9", "error_code": "E\"1", "fail_reason": null,
      "x": [1, -2.5e3, true, false, null, {"a": [[]]}],
      "entities": {"sub_jobs_total": 3, "sub_jobs": [
        {"status": "SUCCESS", "entities": {"server_id": "s1", "errorcode_message": null}},
        {"status": "FAIL", "error_code": "Ecs.0001", "fail_reason": "\ud83d\ude00 \/\\",
         "entities": {"server_id": "s2", "errorcode_message": "m\n"}},
        {"entities": {"server_id": 3}}]}}]=]
    same_as_cjson(seed)
    local counts = { both = 0, neither = 0, lax = 0 }
    for i = 1, 3000 do
      local body = mutate(seed)
      local want = expected(body)
      local ok, got, err = pcall(job_outcomes, body)
      assert(ok, got)
      if got then
        assert(want, ("mutation %d: accepted, cjson refuses: %q"):format(i, body))
        assert.are.same(want, got, ("mutation %d: %q"):format(i, body))
        counts.both = counts.both + 1
      elseif want or (pcall(cjson.decode, body)) then
        assert(lax_in_cjson(body, err), ("mutation %d: %s, cjson accepts: %q"):format(i, err, body))
        counts.lax = counts.lax + 1
      else
        counts.neither = counts.neither + 1
      end
    end
    -- The loop is only worth something if it reaches both verdicts.
    assert.is_true(counts.both > 100 and counts.neither > 100)
  end)
end)
