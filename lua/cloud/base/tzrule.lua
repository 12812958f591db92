--- POSIX TZ rules ("CET-1CEST,M3.5.0,M10.5.0/3"), as a TZif footer holds them for the
-- instants after its last transition (RFC 8536 section 3.3, with its extensions: hours
-- of a rule's time from -167 to 167, and names quoted in <>).
-- @module cloud.base.tzrule
local utc = require "cloud.base.utc"

local M = {}

-- A zone name at `pos`: three or more letters, or anything but ">" inside <>.
local function name_at(s, pos)
  local quoted, after = s:match("^<([%w+%-]+)>()", pos)
  if quoted then return quoted, after end
  return s:match("^(%a%a%a+)()", pos)
end

-- "[+-]h[h][:mm[:ss]]" at `pos`, as seconds; hours up to `max_hours`.
local function seconds_at(s, pos, max_hours)
  local sign, h, after = s:match("^([+%-]?)(%d%d?%d?)()", pos)
  if not sign then return nil end
  local v = tonumber(h)
  if v > max_hours then return nil end
  local m, after2 = s:match("^:(%d%d)()", after)
  local sec = 0
  if m then
    local ss, after3 = s:match("^:(%d%d)()", after2)
    if ss then sec, after2 = tonumber(ss), after3 end
    if tonumber(m) > 59 or sec > 59 then return nil end
    v, after = v * 3600 + tonumber(m) * 60 + sec, after2
  else
    v = v * 3600
  end
  return sign == "-" and 0 - v or v, after
end

-- A date rule ("Mm.w.d", "Jn", "n") and its optional "/time" at `pos`.
local function date_at(s, pos)
  local r, after
  local m, w, d, a = s:match("^M(%d%d?)%.(%d)%.(%d)()", pos)
  if m then
    m, w, d = tonumber(m), tonumber(w), tonumber(d)
    if m < 1 or m > 12 or w < 1 or w > 5 or d > 6 then return nil end
    r, after = { kind = "M", month = m, week = w, wday = d }, a
  else
    local j, n, a2 = s:match("^(J?)(%d%d?%d?)()", pos)
    if not j then return nil end
    n = tonumber(n)
    if (j == "J" and (n < 1 or n > 365)) or (j == "" and n > 365) then return nil end
    r, after = { kind = j == "J" and "J" or "n", day = n }, a2
  end
  r.time = 7200
  if s:sub(after, after) == "/" then
    r.time, after = seconds_at(s, after + 1, 167)
    if not r.time then return nil end
  end
  return r, after
end

--- Parses a POSIX TZ string. Returns a rule, or nil and why.
function M.parse(s)
  local std, pos = name_at(s, 1)
  if not std then return nil, "no standard time name" end
  local std_off
  std_off, pos = seconds_at(s, pos, 24)
  if not std_off then return nil, "no standard time offset" end
  -- POSIX offsets are west of UTC; the rule keeps them east, as TZif does (0 - x, not -x:
  -- LuaJIT keeps a -0, which would print as "-0").
  local rule = { std = { offset = 0 - std_off, isdst = false, abbr = std } }
  if pos > #s then return rule end
  local dst
  dst, pos = name_at(s, pos)
  if not dst then return nil, "a bad daylight time name" end
  local dst_off = 3600 - std_off
  local off, after = seconds_at(s, pos, 24)
  if off then dst_off, pos = 0 - off, after end
  rule.dst = { offset = dst_off, isdst = true, abbr = dst }
  if pos > #s then s, pos = s .. ",M3.2.0,M11.1.0", pos end -- POSIX's default: the US rule
  if s:sub(pos, pos) ~= "," then return nil, "no start rule" end
  rule.start, pos = date_at(s, pos + 1)
  if not rule.start or s:sub(pos, pos) ~= "," then return nil, "a bad start rule" end
  rule.stop, pos = date_at(s, pos + 1)
  if not rule.stop or pos <= #s then return nil, "a bad end rule" end
  return rule
end

-- Days from 1970-01-01 of a rule's date in `year`.
local function rule_day(r, year)
  if r.kind == "M" then
    local first = utc.days(year, r.month, 1)
    local first_wday = (first + 4) % 7              -- 0 = Sunday; 1970-01-01 was a Thursday
    local day = 1 + (r.wday - first_wday) % 7 + (r.week - 1) * 7
    local last = utc.month_days(year, r.month)
    while day > last do day = day - 7 end           -- week 5: the last such day
    return first + day - 1
  end
  local jan1 = utc.days(year, 1, 1)
  if r.kind == "J" then                             -- 1 to 365, February 29 never counted
    local leap = utc.month_days(year, 2) == 29
    return jan1 + r.day - 1 + ((leap and r.day >= 60) and 1 or 0)
  end
  return jan1 + r.day                               -- 0 to 365, February 29 counted
end

--- The type ({ offset, isdst, abbr }) the rule gives at epoch seconds `t`.
function M.at(rule, t)
  if not rule.dst then return rule.std end
  local year = utc.civil(t + rule.std.offset)
  -- Start is in standard time, end in daylight time, each at its own year's date.
  local start = rule_day(rule.start, year) * 86400 + rule.start.time - rule.std.offset
  local stop = rule_day(rule.stop, year) * 86400 + rule.stop.time - rule.dst.offset
  local in_dst
  if start < stop then in_dst = t >= start and t < stop        -- northern hemisphere
  else in_dst = not (t >= stop and t < start) end               -- southern: summer spans new year
  return in_dst and rule.dst or rule.std
end

return M
