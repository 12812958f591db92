--- Schedules kept as data (issue 27, docs/schedule-file.md): servers tagged with a
-- schedule's name should run inside its periods and be stopped outside them, in the
-- schedule's own time zone. This module reads and checks a schedule file and says what a
-- schedule wants at an instant; it sends nothing (client:run_schedule acts on it).
-- @module cloud.schedule
-- @usage
-- local schedule = require "cloud.schedule"
-- local set = schedule.load("/etc/cloud/schedule.json")
-- for _, s in ipairs(schedule.plan(set, os.time())) do print(s.name, s.wanted, s.local_time) end
local core = require "cloud.core"
local errors = require "cloud.errors"
local json = require "cloud.base.json"
local tz = require "cloud.base.tz"
local utc = require "cloud.base.utc"
local days_grammar = require "cloud.schedule.days"

local floor = math.floor

local M = {}

--- A schedule file larger than this is refused before it is read.
M.MAX_BYTES = 1024 * 1024
--- state_at looks this far either side of an instant for the last and next change.
M.HORIZON = 8 * 86400

-- The metatable of checked sets, so that a set passed where a file's table may be is known.
local Set = {}

local SET_KEYS = { tag = true, override_tag = true, targets = true, schedules = true }
local SCHEDULE_KEYS = { timezone = true, periods = true, skip_dates = true, max_servers = true,
                        enforce = true, services = true, targets = true, description = true }
local PERIOD_KEYS = { days = true, start = true, stop = true }
local TARGET_KEYS = { region = true, project_id = true, profile = true, enterprise_project_id = true }
local SERVICES = { ecs = true, bms = true }
local MAX_USAGE_DAYS = 3660

-- A value as an error quotes it: strings quoted and cut short, JSON null by name.
local function show(v)
  if type(v) == "string" then return errors.quote_bounded(v, 60) end
  if v == nil then return "missing" end
  if type(v) == "userdata" then return "null" end
  if type(v) == "table" then return "a table" end
  return tostring(v)
end

-- A schedule's field as errors name it: schedules["office-hours"], a newline as \n.
local function schedule_field(name)
  return (("schedules[%q]"):format(name):gsub("\\\n", "\\n"))
end

