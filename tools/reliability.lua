-- The figures of docs/reliability.md, counted here rather than written by hand:
-- bad inputs tried (each must raise an argument error before any request), hostile server
-- behaviours (every mode of the emulator's `hostile` config on every call it bends), faults
-- injected across stops of 20,000 servers, a cloud taking stops late, half the list calls
-- failing. For every stop it checks the ledger (each id exactly once), the truth of each
-- outcome against the emulator, and counts servers sent a stop twice.
-- usage: LUA_CPATH="build/5.4/?.so;;" lua5.4 tools/reliability.lua   (from the checkout)
package.path = "lua/?.lua;lua/?/init.lua;tools/?.lua;" .. package.path
local launcher = require "fakecloud.launcher"
local fcids = require "fakecloud.ids"
local cloud = require "cloud"
local core = require "cloud.core"
local errors = require "cloud.errors"
local F = require "cloud.filter"

local total = { bad_inputs = 0, refused = 0, hostile = 0, hostile_runs = 0, faults = 0, stops = 0,
                requested = 0, stopped = 0, lost = 0, twice = 0, untrue = 0, unconfirmed = 0, problems = {} }

local function problem(text)
  total.problems[#total.problems + 1] = text
  io.stderr:write("reliability: ", text, "\n")
end

local function range(kind, from, to)
  local out = {}
  for n = from, to do out[#out + 1] = fcids.server_id(kind, n) end
  return out
end

local fc = assert(launcher.start{ config = { job_duration = 0.02,
  fleet = { ecs = { { count = 20000, name = "web-%d", status = "ACTIVE" } }, bms = { { count = 20,
    name = "bm-%d" } } } } })

local function client(over)
  local o = { project_id = fc.project_id, ak = fc.ak, sk = fc.sk, endpoints = { ecs = fc.url, bms = fc.url },
              retry = { attempts = 3, base = 0.01, cap = 0.05 } }
  for k, v in pairs(over or {}) do o[k] = v end
  return assert(cloud.new(o))
end

-- Checks a stop's result against what was asked and what the emulator holds; adds it up.
local function account(what, res, ids)
  total.stops = total.stops + 1
  local st = fc:stats()
  -- The truth, read honestly: the servers the emulator holds SHUTOFF.
  assert(fc:configure{ faults = {}, hostile = {}, refusals = {} })
  local checker = client()
  local off = {}
  for _, s in ipairs(assert(checker:list_ecs{ status = "SHUTOFF" })) do off[s.id] = true end
  checker:close()
  local asked, seen = {}, {}
  for _, id in ipairs(ids) do asked[id] = true end
  local n = 0
  for _ in pairs(asked) do n = n + 1 end
  total.requested = total.requested + n
  local function once(id)
    if not asked[id] then problem(what .. ": an id not asked for: " .. tostring(id)) return end
    if seen[id] then problem(what .. ": an id twice in the result: " .. id) end
    seen[id] = true
  end
  for _, id in ipairs(res.stopped) do
    once(id)
    if not off[id] then
      total.untrue = total.untrue + 1
      problem(what .. ": reported stopped, not SHUTOFF: " .. id)
    end
  end
  total.stopped = total.stopped + #res.stopped
  for _, f in ipairs(res.failed) do
    once(f.id)
    -- "unknown" and "may yet stop" are true whatever the server's state; any other
    -- failure says the stop did not happen.
    local unsure = f.code == "cloud.unconfirmed" or f.code == "cloud.wait_timeout"
    if f.code == "cloud.unconfirmed" then total.unconfirmed = total.unconfirmed + 1 end
    if not unsure and off[f.id] then
      total.untrue = total.untrue + 1
      problem(("%s: reported failed (%s), but SHUTOFF: %s"):format(what, f.code, f.id))
    end
  end
  for _, s in ipairs(res.skipped or {}) do once(s.id) end
  for id in pairs(asked) do
    if not seen[id] then
      total.lost = total.lost + 1
      problem(what .. ": lost " .. id)
    end
  end
  total.twice = total.twice + st.stop_requests.sent_more_than_once
  if st.stop_requests.sent_more_than_once > 0 then problem(what .. ": servers sent twice") end
  for _, v in pairs(st.faults) do total.faults = total.faults + v end
  for _, v in pairs(st.refused or {}) do total.faults = total.faults + v end
end

-- 1. Bad inputs --------------------------------------------------------------------------
local function bad_inputs()
  local c = client()
  local BASE = { project_id = fc.project_id, ak = fc.ak, sk = fc.sk, endpoints = { ecs = fc.url } }
  local function new_with(k, v)
    return function()
      local o = {}
      for a, b in pairs(BASE) do o[a] = b end
      o[k] = v
      return cloud.new(o)
    end
  end
  local cases = {}
  local function add(fn) cases[#cases + 1] = fn end
  local numbers = { 0 / 0, math.huge, -math.huge, 1e300, -1, 0, "5", {}, true }
  for _, f in ipairs({ "timeout", "connect_timeout", "max_response", "concurrency" }) do
    for _, v in ipairs(numbers) do add(new_with(f, v)) end
  end
  for _, f in ipairs({ "attempts", "base", "cap" }) do
    for _, v in ipairs({ 0 / 0, math.huge, -1, "x" }) do add(new_with("retry", { [f] = v })) end
  end
  for _, url in ipairs({ "https://h x", "https://h\r\nX: 1", "https://h\n", "https://h:0", "https://h:99999",
      "https://h:443:80", "https://h:", "https://:443", "https://a..b", "https://.h", "https://h:8a",
      "https://[zz]", "https://h/a b", "https://h/\27x", "ftp://h", "https://u@h", "h", "", 42 }) do
    add(new_with("endpoints", { ecs = url }))
  end
  for _, r in ipairs({ "localhost:18443/x", "CN-NORTH-4", "cn north 4", "-cn", "cn-", "a/b", "a.b", "" }) do
    add(new_with("region", r))
  end
  for _, p in ipairs({ "p/q", "p q", "p\n", "" }) do add(new_with("project_id", p)) end
  add(new_with("colour", "blue"))
  add(new_with("endpoints", { vm = fc.url }))
  local function stop_with(o) return function() return c:stop_ecs(o) end end
  local long = ("x"):rep(257)
  for _, ids in ipairs({ "a", 42, { 42 }, { "" }, { "a\0b" }, { "a\27b" }, { "a\nb" }, { long }, { "\255" },
      { "\192\128" }, { "\237\160\128" }, { "a", nil, "b" }, { [2] = "a" }, { x = "a" }, { "a", {} } }) do
    add(stop_with({ ids = ids }))
  end
  for k, vs in pairs({ type = { "GENTLE", 1, "" }, poll_interval = numbers, wait_timeout = numbers,
      resend_grace = { 0 / 0, math.huge, -1, "x" }, retry_failed = { -1, 11, 1.5, 0 / 0 },
      max_servers = { -1, 1.5, 0 / 0, math.huge }, wait = { 1, "yes" }, dry_run = { 1 }, force = { "yes" },
      on_progress = { 1 }, confirm = { "yes" }, exclude = { "a", { 1 } }, colour = { "blue" } }) do
    for _, v in ipairs(vs) do
      if k == "poll_interval" or k == "wait_timeout" then
        if not (type(v) == "number" and v == v and v >= 0 and v < math.huge) then add(stop_with({ ids = { "a" },
          [k] = v })) end
      else
        add(stop_with({ ids = { "a" }, [k] = v }))
      end
    end
  end
  for _, f in ipairs({ {}, { colour = "x" }, { all = "yes" }, { all = true, name = "x" }, { name = "web[" },
      { name = "(x" }, { name = "%" }, { name = (".-"):rep(24) .. "x" }, { name = ("a?"):rep(24) .. "a" },
      { name = "^a.*b.*c.*d.*e$" }, { name = ("x"):rep(257) }, { name = 1 }, { status = 1 }, { status = {} },
      { tags = "x" }, { tags = { "" } }, { az = {} }, { flavor = { 1 } }, { exclude = "a" }, { where = 1 } }) do
    add(stop_with({ filter = f }))
  end
  add(stop_with({ ids = { "a" }, filter = { all = true } }))
  add(stop_with({}))
  add(function() return c.stop_ecs({ ids = { "a" } }) end)
  add(function() return c:stop_bms{ ids = { "a" }, type = "SOFT" } end)
  add(function() return F.name((".-"):rep(24) .. "x") end)
  add(function() return F.status() end)
  fc:reset()
  for i, fn in ipairs(cases) do
    total.bad_inputs = total.bad_inputs + 1
    local ok, e = pcall(fn)
    if not ok and errors.kind(e) == "argument" then
      total.refused = total.refused + 1
    else
      problem(("bad input %d: %s"):format(i, ok and "accepted" or "raised, but not an argument error: " .. tostring(e)))
    end
  end
  c:close()
  if fc:stats().calls.total ~= 0 then problem("a bad input sent a request") end
end

-- 2. Hostile behaviours ----------------------------------------------------------------------
local function hostile()
  local MODES = {
    { mode = "oversize", bytes = 2 * 1024 * 1024 }, { mode = "invalid_json" }, { mode = "bad_content_length" },
    { mode = "reset_mid_body" }, { mode = "endless" }, { mode = "slowloris", interval = 0.2 },
    { mode = "wrong_shape", shape = "numbers_for_strings" }, { mode = "wrong_shape", shape = "job_without_entities" },
    { mode = "wrong_shape", shape = "sub_job_without_server_id" }, { mode = "wrong_shape", shape = "dot_job_id" },
    { mode = "count", count = "1e9" }, { mode = "count", count = "1e400" }, { mode = "count", count = "-1" },
    { mode = "count", count = "2.5" }, { mode = "control_bytes" },
  }
  -- The calls each mode bends (hostile.lua): the rest would be the honest emulator.
  local ROUTES = { wrong_shape = { numbers_for_strings = { "action", "job" }, job_without_entities = { "job" },
                                   sub_job_without_server_id = { "job" }, dot_job_id = { "action" } },
                   count = { "list" }, control_bytes = { "action", "list" } }
  local n = 0
  for _, h in ipairs(MODES) do
    local routes = h.mode == "wrong_shape" and ROUTES.wrong_shape[h.shape] or ROUTES[h.mode]
      or { "action", "job", "list" }
    for _, route in ipairs(routes) do
      -- control_bytes refuses a stop: performing it as well would be a cloud that lies.
      local performs = (h.mode == "control_bytes" and route == "action") and { false } or { true, false }
      for _, perform in ipairs(performs) do
        local cfg = { apply_to = { action = false, job = false, list = false }, perform = perform }
        for k, v in pairs(h) do cfg[k] = v end
        cfg.apply_to[route] = true
        fc:configure{ hostile = cfg }
        fc:reset()
        n = n + 1
        local ids = range("ecs", 1, 5)
        local c = client{ timeout = 1, max_response = 1024 * 1024 }
        -- By id (the protection check lists first) and, for list modes, by filter too.
        local res = c:stop_ecs{ ids = ids, poll_interval = 0.02, wait_timeout = 4, resend_grace = 0.3 }
        account(("hostile %s %s %s perform=%s"):format(h.mode, h.shape or h.count or "", route, tostring(perform)),
          res, ids)
        total.hostile_runs = total.hostile_runs + 1
        if route == "list" then
          fc:configure{ hostile = cfg }
          fc:reset()
          local fres, ferr = c:stop_ecs{ filter = { name = "^web%-[1-5]$" }, poll_interval = 0.02, wait_timeout = 4,
            resend_grace = 0.3 }
          if fres then account("hostile filter " .. h.mode, fres, fres.selected and (function()
            local t = {}
            for i, s in ipairs(fres.selected) do t[i] = s.id end
            return t
          end)() or {})
          elseif not ferr or not ferr.code then problem("hostile filter " .. h.mode .. ": no result and no error") end
          total.hostile_runs = total.hostile_runs + 1
        end
        c:close()
      end
    end
  end
  total.hostile = n
  fc:configure{ hostile = {} }
end

-- 3. Faults over stops of 20,000 servers --------------------------------------------------------
local function faults()
  local configs = {
    { faults = { seed = 7, status = { [429] = 0.3, [500] = 0.1 }, retry_after = 0, drop = 0.05, drop_after = 0.05 } },
    { faults = { seed = 8, status = { [502] = 0.1, [503] = 0.1, [504] = 0.1 }, malformed = 0.05 } },
    { faults = { seed = 9, hang = 1, hang_rate = 0.02, drop_after = 0.05 }, timeout = 0.5 },
    { faults = { seed = 10, status = { [500] = 0.2 }, apply_to = { action = false, job = true, list = true } },
      refusals = { ["Common.1503"] = 0.1, ["Ecs.0603"] = 0.05, seed = 3 } },
    { faults = { seed = 11, status = { [429] = 0.2 }, retry_after = 0, drop = 0.1, latency = 0.01 } },
  }
  for i, cfgx in ipairs(configs) do
    fc:configure{ faults = cfgx.faults, refusals = cfgx.refusals or {},
      transient_fail = { rate = cfgx.transient or 0, ids = {} } }
    fc:reset()
    local ids = range("ecs", 1, 20000)
    local c = client{ timeout = cfgx.timeout, retry = { attempts = 12, base = 0.005, cap = 0.05 } }
    local res = c:stop_ecs{ ids = ids, force = true, poll_interval = 0.02, wait_timeout = 120, resend_grace = 1 }
    c:close()
    account("faults " .. i, res, ids)
    if not res.ok then problem(("faults %d: %d failed, first %s"):format(i, #res.failed, res.failed[1].code)) end
  end
  fc:configure{ faults = {}, refusals = {}, transient_fail = { rate = 0, ids = {} } }
end

-- 4. A cloud taking stops late, and half the list calls failing ----------------------------------
local function late_and_lookups()
  fc:configure{ faults = { seed = 1, hang = 5, hang_rate = 1, apply_to = { action = true, job = false,
    list = false } } }
  fc:reset()
  local ids = range("ecs", 1, 2000)
  local c = client{ timeout = 2 }
  account("late acceptance", c:stop_ecs{ ids = ids, force = true, poll_interval = 0.05, wait_timeout = 30,
    resend_grace = 6 }, ids)
  c:close()
  fc:configure{ faults = { seed = 3, status = { [500] = 0.5 },
                           apply_to = { action = false, job = false, list = true } },
    hostile = { mode = "reset_mid_body", apply_to = { action = true, job = false, list = false } } }
  fc:reset()
  ids = range("ecs", 1, 3000)
  c = client()
  account("50% list faults", c:stop_ecs{ ids = ids, force = true, poll_interval = 0.05, wait_timeout = 60,
    resend_grace = 1 }, ids)
  c:close()
  fc:configure{ faults = {}, hostile = {} }
end

local t0 = core.now()
local ok, err = pcall(function()
  bad_inputs()
  hostile()
  faults()
  late_and_lookups()
end)
fc:stop()
if not ok then io.stderr:write("reliability: raised: ", tostring(err), "\n") os.exit(2) end
print(("bad inputs tried: %d (refused before any request: %d)"):format(total.bad_inputs, total.refused))
print(("hostile behaviours: %d, over %d calls (stops by id, and by filter for the list modes)")
  :format(total.hostile, total.hostile_runs))
print(("faults injected: %d"):format(total.faults))
print(("stops: %d, servers asked for: %d, stopped: %d, unconfirmed: %d"):format(total.stops, total.requested,
  total.stopped, total.unconfirmed))
print(("lost: %d, sent twice: %d, untrue outcomes: %d"):format(total.lost, total.twice, total.untrue))
print(("problems: %d (%.0fs)"):format(#total.problems, core.now() - t0))
os.exit(#total.problems == 0 and 0 or 1)
