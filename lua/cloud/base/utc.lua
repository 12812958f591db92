--- UTC times as epoch seconds, from the two forms the cloud writes them in: an HTTP
-- date (a Date or Retry-After header) and an ISO 8601 time (the metadata service's
-- expires_at). The library's one copy of the calendar arithmetic: os.time would read the
-- local time zone. (The emulator counts days its own way, through libc, so that a bug
-- here cannot hide behind the same bug there.)
-- @module cloud.base.utc
local floor = math.floor

local M = {}

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9,
                 Oct = 10, Nov = 11, Dec = 12 }

--- Epoch seconds of a civil date and time in UTC (proleptic Gregorian calendar; month
-- 1-12). Days from the civil date as in Howard Hinnant's `days_from_civil`: years start
-- in March, so the leap day is the last day of a year, and 400 years are 146097 days.
function M.epoch(y, mon, d, h, mi, s)
  if mon <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400                              -- [0, 399]
  local doy = floor((153 * ((mon + 9) % 12) + 2) / 5) + d - 1 -- [0, 365], from March 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468                -- 719468: 0000-03-01 to 1970-01-01
  return days * 86400 + h * 3600 + mi * 60 + s
end

--- Epoch seconds of an IMF-fixdate ("Sun, 22 Nov 2026 10:15:00 GMT"), or nil.
function M.from_http_date(s)
  if not s then return nil end
  local d, mon, y, h, mi, sec = s:match("^%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  return M.epoch(tonumber(y), MONTHS[mon], tonumber(d), tonumber(h), tonumber(mi), tonumber(sec))
end

--- Epoch seconds of an ISO 8601 time with its offset, or nil: "2026-11-29T12:00:00Z" (the
-- metadata service's expires_at), "2026-12-07T09:00+01:00" (a schedule's --at); seconds
-- and their fractions optional, the offset "Z", "+HH:MM" or "+HHMM".
function M.from_iso8601(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  y, mo, d, h, mi = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi)
  if mo < 1 or mo > 12 or d < 1 or d > M.month_days(y, mo) or h > 23 or mi > 59 then return nil end
  local sec, frac = rest:match("^:(%d%d)(%.?%d*)")
  if sec then
    rest = rest:sub(4 + #frac)
    if tonumber(sec) > 59 or frac == "." then return nil end
  end
  local offset = 0
  if rest ~= "Z" then
    local sign, oh, om = rest:match("^([+%-])(%d%d):?(%d%d)$")
    if not sign or tonumber(oh) > 23 or tonumber(om) > 59 then return nil end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
  end
  return M.epoch(y, mo, d, h, mi, tonumber(sec or 0)) + (tonumber("0" .. (frac or "")) or 0) - offset
end

--- Days from 1970-01-01 to a civil date (negative before it).
function M.days(y, mon, d)
  return floor(M.epoch(y, mon, d, 0, 0, 0) / 86400)
end

--- The civil date of a day count from 1970-01-01: year, month, day and ISO weekday
-- (1 = Monday). Hinnant's `civil_from_days`.
function M.civil_from_days(days)
  local z = days + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097                                  -- [0, 146096]
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100)) -- [0, 365], from March 1
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local mon = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (mon <= 2 and 1 or 0)
  return y, mon, d, (days + 3) % 7 + 1                          -- 1970-01-01 was a Thursday
end

--- The civil date and time in UTC of epoch seconds `t` (whole seconds): year, month, day,
-- hour, minute, second, ISO weekday.
function M.civil(t)
  local days = floor(t / 86400)
  local s = t - days * 86400
  local y, mon, d, wday = M.civil_from_days(days)
  return y, mon, d, floor(s / 3600), floor(s % 3600 / 60), s % 60, wday
end

--- Days in a month of a year.
function M.month_days(y, mon)
  if mon == 2 then
    return (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28
  end
  return (mon == 4 or mon == 6 or mon == 9 or mon == 11) and 30 or 31
end

return M
