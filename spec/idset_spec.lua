-- core.idset and core.checked_idset (csrc/idset.c, csrc/idset_lua.c): the ledger's C set
-- of ids, and what core.job_outcomes does with one. Checked against plain Lua tables doing
-- the same.
local core = require "cloud.core"
local errors = require "cloud.errors"
local unpack = table.unpack or unpack

-- fn raises a caller's mistake, the argument error of cloud.errors, whose message says
-- text; returns the error.
local function raises(fn, text)
  local ok, err = pcall(fn)
  assert.is_false(ok, "did not raise: " .. text)
  assert.are.equal("argument", errors.kind(err), tostring(err))
  assert.truthy(tostring(err):find(text, 1, true), tostring(err))
  return err
end

-- core.checked_idset(ids) refuses them: the argument error names the field, and its
-- message ends in the problem. Returns the error.
local function refused(ids, where)
  local ok, e = pcall(core.checked_idset, ids, where)
  assert.is_false(ok, "accepted")
  assert.are.equal("argument", errors.kind(e), tostring(e))
  assert.are.equal(where or "cloud.core.checked_idset", e.where)
  assert.truthy(e.field == "ids" or e.field:match("^ids%[%d+%]$"), e.field)
  assert.are.equal(e.message:sub(-#e.problem), e.problem)
  return e
end

local function ids_of(n, fmt)
  local t = {}
  for i = 1, n do t[i] = (fmt or "%08x-0000-4000-8000-%012d"):format(i * 7919, i) end
  return t
end

describe("core.idset", function()
  it("keeps the caller's array when nothing repeats, else a distinct copy in order", function()
    local ids = { "a", "b", "c" }
    local set = core.checked_idset(ids)
    assert.are.equal(ids, set:ids())
    assert.are.equal(3, set:size())
    local dup = { "a", "b", "a", "c", "b", "c", "d" }
    set = core.checked_idset(dup)
    assert.are_not.equal(dup, set:ids())
    assert.are.same({ "a", "b", "c", "d" }, set:ids())
    assert.are.same({ "a", "b", "a", "c", "b", "c", "d" }, dup) -- the caller's array untouched
  end)

  it("refuses what is not an array of ids, raising the argument error that names the place", function()
    local function refuses(ids, text)
      local e = refused(ids)
      assert.truthy(e.message:find(text, 1, true), e.message)
    end
    refuses({}, "option 'ids' is empty")
    refuses({ x = "a" }, "option 'ids' must be an array (found key x)")
    refuses({ "a", [2.5] = "b" }, "found key 2.5")
    refuses({ "a", [true] = "b" }, "found key boolean")
    refuses({ "a", 42 }, "option 'ids[2]' must be a non-empty string")
    refuses({ "a", "" }, "option 'ids[2]' must be a non-empty string")
    refuses({ "a", "b\0c" }, "option 'ids[2]'")
    refuses({ "a", "b\127" }, "option 'ids[2]'")
    refuses({ "a", "b", "c\n" }, "option 'ids[3]' must be a non-empty string without control characters")
    local holes = { "a", "b", "c" }
    holes[2] = nil
    local why = refused(holes).message
    -- Which one depends on the border the VM finds (# is 1 or 3 here): a hole, or key 3 beyond it.
    assert.truthy(why:find("option 'ids' must be an array without holes", 1, true)
      or why:find("option 'ids' must be an array (found key 3)", 1, true), why)
    raises(function() core.idset("a") end, "option 'ids' must be a table, not string")
    raises(function() core.checked_idset("a") end, "option 'ids' must be a table, not string")
  end)

  it("names the call it was given to, and points at the caller's line", function()
    local e = refused({ "a", 7 }, "client:stop_ecs")
    assert.are.same({ "cloud.argument", "ids[2]", "must be a non-empty string without control characters" },
      { e.code, e.field, e.problem })
    assert.are.equal("client:stop_ecs: option 'ids[2]' must be a non-empty string without control characters",
      e.message)
    assert.truthy(tostring(e):find("^spec/idset_spec%.lua:%d+: client:stop_ecs: "), tostring(e))
    raises(function() core.checked_idset({ "a" }, 7) end, "cloud.core.checked_idset: option 'where' must be a string")
  end)

  it("returns one value, however it is called: no flag changes what comes back", function()
    assert.are.equal(1, select("#", core.idset({ "a" })))
    assert.are.equal(1, select("#", core.idset({ "a" }, "cloud.op.ledger")))
    assert.are.equal(1, select("#", core.checked_idset({ "a" })))
    assert.are.equal(1, select("#", core.checked_idset({ "a" }, "client:stop_ecs")))
    -- The old flag is no where: refused, not read as "checked".
    raises(function() core.idset({ "a" }, true) end, "option 'where' must be a string, not boolean")
  end)

  it("finds a control character at any place of an id of any length", function()
    for len = 1, 40 do
      for pos = 1, len do
        for _, c in ipairs({ 0, 9, 31, 127 }) do
          local id = ("x"):rep(pos - 1) .. string.char(c) .. ("x"):rep(len - pos)
          local ok, e = pcall(core.checked_idset, { "a", id })
          assert(not ok and e.field == "ids[2]", ("byte %d at %d of %d passed"):format(c, pos, len))
        end
      end
      -- The bytes either side of the refused ranges pass: space, '~', and U+0080 (C2 80).
      local id = (" ~\194\128"):rep(10):sub(1, len):gsub("\194$", "~")
      assert(core.checked_idset({ id }), ("%q refused"):format(id))
    end
  end)

  it("refuses an id longer than 256 bytes, naming its index", function()
    local long = ("a"):rep(257)
    local e = refused({ "a", "b", long })
    assert.are.same({ "ids[3]", "is longer than 256 bytes" }, { e.field, e.problem })
    e = refused({ long })
    assert.are.same({ "ids[1]", "is longer than 256 bytes" }, { e.field, e.problem })
    assert(core.checked_idset({ "a", ("é"):rep(128) })) -- 256 bytes
    assert(core.idset({ long }), "ids from the cloud are not the caller's: no limit")
  end)

  it("refuses an id that is not valid UTF-8, naming its index", function()
    local bad = {
      "\255", "\128", "x\191", -- bytes that never start a character
      "\192\175", "\193\191", "\224\128\175", "\240\130\130\172", -- overlong forms
      "\237\160\128", "\237\191\191", -- surrogates U+D800, U+DFFF
      "\244\144\128\128", "\245\128\128\128", -- above U+10FFFF
      "\226\130", "\240\159\152", "\195", "\195x", -- cut short
    }
    for _, s in ipairs(bad) do
      for _, id in ipairs({ s, ("0"):rep(20) .. s, s .. ("0"):rep(20) }) do
        local ok, e = pcall(core.checked_idset, { "a", "b", id })
        assert(not ok, ("%q accepted"):format(id))
        assert.are.same({ "ids[3]", "is not valid UTF-8" }, { e.field, e.problem })
      end
    end
    for _, id in ipairs({ "é", "一", "\240\159\152\128", "\244\143\191\191", "\237\159\191", "\238\128\128",
                          "\224\160\128", "\240\144\128\128", "web-\229\144\141" }) do
      assert(core.checked_idset({ id }), ("%q refused"):format(id))
    end
    assert(core.idset({ "\255" }), "ids from the cloud are not the caller's: any bytes")
  end)

  -- A reference written the other way round: decode each character's code point, then
  -- check its range and that it used the shortest form.
  local function utf8_valid(s)
    local i, n = 1, #s
    while i <= n do
      local c = s:byte(i)
      local len, cp = 1, c
      if c >= 0xF0 then len, cp = 4, c - 0xF0 elseif c >= 0xE0 then len, cp = 3, c - 0xE0
      elseif c >= 0xC0 then len, cp = 2, c - 0xC0 elseif c >= 0x80 then return false end
      if c >= 0xF8 or i + len - 1 > n then return false end
      for k = i + 1, i + len - 1 do
        local b = s:byte(k)
        if b < 0x80 or b > 0xBF then return false end
        cp = cp * 64 + (b - 0x80)
      end
      local min = ({ 0, 0x80, 0x800, 0x10000 })[len]
      if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return false end
      i = i + len
    end
    return true
  end

  it("agrees with a reference UTF-8 decoder on random ids", function()
    math.randomseed(12)
    -- Whole characters (one to four bytes, at the edges of the ranges) and stray bytes.
    local whole = { "a", "-", "\194\128", "\223\191", "\224\160\128", "\237\159\191", "\238\128\128",
                    "\240\144\128\128", "\244\143\191\191" }
    local stray = { "\128", "\191", "\192", "\194", "\224", "\237", "\240", "\244", "\245", "\160", "\159",
                    "\144", "\143", "\255" }
    local refusals = 0
    for _ = 1, 20000 do
      local t = {}
      for k = 1, math.random(1, 12) do
        local from = math.random() < 0.9 and whole or stray
        t[k] = from[math.random(#from)]
      end
      local id = table.concat(t)
      local want = utf8_valid(id)
      local ok, why = pcall(core.checked_idset, { id })
      assert(want == ok, ("%q: reference says %s, core.checked_idset %s"):format(id, tostring(want), tostring(why)))
      if not ok then refusals = refusals + 1 end
    end
    assert(refusals > 1000 and refusals < 19000, "the random ids test both ways: " .. refusals .. " refused")
  end)

  it("reads an array filled in any order, with repeats or extra keys, as one filled in order", function()
    local ids = ids_of(50)
    local backwards = {}
    for i = #ids, 1, -1 do backwards[i] = ids[i] end
    assert.are.same(ids, core.checked_idset(backwards):ids())
    local repeated = { unpack(ids) }
    repeated[51] = ids[1]
    assert.are.same(ids, core.checked_idset(repeated):ids())
    local extra = { unpack(ids) }
    extra.x = "y"
    assert.are.equal("must be an array (found key x)", refused(extra).problem)
    local zero = { unpack(ids) }
    zero[0] = "z"
    assert.are.equal("must be an array (found key 0)", refused(zero).problem)
  end)

  it("takes any strings when not checking (ids read from the cloud), but only strings", function()
    local set = core.idset({ "", "a\n", "a\n" })
    assert.are.same({ "", "a\n" }, set:ids())
    local e = raises(function() core.idset({ "a", 1 }) end, "cloud.core.idset: option 'ids[2]' is not a string")
    assert.are.same({ "cloud.core.idset", "ids[2]" }, { e.where, e.field })
    assert.are.equal(0, core.idset({}):size())
  end)

  it("marks many at once", function()
    local set = core.checked_idset({ "a", "b", "c" })
    set:mark("a", "failed")
    assert.are.equal(2, set:mark_all({ "a", "b", "c", "zzz", 7 }, "stopped"))
    assert.are.same({ "b", "c" }, set:list("stopped"))
  end)

  it("marks a batch of positions without looking its ids up, and a list batch by its ids", function()
    local ids = ids_of(10)
    local set = core.checked_idset(ids)
    local chunk, b = set:batch(3, 6)
    set:mark("d", "failed") -- not a member: changes nothing
    set:mark(ids[4], "failed")
    -- By position: the array handed in is not even read.
    assert.are.equal(3, set:mark_all({}, "stopped", b))
    assert.are.same({ ids[3], ids[5], ids[6] }, set:list("stopped"))
    local list, lb = set:batch({ ids[1], ids[9], "zzz" })
    assert.are.equal(2, set:mark_all(list, "stopped", lb))
    assert.are.same({ 4, 5, 1, 0 }, { set:counts() })
    local e = raises(function() set:mark_all(chunk, "stopped", 3) end,
      "cloud.core.idset:mark_all: option 'batch' is not a batch of this set")
    assert.are.same({ "cloud.core.idset:mark_all", "batch" }, { e.where, e.field })
    raises(function() set:mark_all(chunk, "stopped", 2 ^ 32 + 1) end, "not a batch of this set")
    raises(function() set:mark_all(chunk, "stopped", 0) end, "not a batch of this set")
  end)

  it("gives each id one outcome, the first, and counts them", function()
    local set = core.checked_idset({ "a", "b", "c" })
    assert.are.equal("open", set:state("a"))
    assert.is_nil(set:state("zzz"))
    assert.is_nil(set:state(1))
    assert.is_true(set:mark("a", "stopped"))
    assert.is_false(set:mark("a", "failed"))
    assert.is_true(set:mark("b", "failed"))
    assert.is_false(set:mark("zzz", "stopped"))
    assert.are.equal("stopped", set:state("a"))
    assert.are.equal("failed", set:state("b"))
    assert.are.same({ 1, 1, 1, 0 }, { set:counts() })
    assert.are.same({ "c" }, set:list("open"))
    assert.are.same({ "a" }, set:list("stopped"))
    assert.are.same({ "b" }, set:list("failed"))
    assert.are.same({}, set:list("already"))
    raises(function() set:mark("c", "open") end, [[option 'outcome' must be "stopped", "failed" or "already"]])
    raises(function() set:mark("c", "gone") end, [[option 'outcome' must be "stopped", "failed" or "already"]])
    raises(function() set:list("gone") end, [[option 'outcome' must be "open", "stopped", "failed" or "already"]])
    raises(function() set.mark(nil, "c", "stopped") end,
      "cloud.core.idset:mark: call it with ':' on a cloud.core.idset")
  end)

  it("has a third outcome, already (in the wanted state before we acted), as final as the others", function()
    local set = core.checked_idset({ "a", "b", "c", "d" })
    assert.is_true(set:mark("b", "already"))
    assert.is_false(set:mark("b", "stopped"))
    assert.is_false(set:mark("b", "failed"))
    assert.are.equal("already", set:state("b"))
    assert.is_true(set:mark("a", "stopped"))
    assert.is_false(set:mark("a", "already"))
    local _, number = set:batch(3, 4)
    assert.are.equal(2, set:mark_all({}, "already", number))
    assert.are.same({ 0, 1, 0, 3 }, { set:counts() })
    assert.are.same({ "b", "c", "d" }, set:list("already"))
    assert.are.same({}, set:list("open"))
  end)

  it("agrees with a Lua table on 200,000 ids with repeats", function()
    local ids, want, order = {}, {}, {}
    local x = 1
    for i = 1, 200000 do
      x = (x * 48271) % 2147483647
      local id = ("srv-%d"):format(x % 150000) -- about a quarter repeat
      ids[i] = id
      if not want[id] then want[id] = true; order[#order + 1] = id end
    end
    local set = core.checked_idset(ids)
    assert.are.equal(#order, set:size())
    assert.are.same(order, set:ids())
    for i = 1, #order, 97 do assert.are.equal("open", set:state(order[i])) end
    for i = 1, 1000 do assert.is_nil(set:state(("srv-x%d"):format(i))) end
  end)

  it("notices the caller's array changed while in use: batch and list return nil and why", function()
    local cases = {
      { "an id removed", function(ids) ids[3] = nil end, "changed while in use" },
      { "the last id removed", function(ids) ids[4] = nil end, "holds 3 ids, not 4" },
      { "an id added", function(ids) ids[5] = "e" end, "holds 5 ids, not 4" },
      { "an id replaced", function(ids) ids[2] = "x" end, "ids[2] is not the id it was" },
      { "two ids swapped", function(ids) ids[1], ids[4] = ids[4], ids[1] end, "ids[1] is not the id it was" },
      { "an id made another type", function(ids) ids[4] = 4 end, "ids[4] is not the id it was" },
    }
    for _, c in ipairs(cases) do
      local ids = { "a", "b", "c", "d" }
      local set = assert(core.checked_idset(ids))
      c[2](ids)
      local got, why = set:batch(1, 4)
      assert.is_nil(got, c[1])
      assert.truthy(why:find(c[3], 1, true), c[1] .. ": " .. tostring(why))
      got, why = set:list("open")
      assert.is_nil(got, c[1])
      assert.truthy(why:find("changed while in use", 1, true), c[1])
      set:close()
    end
    -- The same values written again are no change.
    local ids = { "a", "b" }
    local set = assert(core.checked_idset(ids))
    ids[1] = "a"
    assert.are.same({ "a", "b" }, (set:batch(1, 2)))
    assert.are.same({ "a", "b" }, set:list("open"))
    set:close()
  end)

  it("is closed once, then refuses use", function()
    local set = core.checked_idset({ "a" })
    set:close()
    set:close()
    assert.truthy(tostring(set):find("closed", 1, true))
    raises(function() set:state("a") end, "cloud.core.idset:state: the set is closed")
  end)
end)

describe("core.job_outcomes with a set", function()
  -- The ledger's rule (cloud.op.ledger): what the statuses mean is Lua's, not the scanner's.
  local RULE = { ended = { SUCCESS = true, FAIL = true }, stopped = "SUCCESS" }
  local function answer(status, subs)
    local parts = {}
    for i, s in ipairs(subs) do
      parts[i] = ('{"status":"%s","error_code":%s,"entities":{"server_id":%s}}'):format(s[2],
        s[3] and ('"' .. s[3] .. '"') or "null", s[1] and ('"' .. s[1] .. '"') or "null")
    end
    return ('{"status":"%s","entities":{"sub_jobs":[%s]}}'):format(status, table.concat(parts, ","))
  end

  it("stops the job's open servers with a SUCCESS sub-job and returns the rest", function()
    local ids = ids_of(1000)
    local set = core.checked_idset(ids)
    local job, batch = set:batch(1, 500)
    assert.are.same({ unpack(ids, 1, 500) }, job)
    local other
    local subs = {}
    for i = 1, 500 do
      if i % 50 == 0 then subs[#subs + 1] = { ids[i], "FAIL", "Ecs.0100" }
      elseif i % 101 ~= 0 then subs[#subs + 1] = { ids[i], "SUCCESS" } end
    end
    subs[#subs + 1] = { ids[800], "SUCCESS" } -- not in this job: ignored
    subs[#subs + 1] = { "stranger", "SUCCESS" }
    subs[#subs + 1] = { nil, "SUCCESS" }
    local d = core.job_outcomes(answer("FAIL", subs), set, batch, job, RULE)
    assert.are.equal("FAIL", d.status)
    assert.are.equal(10, d.sub_jobs)
    assert.are.same({ "FAIL", "Ecs.0100" }, { d.sub_status[1], d.sub_error_code[1] })
    assert.are.equal(ids[50], d.server_id[1])
    assert.are.same({ ids[101], ids[202], ids[303], ids[404] }, d.missing)
    local open, stopped = set:counts()
    assert.are.equal(500 - 10 - 4, stopped)
    assert.are.equal("open", set:state(ids[800]))
    assert.are.equal("open", set:state(ids[50]))
    -- A sub-job counts for its own batch only: ids[800] is in the other one. The batch's
    -- open servers without a sub-job in this answer are missing now: the FAILs too.
    local again = core.job_outcomes(answer("SUCCESS", { { ids[800], "SUCCESS" } }), set, batch, job, RULE)
    assert.are.equal(0, again.sub_jobs)
    assert.are.equal(14, #again.missing)
    assert.are.equal(ids[50], again.missing[1])
    assert.are.equal("open", set:state(ids[800]))
    assert.are.equal(open, (set:counts()))
    -- The FAIL was handed back once, and its server can be judged again (the mark is cleared).
    local _, resend = set:batch({ ids[50], "stranger" })
    again = core.job_outcomes(answer("SUCCESS", { { ids[50], "FAIL", "Ecs.0603" } }), set, resend, { ids[50] }, RULE)
    assert.are.same({ 1, ids[50], {} }, { again.sub_jobs, again.server_id[1], again.missing })
    local rest
    rest, other = set:batch(501, 1000)
    again = core.job_outcomes(answer("SUCCESS", { { ids[800], "SUCCESS" } }), set, other, rest, RULE)
    assert.are.equal(499, #again.missing)
    assert.are.equal(ids[501], again.missing[1])
    assert.are.equal("stopped", set:state(ids[800]))
  end)

  it("leaves no mark behind on a resend's missing servers: the next answer still counts", function()
    local set = core.checked_idset({ "a", "b", "c" })
    local ab, resend = set:batch({ "a", "b" })
    local empty = answer("SUCCESS", {})
    assert.are.same({ "a", "b" }, core.job_outcomes(empty, set, resend, ab, RULE).missing)
    assert.are.same({ "a", "b" }, core.job_outcomes(empty, set, resend, ab, RULE).missing)
    local d = core.job_outcomes(answer("FAIL", { { "a", "FAIL", "X" } }), set, resend, ab, RULE)
    assert.are.same({ 1, "a", { "b" } }, { d.sub_jobs, d.server_id[1], d.missing })
    -- The same of a first-submission batch.
    local abc, first = set:batch(1, 3)
    assert.are.equal(3, #core.job_outcomes(empty, set, first, abc, RULE).missing)
    assert.are.equal(3, #core.job_outcomes(empty, set, first, abc, RULE).missing)
  end)

  it("finds the servers of an answer in any order", function()
    local ids = ids_of(300)
    local set = core.checked_idset(ids)
    local job, batch = set:batch(1, 300)
    local subs = {}
    for i = 300, 1, -1 do subs[#subs + 1] = { ids[i], i == 7 and "FAIL" or "SUCCESS" } end
    local d = core.job_outcomes(answer("SUCCESS", subs), set, batch, job, RULE)
    assert.are.same({ 1, ids[7], {} }, { d.sub_jobs, d.server_id[1], d.missing })
    assert.are.equal(299, select(2, set:counts()))
  end)

  it("keeps only the first other sub-job of a server, and lets a later SUCCESS stop it", function()
    local set = core.checked_idset({ "a", "b" })
    local ab, batch = set:batch(1, 2)
    local d = core.job_outcomes(answer("SUCCESS", { { "a", "FAIL", "X" }, { "a", "FAIL", "Y" },
      { "b", "RUNNING" }, { "b", "SUCCESS" } }), set, batch, ab, RULE)
    assert.are.equal(2, d.sub_jobs)
    assert.are.same({ "a", "b" }, d.server_id)
    assert.are.same({ "X", false }, d.sub_error_code)
    assert.are.same({}, d.missing)
    assert.are.equal("stopped", set:state("b"))
    assert.are.equal("open", set:state("a"))
  end)

  it("applies nothing while the job runs, and nothing to servers already settled", function()
    local set = core.checked_idset({ "a", "b" })
    local ab, batch = set:batch(1, 2)
    local body = answer("RUNNING", { { "a", "SUCCESS" } })
    local d = core.job_outcomes(body, set, batch, ab, RULE)
    assert.are.same({ 0, {} }, { d.sub_jobs, d.missing })
    assert.are.equal("open", set:state("a"))
    set:mark("b", "failed")
    d = core.job_outcomes(answer("SUCCESS", { { "a", "SUCCESS" }, { "b", "SUCCESS" } }), set, batch, ab, RULE)
    assert.are.same({ 0, {} }, { d.sub_jobs, d.missing })
    assert.are.equal("failed", set:state("b"))
    assert.are.equal("stopped", set:state("a"))
  end)

  it("takes what the statuses mean from the rule it is given", function()
    local set = core.checked_idset({ "a", "b", "c" })
    local abc, batch = set:batch(1, 3)
    local rule = { ended = { DONE = true }, stopped = "OFF" }
    local subs = { { "a", "OFF" }, { "b", "SUCCESS" }, { "c", "FAIL" } }
    -- SUCCESS ends no job and stops no server under this rule.
    local d = core.job_outcomes(answer("SUCCESS", subs), set, batch, abc, rule)
    assert.are.same({ 0, {} }, { d.sub_jobs, d.missing })
    assert.are.equal(0, select(2, set:counts()))
    d = core.job_outcomes(answer("DONE", subs), set, batch, abc, rule)
    assert.are.same({ "b", "c" }, d.server_id)
    assert.are.same({ "SUCCESS", "FAIL" }, d.sub_status)
    assert.are.same({ "stopped", "open", "open" }, { set:state("a"), set:state("b"), set:state("c") })
  end)

  it("still refuses invalid answers and checks its arguments", function()
    local set = core.checked_idset({ "a" })
    local a, batch = set:batch(1, 1)
    local d, err = core.job_outcomes("{", set, batch, a, RULE)
    assert.is_nil(d)
    assert.truthy(err:find("invalid job answer", 1, true))
    local where = "cloud.core.job_outcomes: "
    raises(function() core.job_outcomes("{}", set, batch) end, where .. "option 'ids' must be a table, not nil")
    raises(function() core.job_outcomes("{}", set, batch, a) end, where .. "option 'rule' must be a table, not nil")
    raises(function() core.job_outcomes("{}", set, batch, a, { stopped = "SUCCESS" }) end,
      where .. "option 'rule.ended' must be a set of job statuses")
    raises(function() core.job_outcomes("{}", set, batch, a, { ended = {} }) end,
      where .. "option 'rule.stopped' must be a sub-job status")
    raises(function() core.job_outcomes("{}", set, 0, a, RULE) end,
      where .. "option 'batch' is not a batch of this set")
    raises(function() core.job_outcomes("{}", {}, batch, a, RULE) end,
      where .. "option 'set' must be a cloud.core.idset, not table")
    raises(function() set:batch(0, 1) end, "cloud.core.idset:batch: option 'first' is out of range")
    raises(function() set:batch(1, 2) end, "cloud.core.idset:batch: option 'last' is out of range")
    raises(function() set:batch(1.5, 2) end, "cloud.core.idset:batch: option 'first' must be a whole number")
    assert.are.equal("open", set:state("a"))
  end)
end)
