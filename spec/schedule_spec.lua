-- cloud.schedule with its own clock: every instant is given, nothing sleeps. What a
-- schedule wants across midnight, over several periods, on skipped dates and on both
-- summer-time change days of Europe/Berlin and America/New_York (docs/schedule-file.md);
-- every mistake of a file named by schedule and field before anything is sent.
local schedule = require "cloud.schedule"
local errors = require "cloud.errors"

local T = schedule.parse_time

-- A checked set of one schedule "s" with the given periods (and other fields).
local function one(periods, extra)
  local s = { timezone = "UTC", periods = periods }
  for k, v in pairs(extra or {}) do s[k] = v end
  return schedule.check{ schedules = { s = s } }.schedules.s
end

local function wanted(s, iso) return schedule.state_at(s, T(iso)).wanted end

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return out
end

-- The argument error check(t) raises: its field, and its message.
local function mistake(t)
  local ok, e = pcall(schedule.check, t)
  assert.is_false(ok, "no error")
  assert.are.equal("argument", errors.kind(e), tostring(e))
  return e.field, tostring(e)
end

describe("cloud.schedule", function()
  describe("parse_time", function()
    it("reads ISO 8601 times with their offset", function()
      assert.are.equal(1796630400, T("2026-12-07T08:00:00Z"))
      assert.are.equal(1796630400, T("2026-12-07T08:00Z"))
      assert.are.equal(1796630400, T("2026-12-07T09:00:00+01:00"))
      assert.are.equal(1796630400, T("2026-12-07T03:00-0500"))
      assert.are.equal(1796630400, T("2026-12-07T08:00:00.750Z"))
      assert.are.equal(951782400, T("2000-02-29T00:00:00Z"))
    end)

    it("refuses anything else, naming the field", function()
      for _, bad in ipairs({ "2026-12-07T08:00:00", "2026-12-07 08:00:00Z", "2026-02-29T08:00Z", "2026-12-07T24:00Z",
                             "2026-12-07T08:60Z", "2026-13-01T08:00Z", "2026-12-07T08:00+25:00", "tomorrow", "", 0 }) do
        local ok, e = pcall(T, bad, "--at")
        assert.is_false(ok, tostring(bad))
        assert.are.equal("--at", e.field)
        assert.matches("ISO 8601", tostring(e), 1, true)
      end
      local _, e = pcall(T, "noon")
      assert.are.equal("at", e.field)
    end)
  end)

  describe("check", function()
    it("normalizes a file's table into a new set, leaving the table as it was", function()
      local input = { schedules = {
        ["office-hours"] = { timezone = "Europe/Berlin", skip_dates = { "2026-12-25" }, max_servers = 500,
                             periods = { { days = "mon-fri", start = "08:00", stop = "19:00" } } },
        night = { timezone = "UTC", enforce = true, services = { "bms", "ecs" },
                  targets = { { region = "cn-north-4" }, { profile = "prod", region = "ap-southeast-1" } },
                  periods = { { days = "sat-mon", start = "22:00", stop = "24:00" } } },
      } }
      local before = deep_copy(input)
      local set = schedule.check(input)
      assert.are.same(before, input)
      assert.is_true(schedule.is_set(set))
      assert.is_false(schedule.is_set(input))
      assert.are.equal(set, schedule.check(set)) -- a checked set passes as it is
      assert.are.equal("schedule", set.tag)
      assert.are.equal("schedule-override", set.override_tag)
      assert.is_nil(set.targets)
      assert.are.same({ "night", "office-hours" }, set.names)
      local oh = set.schedules["office-hours"]
      assert.are.same({ { days = { true, true, true, true, true }, start = 480, stop = 1140,
                          text = "mon-fri 08:00-19:00" } }, oh.periods)
      assert.are.same({ ["2026-12-25"] = true }, oh.skip_dates)
      assert.are.equal(500, oh.max_servers)
      assert.are.same({ "ecs" }, oh.services)
      assert.is_false(oh.enforce)
      local night = set.schedules.night
      assert.are.same({ [6] = true, [7] = true, [1] = true }, night.periods[1].days)
      assert.are.equal(1440, night.periods[1].stop)
      assert.are.same({ "bms", "ecs" }, night.services)
      assert.is_true(night.enforce)
      assert.are.same({ { region = "cn-north-4" }, { profile = "prod", region = "ap-southeast-1" } }, night.targets)
      local custom = schedule.check{ tag = "office", override_tag = "office-override", targets = { { region = "r1" } },
        schedules = { s = { timezone = "UTC", periods = { { days = "daily", start = "00:00", stop = "24:00" } } } } }
      assert.are.same({ "office", "office-override", { { region = "r1" } } },
        { custom.tag, custom.override_tag, custom.targets })
    end)

    it("reads the days' grammar: names, ranges, wrapping ranges, lists, mixes, daily", function()
      local cases = {
        mon = { 1 }, sun = { 7 }, ["mon-fri"] = { 1, 2, 3, 4, 5 }, ["sat-sun"] = { 6, 7 },
        ["sat-mon"] = { 1, 6, 7 }, ["fri-tue"] = { 1, 2, 5, 6, 7 }, ["mon,wed"] = { 1, 3 },
        ["mon-wed,fri"] = { 1, 2, 3, 5 }, daily = { 1, 2, 3, 4, 5, 6, 7 }, ["mon, wed"] = { 1, 3 },
        ["tue,tue"] = { 2 },
      }
      for text, list in pairs(cases) do
        local want = {}
        for _, d in ipairs(list) do want[d] = true end
        assert.are.same(want, one({ { days = text, start = "08:00", stop = "09:00" } }).periods[1].days, text)
      end
    end)

    local function period_mistake(p)
      return mistake{ schedules = { ["office-hours"] = { timezone = "Europe/Berlin", periods = { p } } } }
    end

    it("names the schedule and field of every mistake in a period, quoting the value", function()
      local P = 'schedules["office-hours"].periods[1]'
      local cases = {
        { { days = "mon", start = "25:00", stop = "09:00" }, P .. ".start", '"25:00"' },
        { { days = "mon", start = "12:60", stop = "13:00" }, P .. ".start", '"12:60"' },
        { { days = "mon", start = "08:00", stop = "24:01" }, P .. ".stop", '"24:01"' },
        { { days = "mon", start = "24:00", stop = "09:00" }, P .. ".start", "00:00 to 23:59" },
        { { days = "mon", start = "8:00", stop = "09:00" }, P .. ".start", '"8:00"' },
        { { days = "mon", start = 800, stop = "09:00" }, P .. ".start", "800" },
        { { days = "mon", start = "08:00" }, P .. ".stop", "missing" },
        { { days = "mon", start = "08:00", stop = "08:00" }, P .. ".stop", "the same as start" },
        { { days = "mon,fry", start = "08:00", stop = "09:00" }, P .. ".days", 'unknown day "fry"' },
        { { days = "Mon", start = "08:00", stop = "09:00" }, P .. ".days", 'unknown day "Mon"' },
        { { days = "mon-", start = "08:00", stop = "09:00" }, P .. ".days", "unknown day" },
        { { days = "mon,,tue", start = "08:00", stop = "09:00" }, P .. ".days", "empty item" },
        { { days = "", start = "08:00", stop = "09:00" }, P .. ".days", "names no day" },
        { { start = "08:00", stop = "09:00" }, P .. ".days", "names no day" },
        { { days = { "mon" }, start = "08:00", stop = "09:00" }, P .. ".days", "must be a string" },
        { { days = "mon", start = "08:00", stop = "09:00", end_ = "x" }, P .. ".end_", "unknown" },
        { "mon 08:00-09:00", P, "must be an object" },
      }
      for _, c in ipairs(cases) do
        local field, text = period_mistake(c[1])
        assert.are.equal(c[2], field, text)
        assert.matches(c[3], text, 1, true)
      end
    end)

    it("names every mistake of a schedule and of the file", function()
      local good = { { days = "mon", start = "08:00", stop = "09:00" } }
      local S = 'schedules["s"]'
      local cases = {
        { { schedules = { s = { timezone = "Mars/Olympus_Mons", periods = good } } }, S .. ".timezone",
          'unknown time zone "Mars/Olympus_Mons"' },
        { { schedules = { s = { timezone = "../../etc/passwd", periods = good } } }, S .. ".timezone",
          "no time zone name" },
        { { schedules = { s = { timezone = 1, periods = good } } }, S .. ".timezone", "non-empty string" },
        { { schedules = { s = { periods = good } } }, S .. ".timezone", "missing" },
        { { schedules = { s = { timezone = "UTC" } } }, S .. ".periods", "non-empty array" },
        { { schedules = { s = { timezone = "UTC", periods = {} } } }, S .. ".periods", "non-empty array" },
        { { schedules = { s = { timezone = "UTC", periods = { days = "mon" } } } }, S .. ".periods",
          "non-empty array" },
        { { schedules = { s = { timezone = "UTC", periods = good, skip_dates = { "2026-02-30" } } } },
          S .. ".skip_dates[1]", '"2026-02-30"' },
        { { schedules = { s = { timezone = "UTC", periods = good, skip_dates = "2026-12-25" } } },
          S .. ".skip_dates", "array" },
        { { schedules = { s = { timezone = "UTC", periods = good, max_servers = 0 } } }, S .. ".max_servers",
          "at least 1" },
        { { schedules = { s = { timezone = "UTC", periods = good, max_servers = 1.5 } } }, S .. ".max_servers", "1.5" },
        { { schedules = { s = { timezone = "UTC", periods = good, max_servers = "500" } } }, S .. ".max_servers",
          '"500"' },
        { { schedules = { s = { timezone = "UTC", periods = good, max_servers = -1 } } }, S .. ".max_servers", "-1" },
        { { schedules = { s = { timezone = "UTC", periods = good, max_servers = 0 / 0 } } }, S .. ".max_servers",
          "whole number" },
        { { schedules = { s = { timezone = "UTC", periods = good, enforce = "yes" } } }, S .. ".enforce",
          "true or false" },
        { { schedules = { s = { timezone = "UTC", periods = good, services = "ecs" } } }, S .. ".services", "array" },
        { { schedules = { s = { timezone = "UTC", periods = good, services = { "rds" } } } }, S .. ".services[1]",
          '"rds"' },
        { { schedules = { s = { timezone = "UTC", periods = good, services = { "ecs", "ecs" } } } },
          S .. ".services[2]", "twice" },
        { { schedules = { s = { timezone = "UTC", periods = good, targets = { { region = "r", ak = "x" } } } } },
          S .. ".targets[1].ak", "unknown" },
        { { schedules = { s = { timezone = "UTC", periods = good, targets = { { region = "" } } } } },
          S .. ".targets[1].region", "non-empty string" },
        { { schedules = { s = { timezone = "UTC", periods = good, targets = {} } } }, S .. ".targets",
          "non-empty array" },
        { { schedules = { s = { timezone = "UTC", periods = good, timezon = "UTC" } } }, S .. ".timezon",
          "unknown (a typo?)" },
        { { schedules = { s = "office" } }, S, "must be an object" },
        { { schedules = {} }, "schedules", "object of schedules" },
        { {}, "schedules", "missing" },
        { { schedules = { s = { timezone = "UTC", periods = good } }, tags = "x" }, "tags", "unknown" },
        { { schedules = { s = { timezone = "UTC", periods = good } }, tag = "" }, "tag", "non-empty string" },
        { { schedules = { s = { timezone = "UTC", periods = good } }, override_tag = "schedule" }, "override_tag",
          "differ" },
        { { schedules = { s = { timezone = "UTC", periods = good } }, targets = "cn-north-4" }, "targets",
          "non-empty array" },
        { { schedules = { ["a\nb"] = { timezone = "UTC", periods = good } } }, 'schedules["a\\nb"]',
          "no usable name" },
      }
      for i, c in ipairs(cases) do
        local field, text = mistake(c[1])
        assert.are.equal(c[2], field, i .. ": " .. text)
        assert.matches(c[3], text, 1, true)
      end
      local ok, e = pcall(schedule.check, "office-hours")
      assert.is_false(ok)
      assert.are.equal("argument", errors.kind(e))
    end)
  end)

  describe("targets", function()
    it("lists the file's targets, then each schedule's, each once; none when none are named", function()
      local periods = { { days = "daily", start = "08:00", stop = "19:00" } }
      local set = schedule.check{
        targets = { { region = "cn-north-4" }, { region = "cn-east-3", profile = "prod" } },
        schedules = {
          b = { timezone = "UTC", periods = periods,
                targets = { { region = "cn-east-3", profile = "prod" }, { region = "ap-southeast-1" } } },
          a = { timezone = "UTC", periods = periods, targets = { { region = "cn-north-4", project_id = "p" } } },
        } }
      assert.are.same({ { region = "cn-north-4" }, { region = "cn-east-3", profile = "prod" },
                        { region = "cn-north-4", project_id = "p" }, { region = "ap-southeast-1" } },
                      schedule.targets(set))
      local none = schedule.check{ schedules = { a = { timezone = "UTC", periods = periods } } }
      assert.are.same({}, schedule.targets(none))
      local ok, e = pcall(schedule.targets, { schedules = {} })
      assert.is_false(ok)
      assert.are.equal("set", e.field)
    end)
  end)

  describe("load", function()
    local dir
    setup(function()
      local p = assert(io.popen("mktemp -d /tmp/schedule_spec.XXXXXX"))
      dir = p:read("*l")
      p:close()
      assert.truthy(dir and dir:match("^/tmp/schedule_spec%."), "mktemp -d failed")
    end)
    teardown(function() if dir then os.execute("rm -rf '" .. dir .. "'") end end)

    local function put(name, text)
      local f = assert(io.open(dir .. "/" .. name, "w"))
      f:write(text)
      f:close()
      return dir .. "/" .. name
    end

    it("reads the issue's example file", function()
      local set = schedule.load(put("ok.json", [[
        { "tag": "schedule",
          "schedules": { "office-hours": { "timezone": "Europe/Berlin",
              "periods": [ { "days": "mon-fri", "start": "08:00", "stop": "19:00" } ],
              "skip_dates": ["2026-12-25"], "max_servers": 500 } } }]]))
      assert.are.same({ "office-hours" }, set.names)
      assert.are.equal(500, set.schedules["office-hours"].max_servers)
      local oh = set.schedules["office-hours"]
      assert.are.equal("running", schedule.state_at(oh, T("2026-12-07T08:00:00+01:00")).wanted)
    end)

    it("refuses a missing file, a folder, no JSON and JSON nulls, naming path or field", function()
      local cases = {
        { dir .. "/none.json", "path", "cannot be read" },
        { dir, "path", "not a regular file" },
        { put("bad.json", "{ schedules: }"), "path", "is not JSON" },
        { put("null.json", '{ "schedules": { "s": { "timezone": null, "periods": [] } } }'),
          'schedules["s"].timezone', "is null" },
        { put("array.json", "[]"), "schedules", "missing" },
      }
      for _, c in ipairs(cases) do
        local ok, e = pcall(schedule.load, c[1])
        assert.is_false(ok, c[1])
        assert.are.equal(c[2], e.field, tostring(e))
        assert.matches(c[3], tostring(e), 1, true)
      end
    end)
  end)

  describe("state_at", function()
    it("runs a period across midnight from its day into the next", function()
      local s = one({ { days = "mon-fri", start = "22:00", stop = "06:00" } })
      assert.are.equal("stopped", wanted(s, "2026-12-11T21:59:59Z")) -- Friday
      assert.are.equal("running", wanted(s, "2026-12-11T22:00:00Z"))
      assert.are.equal("running", wanted(s, "2026-12-12T05:59:59Z")) -- Saturday morning, from Friday
      assert.are.equal("stopped", wanted(s, "2026-12-12T06:00:00Z"))
      assert.are.equal("stopped", wanted(s, "2026-12-12T23:00:00Z")) -- Saturday night: no period starts
      assert.are.equal("stopped", wanted(s, "2026-12-14T05:00:00Z")) -- Monday morning: Sunday is not listed
      local st = schedule.state_at(s, T("2026-12-12T03:00:00Z"))
      assert.are.same({ name = "s", wanted = "running", period = 1, since = T("2026-12-11T22:00:00Z"),
                        next_change = T("2026-12-12T06:00:00Z"), local_time = "2026-12-12T03:00:00+00:00" }, st)
      st = schedule.state_at(s, T("2026-12-12T12:00:00Z"))
      assert.are.same({ name = "s", wanted = "stopped", since = T("2026-12-12T06:00:00Z"),
                        next_change = T("2026-12-14T22:00:00Z"), local_time = "2026-12-12T12:00:00+00:00" }, st)
    end)

    it("joins several periods, and ones that touch, and says which period runs", function()
      local s = one({ { days = "mon,wed", start = "08:00", stop = "12:00" },
                      { days = "mon-fri", start = "12:00", stop = "17:00" },
                      { days = "sat", start = "10:00", stop = "11:00" } })
      local st = schedule.state_at(s, T("2026-12-07T09:00:00Z")) -- Monday
      assert.are.same({ "running", 1, T("2026-12-07T08:00:00Z"), T("2026-12-07T17:00:00Z") },
        { st.wanted, st.period, st.since, st.next_change })
      st = schedule.state_at(s, T("2026-12-07T12:00:00Z"))
      assert.are.same({ "running", 2, T("2026-12-07T08:00:00Z") }, { st.wanted, st.period, st.since })
      assert.are.equal("stopped", wanted(s, "2026-12-08T09:00:00Z")) -- Tuesday: only the afternoon
      assert.are.equal("running", wanted(s, "2026-12-08T13:00:00Z"))
      st = schedule.state_at(s, T("2026-12-12T10:30:00Z")) -- Saturday
      assert.are.same({ "running", 3, T("2026-12-12T11:00:00Z") }, { st.wanted, st.period, st.next_change })
      st = schedule.state_at(s, T("2026-12-12T12:00:00Z"))
      assert.are.same({ "stopped", T("2026-12-12T11:00:00Z"), T("2026-12-14T08:00:00Z") },
        { st.wanted, st.since, st.next_change })
    end)

    it("starts nothing on a skipped date, but lets a period from the day before run out", function()
      local s = one({ { days = "daily", start = "20:00", stop = "02:00" },
                      { days = "mon-fri", start = "08:00", stop = "19:00" } },
                    { skip_dates = { "2026-12-25" } })
      local st = schedule.state_at(s, T("2026-12-25T01:00:00Z")) -- from the 24th, into the skipped date
      assert.are.same({ "running", 1, T("2026-12-25T02:00:00Z") }, { st.wanted, st.period, st.next_change })
      assert.is_nil(st.skipped)
      st = schedule.state_at(s, T("2026-12-25T10:00:00Z"))
      assert.are.same({ "stopped", "2026-12-25", T("2026-12-25T02:00:00Z"), T("2026-12-26T20:00:00Z") },
        { st.wanted, st.skipped, st.since, st.next_change })
      assert.are.equal("stopped", wanted(s, "2026-12-25T21:00:00Z"))
      assert.are.equal("stopped", wanted(s, "2026-12-26T01:00:00Z")) -- nothing started on the 25th
      assert.are.equal("running", wanted(s, "2026-12-26T20:00:00Z"))
      assert.is_nil(schedule.state_at(s, T("2026-12-26T03:00:00Z")).skipped) -- nothing would run then
    end)

    it("says nil for a change further than 8 days away", function()
      local always = one({ { days = "daily", start = "00:00", stop = "24:00" } })
      local st = schedule.state_at(always, T("2026-12-07T12:00:00Z"))
      assert.are.same({ "running", 1 }, { st.wanted, st.period })
      assert.is_nil(st.since)
      assert.is_nil(st.next_change)
      local rare = one({ { days = "mon", start = "08:00", stop = "09:00" } },
                       { skip_dates = { "2026-12-14", "2026-12-21" } })
      st = schedule.state_at(rare, T("2026-12-10T12:00:00Z"))
      assert.are.same({ "stopped", T("2026-12-07T09:00:00Z") }, { st.wanted, st.since })
      assert.is_nil(st.next_change)
    end)

    it("takes a 02:30 start on both summer-time days in Berlin: the jump, then the first 02:30", function()
      local s = one({ { days = "sun", start = "02:30", stop = "05:00" } }, { timezone = "Europe/Berlin" })
      -- 2026-03-29: 02:30 never happens; the clock jumps from 02:00 CET to 03:00 CEST at 01:00Z.
      local st = schedule.state_at(s, T("2026-03-29T00:59:59Z"))
      assert.are.same({ "stopped", T("2026-03-29T01:00:00Z"), "2026-03-29T01:59:59+01:00" },
        { st.wanted, st.next_change, st.local_time })
      st = schedule.state_at(s, T("2026-03-29T01:00:00Z"))
      assert.are.same({ "running", T("2026-03-29T01:00:00Z"), T("2026-03-29T05:00:00+02:00"),
                        "2026-03-29T03:00:00+02:00" },
        { st.wanted, st.since, st.next_change, st.local_time })
      -- 2026-10-25: 02:30 happens at 00:30Z (CEST) and again at 01:30Z (CET); the first starts it.
      st = schedule.state_at(s, T("2026-10-25T00:29:59Z"))
      assert.are.same({ "stopped", T("2026-10-25T00:30:00Z") }, { st.wanted, st.next_change })
      st = schedule.state_at(s, T("2026-10-25T00:30:00Z"))
      assert.are.same({ "running", "2026-10-25T02:30:00+02:00", T("2026-10-25T05:00:00+01:00") },
        { st.wanted, st.local_time, st.next_change })
      assert.are.equal(T("2026-10-25T04:00:00Z"), st.next_change)
      assert.are.equal("running", wanted(s, "2026-10-25T01:30:00Z")) -- the second 02:30, still running
    end)

    it("takes a 02:30 start on both summer-time days in New York", function()
      local s = one({ { days = "sun", start = "02:30", stop = "05:00" },
                      { days = "sun", start = "01:30", stop = "02:00" } },
                    { timezone = "America/New_York" })
      -- 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00Z, where period 2 ends (02:00
      -- never happens) and period 1 begins (02:30 never happens): one run from 01:30 EST.
      local st = schedule.state_at(s, T("2026-03-08T07:00:00Z"))
      assert.are.same({ "running", 1, T("2026-03-08T01:30:00-05:00"), T("2026-03-08T09:00:00Z") },
        { st.wanted, st.period, st.since, st.next_change })
      assert.are.equal("integer", math.type and math.type(st.since) or "integer")
      assert.are.equal("running", wanted(s, "2026-03-08T06:59:59Z")) -- 01:59:59 EST, period 2
      -- 2026-11-01: 01:30 happens twice; period 2 runs from the first 01:30 (05:30Z, EDT)
      -- to 02:00 EST (07:00Z), over the doubled hour.
      st = schedule.state_at(s, T("2026-11-01T05:30:00Z"))
      assert.are.same({ "running", 2, "2026-11-01T01:30:00-04:00" }, { st.wanted, st.period, st.local_time })
      st = schedule.state_at(s, T("2026-11-01T06:30:00Z"))
      assert.are.same({ "running", 2, "2026-11-01T01:30:00-05:00", T("2026-11-01T02:00:00-05:00") },
        { st.wanted, st.period, st.local_time, st.next_change })
      assert.are.equal("running", wanted(s, "2026-11-01T07:30:00Z")) -- 02:30 EST, period 1
      assert.are.equal("stopped", wanted(s, "2026-11-01T10:00:00Z"))
    end)

    it("gives the same answer at the same instant, and plans every schedule in name order", function()
      local set = schedule.check{ schedules = {
        b = { timezone = "UTC", periods = { { days = "daily", start = "08:00", stop = "18:00" } } },
        a = { timezone = "America/New_York", periods = { { days = "daily", start = "08:00", stop = "18:00" } } },
      } }
      local t = T("2026-12-07T12:00:00Z")
      local p1, p2 = schedule.plan(set, t), schedule.plan(set, t)
      assert.are.same(p1, p2)
      assert.are.same({ "a", "stopped", "b", "running" }, { p1[1].name, p1[1].wanted, p1[2].name, p1[2].wanted })
      assert.are.equal("2026-12-07T07:00:00-05:00", p1[1].local_time)
      assert.has_error(function() schedule.plan({}, t) end)
      local ok, e = pcall(schedule.state_at, set.schedules.a, "noon")
      assert.is_false(ok)
      assert.are.equal("t", e.field)
    end)
  end)

  describe("usage", function()
    local set = schedule.check{ schedules = {
      office = { timezone = "Europe/Berlin", periods = { { days = "mon-fri", start = "08:00", stop = "19:00" } } },
      always = { timezone = "America/New_York", periods = { { days = "daily", start = "00:00", stop = "24:00" } } },
    } }

    it("counts a week of office hours as 55 of 168", function()
      local u = schedule.usage(set, "2026-12-07", "2026-12-13")
      assert.are.same({ name = "always", hours = 168, running_hours = 168, saved_share = 0 }, u[1])
      assert.are.same({ "office", 168, 55 }, { u[2].name, u[2].hours, u[2].running_hours })
      assert.are.equal("168 55", ("%s %s"):format(u[2].hours, u[2].running_hours))
      assert.is_true(math.abs(u[2].saved_share - 113 / 168) < 1e-12)
    end)

    it("counts a day of 23 and one of 25 hours, each in its own zone", function()
      local u = schedule.usage(set, "2026-03-23", "2026-03-29") -- Berlin springs forward on the 29th
      assert.are.same({ 167, 55 }, { u[2].hours, u[2].running_hours })
      u = schedule.usage(set, "2026-11-01", "2026-11-01") -- New York falls back
      assert.are.same({ 25, 25, 0 }, { u[1].hours, u[1].running_hours, u[1].saved_share })
      u = schedule.usage(set, "2026-03-08", "2026-03-08") -- New York springs forward
      assert.are.same({ 23, 23 }, { u[1].hours, u[1].running_hours })
      local skip = schedule.check{ schedules = { s = { timezone = "UTC", skip_dates = { "2026-12-08" },
        periods = { { days = "daily", start = "22:00", stop = "02:00" } } } } }
      -- The 7th counts 2 h from the 6th and 2 h of its own; the 8th only the 2 h from the 7th.
      assert.are.same({ 48, 6 }, { schedule.usage(skip, "2026-12-07", "2026-12-08")[1].hours,
                                   schedule.usage(skip, "2026-12-07", "2026-12-08")[1].running_hours })
    end)

    it("refuses dates that are none, or out of order", function()
      for _, c in ipairs({ { "2026-12-32", "2026-12-31", "from" }, { "2026-12-01", "12/31", "to" },
                           { "2026-12-02", "2026-12-01", "to" }, { "2000-01-01", "2030-01-01", "to" } }) do
        local ok, e = pcall(schedule.usage, set, c[1], c[2])
        assert.is_false(ok)
        assert.are.equal(c[3], e.field, tostring(e))
      end
    end)
  end)
end)