local function is_array(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  return n == #v
end

local function is_object(v)
  if type(v) ~= "table" then return false end
  for k in pairs(v) do
    if type(k) ~= "string" then return false end
  end
  return true
end

local function unknown_keys(where, field, t, known)
  local bad = {}
  for k in pairs(t) do
    if not known[k] then bad[#bad + 1] = tostring(k) end
  end
  if #bad == 0 then return end
  table.sort(bad)
  local allowed = {}
  for k in pairs(known) do allowed[#allowed + 1] = k end
  table.sort(allowed)
  errors.argument(where, (field and field .. "." or "") .. bad[1],
    "is unknown (a typo?): the keys here are " .. table.concat(allowed, ", "))
end

local function nonempty_string(where, field, v)
  if type(v) ~= "string" or v == "" then
    errors.argument(where, field, "is " .. show(v) .. ": must be a non-empty string")
  end
  return v
end

-- "HH:MM" as minutes of the day; "24:00" only where `end_of_day` allows it.
local function minute_of_day(where, field, v, end_of_day)
  local allowed = end_of_day and 'a time "HH:MM" from 00:00 to 24:00' or 'a time "HH:MM" from 00:00 to 23:59'
  if type(v) ~= "string" then errors.argument(where, field, "is " .. show(v) .. ": must be " .. allowed) end
  local h, m = v:match("^(%d%d):(%d%d)$")
  h, m = tonumber(h), tonumber(m)
  if not h or m > 59 or h > 24 or (h == 24 and (m ~= 0 or not end_of_day)) then
    errors.argument(where, field, "is " .. show(v) .. ": must be " .. allowed)
  end
  return h * 60 + m
end

--- Days from 1970-01-01 of a "YYYY-MM-DD" date, or nil when it is none.
local function date_days(s)
  if type(s) ~= "string" then return nil end
  local y, m, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if not y or m < 1 or m > 12 or d < 1 or d > utc.month_days(y, m) then return nil end
  return utc.days(y, m, d)
end

local function check_targets(where, field, v)
  if not is_array(v) or #v == 0 then
    errors.argument(where, field, "is " .. show(v) .. ": must be a non-empty array of"
      .. " { region =, project_id =, profile =, enterprise_project_id = }")
  end
  local out = {}
  for i, t in ipairs(v) do
    local f = ("%s[%d]"):format(field, i)
    if not is_object(t) or next(t) == nil then
      errors.argument(where, f, "is " .. show(t) .. ": must name region, project_id, profile or enterprise_project_id")
    end
    unknown_keys(where, f, t, TARGET_KEYS)
    local copy = {}
    for k, s in pairs(t) do copy[k] = nonempty_string(where, f .. "." .. k, s) end
    out[i] = copy
  end
  return out
end

local function check_period(where, field, p)
  if not is_object(p) then errors.argument(where, field, "is " .. show(p) .. ": must be an object") end
  unknown_keys(where, field, p, PERIOD_KEYS)
  local days, problem = days_grammar.parse(p.days)
  if not days then errors.argument(where, field .. ".days", "is " .. show(p.days) .. ": " .. problem) end
  local start = minute_of_day(where, field .. ".start", p.start, false)
  local stop = minute_of_day(where, field .. ".stop", p.stop, true)
  if start == stop then
    errors.argument(where, field .. ".stop", "is " .. show(p.stop) .. ", the same as start: a period must"
      .. " last (for all day give 00:00 to 24:00)")
  end
  return { days = days, start = start, stop = stop, text = p.days .. " " .. p.start .. "-" .. p.stop }
end

local function check_schedule(where, name, s, set)
  local field = schedule_field(name)
  if not is_object(s) then errors.argument(where, field, "is " .. show(s) .. ": must be an object") end
  unknown_keys(where, field, s, SCHEDULE_KEYS)
  local out = { name = name, enforce = false, services = { "ecs" }, skip_dates = {} }
  out.timezone = nonempty_string(where, field .. ".timezone", s.timezone)
  local zone, why = tz.load(s.timezone)
  if not zone then errors.argument(where, field .. ".timezone", "is " .. show(s.timezone) .. ": " .. why) end
  if not is_array(s.periods) or #s.periods == 0 then
    errors.argument(where, field .. ".periods", "is " .. show(s.periods) .. ": must be a non-empty array of"
      .. ' { days =, start = "HH:MM", stop = "HH:MM" }')
  end
  out.periods = {}
  for i, p in ipairs(s.periods) do out.periods[i] = check_period(where, ("%s.periods[%d]"):format(field, i), p) end
  if s.skip_dates ~= nil then
    if not is_array(s.skip_dates) then
      errors.argument(where, field .. ".skip_dates", "is " .. show(s.skip_dates)
        .. ': must be an array of "YYYY-MM-DD"')
    end
    for i, d in ipairs(s.skip_dates) do
      if not date_days(d) then
        errors.argument(where, ("%s.skip_dates[%d]"):format(field, i), "is " .. show(d)
          .. ': must be a date "YYYY-MM-DD"')
      end
      out.skip_dates[d] = true
    end
  end
  if s.max_servers ~= nil then
    local v = s.max_servers
    if type(v) ~= "number" or v ~= v or v < 1 or v % 1 ~= 0 or v == math.huge then
      errors.argument(where, field .. ".max_servers", "is " .. show(v) .. ": must be a whole number of at least 1")
    end
    out.max_servers = math.tointeger and math.tointeger(v) or v
  end
  if s.enforce ~= nil then
    if type(s.enforce) ~= "boolean" then
      errors.argument(where, field .. ".enforce", "is " .. show(s.enforce) .. ": must be true or false")
    end
    out.enforce = s.enforce
  end
  if s.services ~= nil then
    if not is_array(s.services) or #s.services == 0 then
      errors.argument(where, field .. ".services", "is " .. show(s.services)
        .. ': must be a non-empty array of "ecs", "bms"')
    end
    out.services = {}
    local seen = {}
    for i, v in ipairs(s.services) do
      local f = ("%s.services[%d]"):format(field, i)
      if not SERVICES[v] then errors.argument(where, f, "is " .. show(v) .. ': must be "ecs" or "bms"') end
      if seen[v] then errors.argument(where, f, "is " .. show(v) .. ": named twice") end
      seen[v] = true
      out.services[i] = v
    end
  end
  if s.description ~= nil and type(s.description) ~= "string" then
    errors.argument(where, field .. ".description", "is " .. show(s.description) .. ": must be a string")
  end
  out.description = s.description
  if s.targets ~= nil then out.targets = check_targets(where, field .. ".targets", s.targets) end
  set.schedules[name] = out
end

local function check_set(where, t)
  if not is_object(t) then errors.argument(where, nil, "a schedule set must be an object, got " .. show(t)) end
  unknown_keys(where, nil, t, SET_KEYS)
  local set = { tag = "schedule", override_tag = "schedule-override", names = {}, schedules = {} }
  if t.tag ~= nil then set.tag = nonempty_string(where, "tag", t.tag) end
  if t.override_tag ~= nil then set.override_tag = nonempty_string(where, "override_tag", t.override_tag) end
  if set.tag == set.override_tag then
    errors.argument(where, "override_tag", "is " .. show(set.override_tag) .. ": must differ from tag")
  end
  if t.targets ~= nil then set.targets = check_targets(where, "targets", t.targets) end
  if not is_object(t.schedules) or next(t.schedules) == nil then
    errors.argument(where, "schedules", "is " .. show(t.schedules) .. ": must be an object of schedules by name")
  end
  for name in pairs(t.schedules) do set.names[#set.names + 1] = name end
  table.sort(set.names)
  for _, name in ipairs(set.names) do
    if #name > 255 or name:find("[%c]") then
      errors.argument(where, schedule_field(name), "is no usable name (at most 255 characters, no control"
        .. " characters): it is the value of the tag " .. show(set.tag))
    end
    check_schedule(where, name, t.schedules[name], set)
  end
  return setmetatable(set, Set)
end

--- Whether `v` is a set returned by check or load.
function M.is_set(v)
  return getmetatable(v) == Set
end

--- Checks a schedule set given as a table of the JSON file's shape; returns a new,
-- normalized set (the input is left as it is). A set check or load returned is returned
-- as it is.
-- @raise an argument error whose field names the schedule and the field
function M.check(t)
  if M.is_set(t) then return t end
  return check_set("cloud.schedule.check", t)
end

--- Reads the JSON schedule file at `path` (a regular file of at most MAX_BYTES) and checks it.
-- @raise an argument error (field "path" when the file cannot be read or is no JSON)
function M.load(path)
  local where = "cloud.schedule.load"
  if type(path) ~= "string" or path == "" then errors.argument(where, "path", "must be a non-empty string") end
  local text, why = core.read_file(path, M.MAX_BYTES)
  if not text then errors.argument(where, "path", "cannot be read: " .. tostring(why)) end
  local t = json.decode(text)
  if t == nil then errors.argument(where, "path", ("%s is not JSON"):format(path)) end
  return check_set(where, t)
end

-- The occurrences of a schedule's periods on local dates first..last (day numbers):
-- { b, e, period, date, skipped }, each over the instants [b, e).
local function occurrences(s, zone, first, last)
  local out = {}
  for day = first, last do
    local y, m, d, wday = utc.civil_from_days(day)
    local date = ("%04d-%02d-%02d"):format(y, m, d)
    for i, p in ipairs(s.periods) do
      if p.days[wday] then
        local b = zone:from_local(y, m, d, floor(p.start / 60), p.start % 60)
        local stop_day = p.stop <= p.start and day + 1 or day
        local stop = p.stop
        if stop == 1440 then stop_day, stop = day + 1, 0 end
        local y2, m2, d2 = utc.civil_from_days(stop_day)
        local e = zone:from_local(y2, m2, d2, floor(stop / 60), stop % 60)
        if b < e then -- a period inside a skipped hour of the clock lasts no time
          out[#out + 1] = { b = b, e = e, period = i, date = date, skipped = s.skip_dates[date] == true }
        end
      end
    end
  end
  return out
end

-- The running time of the occurrences not skipped, as sorted disjoint [b, e) intervals.
local function running_intervals(occ)
  local list = {}
  for _, o in ipairs(occ) do
    if not o.skipped then list[#list + 1] = { b = o.b, e = o.e } end
  end
  table.sort(list, function(x, y) return x.b < y.b end)
  local merged = {}
  for _, iv in ipairs(list) do
    local last = merged[#merged]
    if last and iv.b <= last.e then
      if iv.e > last.e then last.e = iv.e end
    else
      merged[#merged + 1] = { b = iv.b, e = iv.e }
    end
  end
  return merged
end

local function zone_of(s)
  local zone, why = tz.load(s.timezone)
  if not zone then errors.argument("cloud.schedule", "timezone", why) end
  return zone
end

local function local_time(zone, t)
  local l = zone:to_local(t)
  local off = l.offset
  local sign = off < 0 and "-" or "+"
  off = math.abs(off)
  return ("%04d-%02d-%02dT%02d:%02d:%02d%s%02d:%02d"):format(l.year, l.month, l.day, l.hour, l.min, l.sec,
    sign, floor(off / 3600), floor(off % 3600 / 60))
end

--- What schedule `s` (an entry of a checked set's `schedules`) wants at epoch seconds `t`.
-- @return { name, wanted = "running" | "stopped", period = index | nil, since = epoch of
--   the last change | nil (none within HORIZON), next_change = epoch | nil (none within
--   HORIZON), local_time = "2026-03-29T03:00:00+02:00", skipped = date | nil }
function M.state_at(s, t)
  if type(s) ~= "table" or type(s.periods) ~= "table" then
    errors.argument("cloud.schedule.state_at", "schedule", "must be an entry of a checked set's schedules")
  end
  if type(t) ~= "number" or t ~= t or t == math.huge or t == -math.huge then
    errors.argument("cloud.schedule.state_at", "t", "must be epoch seconds, got " .. show(t))
  end
  t = floor(t)
  local zone = zone_of(s)
  local l = zone:to_local(t)
  local today = utc.days(l.year, l.month, l.day)
  local reach = floor(M.HORIZON / 86400) + 1 -- whole days: the dates stay integers on Lua 5.4
  local occ = occurrences(s, zone, today - reach, today + reach)
  local st = { name = s.name, wanted = "stopped", local_time = local_time(zone, t) }
  for _, o in ipairs(occ) do
    if o.b <= t and t < o.e then
      if not o.skipped and (not st.period or o.period < st.period) then st.period = o.period end
      if o.skipped then st.skipped = st.skipped or o.date end
    end
  end
  local lo, hi = t - M.HORIZON, t + M.HORIZON
  for _, iv in ipairs(running_intervals(occ)) do
    if iv.b <= t and t < iv.e then
      st.wanted, st.since, st.next_change = "running", iv.b, iv.e
    elseif iv.e <= t then
      st.since = iv.e
    elseif iv.b > t and not st.next_change then
      st.next_change = iv.b
    end
  end
  if st.since and st.since < lo then st.since = nil end
  if st.next_change and st.next_change > hi then st.next_change = nil end
  if st.wanted == "running" then st.skipped = nil end
  return st
end

local function check_set_arg(where, set)
  if type(set) ~= "table" or type(set.names) ~= "table" or type(set.schedules) ~= "table" then
    errors.argument(where, "set", "must be a set from cloud.schedule.check or load")
  end
end

--- state_at for every schedule of a checked set, in name order.
function M.plan(set, t)
  check_set_arg("cloud.schedule.plan", set)
  local out = {}
  for i, name in ipairs(set.names) do out[i] = M.state_at(set.schedules[name], t) end
  return out
end

--- The fleet targets a set names, the file's and then each schedule's (in name order), each
-- once; empty when it names none (the caller's own connection is the target then).
function M.targets(set)
  check_set_arg("cloud.schedule.targets", set)
  local out, seen = {}, {}
  local function add(list)
    for _, t in ipairs(list or {}) do
      local id = table.concat({ t.region or "", t.project_id or "", t.profile or "", t.enterprise_project_id or "" },
        "\0")
      if not seen[id] then seen[id], out[#out + 1] = true, t end
    end
  end
  add(set.targets)
  for _, name in ipairs(set.names) do add(set.schedules[name].targets) end
  return out
end

-- Hours as an integer when whole, so that 168 prints as 168 on Lua 5.4 too.
local function whole(x)
  return math.tointeger and math.tointeger(x) or x
end

--- Running hours of each schedule over local dates `from` to `to` ("YYYY-MM-DD",
-- inclusive), each in its own zone (a day of a summer-time change has 23 or 25 hours).
-- @return in name order { name, hours, running_hours, saved_share = (hours - running_hours) / hours }
function M.usage(set, from, to)
  local where = "cloud.schedule.usage"
  check_set_arg(where, set)
  local d0, d1 = date_days(from), date_days(to)
  if not d0 then errors.argument(where, "from", "is " .. show(from) .. ': must be a date "YYYY-MM-DD"') end
  if not d1 then errors.argument(where, "to", "is " .. show(to) .. ': must be a date "YYYY-MM-DD"') end
  if d1 < d0 then errors.argument(where, "to", "is " .. show(to) .. ": must not be before from " .. show(from)) end
  if d1 - d0 >= MAX_USAGE_DAYS then
    errors.argument(where, "to", ("is %s: at most %d days from from"):format(show(to), MAX_USAGE_DAYS))
  end
  local out = {}
  for i, name in ipairs(set.names) do
    local s = set.schedules[name]
    local zone = zone_of(s)
    local y0, m0, dd0 = utc.civil_from_days(d0)
    local y1, m1, dd1 = utc.civil_from_days(d1 + 1)
    local a = zone:from_local(y0, m0, dd0, 0, 0)
    local b = zone:from_local(y1, m1, dd1, 0, 0)
    local running = 0
    for _, iv in ipairs(running_intervals(occurrences(s, zone, d0 - 1, d1))) do
      local lo, hi = math.max(iv.b, a), math.min(iv.e, b)
      if hi > lo then running = running + (hi - lo) end
    end
    local hours, running_hours = whole((b - a) / 3600), whole(running / 3600)
    out[i] = { name = name, hours = hours, running_hours = running_hours,
               saved_share = (hours - running_hours) / hours }
  end
  return out
end

--- Epoch seconds of an ISO 8601 time with its offset: "2026-12-07T08:00:00Z",
-- "2026-12-07T08:00+01:00" (seconds optional; fractions of a second are dropped: a
-- schedule counts whole ones).
-- @raise an argument error naming `field` (default "at")
function M.parse_time(s, field)
  local t = utc.from_iso8601(s)
  if not t then
    errors.argument("cloud.schedule.parse_time", field or "at", ('is %s: must be an ISO 8601 time with its offset, as'
      .. ' "2026-12-07T08:00:00Z" or "2026-12-07T09:00+01:00"'):format(show(s)))
  end
  return floor(t)
end

return M
