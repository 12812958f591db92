--- Time zones from the system's tz database (/usr/share/zoneinfo, RFC 8536 TZif files,
-- versions 1 to 4, fat or slim): local time of an instant, and the instant of a local
-- time. Instants past the file's last transition follow its footer's POSIX TZ rule
-- (cloud.base.tzrule). Pure Lua for 5.4 and LuaJIT alike: bytes are decoded by hand
-- (LuaJIT has no string.unpack) into doubles, exact below 2^53.
-- @module cloud.base.tz
local core = require "cloud.core"
local tzrule = require "cloud.base.tzrule"
local utc = require "cloud.base.utc"

local floor = math.floor

local M = {}

M.DIR = "/usr/share/zoneinfo"
-- The largest zone file in tzdata 2025 is under 4 KB (fat); a bound, not a guess of size.
local MAX_BYTES = 256 * 1024

local Zone = {}
Zone.__index = Zone

local cache = {}

local function u32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

local function s32(s, i)
  local v = u32(s, i)
  if v >= 2147483648 then v = v - 4294967296 end
  return v
end

-- A signed 64-bit big-endian value: the high word signed, so the sum never leaves the
-- range of a double's exact integers for any real transition time.
local function s64(s, i)
  return s32(s, i) * 4294967296 + u32(s, i + 4)
end

-- The counts of a TZif header at `pos`, or nil when there is none.
local function header(s, pos)
  if s:sub(pos, pos + 3) ~= "TZif" or #s < pos + 43 then return nil end
  local h = { version = s:sub(pos + 4, pos + 4) }
  local names = { "isutcnt", "isstdcnt", "leapcnt", "timecnt", "typecnt", "charcnt" }
  for k, name in ipairs(names) do h[name] = u32(s, pos + 20 + (k - 1) * 4) end
  return h
end

local function body_size(h, tsize)
  return h.timecnt * tsize + h.timecnt + h.typecnt * 6 + h.charcnt
    + h.leapcnt * (tsize + 4) + h.isstdcnt + h.isutcnt
end

-- Transitions and types of the data block at `pos` (after its header), with times of
-- `tsize` bytes (4 in version 1, 8 after).
local function body(s, pos, h, tsize)
  if h.typecnt == 0 or #s < pos + body_size(h, tsize) - 1 then return nil end
  local times, idx, types = {}, {}, {}
  local read = tsize == 8 and s64 or s32
  for k = 1, h.timecnt do times[k] = read(s, pos + (k - 1) * tsize) end
  pos = pos + h.timecnt * tsize
  for k = 1, h.timecnt do
    idx[k] = s:byte(pos + k - 1) + 1
    if idx[k] > h.typecnt then return nil end
  end
  pos = pos + h.timecnt
  local chars = s:sub(pos + h.typecnt * 6, pos + h.typecnt * 6 + h.charcnt - 1)
  for k = 1, h.typecnt do
    local p = pos + (k - 1) * 6
    local at = s:byte(p + 5) + 1
    types[k] = { offset = s32(s, p), isdst = s:byte(p + 4) ~= 0,
                 abbr = chars:match("^[^%z]*", at) or "" }
  end
  return { times = times, idx = idx, types = types }
end

-- Parses a whole TZif file; nil and why when it is none.
local function parse(s)
  local h = header(s, 1)
  if not h then return nil, "not a TZif file" end
  if h.version == "\0" then
    local b = body(s, 45, h, 4)
    if not b then return nil, "a TZif file cut short" end
    return b
  end
  local pos = 45 + body_size(h, 4)
  local h2 = header(s, pos)
  if not h2 then return nil, "a TZif file without its 64-bit part" end
  local b = body(s, pos + 44, h2, 8)
  if not b then return nil, "a TZif file cut short" end
  local footer = s:match("^\n([^\n]*)\n", pos + 44 + body_size(h2, 8))
  if footer and footer ~= "" then
    local rule, why = tzrule.parse(footer)
    if not rule then return nil, "a TZif footer that is no POSIX TZ rule (" .. why .. ")" end
    b.rule = rule
  end
  return b
end

-- Names as the tz database spells them: no "..", no absolute path, no odd bytes.
local function good_name(name)
  return type(name) == "string" and name:match("^[%w_+%-][%w_+%-/]*$") ~= nil
    and not name:find("..", 1, true) and not name:find("//", 1, true) and #name <= 255
end

--- Loads the zone called `name` ("Europe/Berlin", "UTC"), once per process.
-- @return a zone, or nil and why
function M.load(name)
  if not good_name(name) then
    return nil, ("%q is no time zone name (letters, digits, _ + - and /, no \"..\")"):format(tostring(name))
  end
  if cache[name] then return cache[name] end
  local text, why = core.read_file(M.DIR .. "/" .. name, MAX_BYTES)
  local data
  if text then
    data, why = parse(text)
  elseif name == "UTC" then
    data = { times = {}, idx = {}, types = { { offset = 0, isdst = false, abbr = "UTC" } } }
  end
  if not data then
    return nil, ("unknown time zone %q: %s"):format(name, tostring(why))
  end
  data.name = name
  local zone = setmetatable(data, Zone)
  cache[name] = zone
  return zone
end

-- The type in effect at `t`: offset, isdst, abbr.
function Zone:type_at(t)
  local times = self.times
  local n = #times
  if n == 0 or t < times[1] then
    if n == 0 and self.rule then return tzrule.at(self.rule, t) end
    return self.types[1] -- RFC 8536: before the first transition, the first type
  end
  if t >= times[n] and self.rule then return tzrule.at(self.rule, t) end
  local lo, hi = 1, n -- the last transition at or before t
  while lo < hi do
    local mid = floor((lo + hi + 1) / 2)
    if times[mid] <= t then lo = mid else hi = mid - 1 end
  end
  return self.types[self.idx[lo]]
end

--- Local civil time of epoch seconds `t`: { year, month, day, hour, min, sec, wday (ISO,
-- 1 = Monday), offset (seconds east of UTC), isdst, abbr }.
function Zone:to_local(t)
  local ty = self:type_at(t)
  local y, mon, d, h, mi, s, wday = utc.civil(t + ty.offset)
  return { year = y, month = mon, day = d, hour = h, min = mi, sec = s, wday = wday,
           offset = ty.offset, isdst = ty.isdst, abbr = ty.abbr }
end

--- Epoch seconds of a local time, and how it was found: "exact"; "gap" for a time the
-- clock skipped (summer time begins), which means the instant the clock jumped;
-- "ambiguous" for a time the clock showed twice (summer time ends), which means the
-- first of the two.
function Zone:from_local(y, mon, d, hour, min)
  local wall = utc.epoch(y, mon, d, hour, min, 0)
  -- Offsets in use within a day either side; zones change at most once a day.
  local found, seen = {}, {}
  for _, probe in ipairs({ wall - 86400, wall, wall + 86400 }) do
    local off = self:type_at(probe).offset
    if not seen[off] then
      seen[off] = true
      local t = wall - off
      if self:type_at(t).offset == off then found[#found + 1] = t end
    end
  end
  table.sort(found)
  if #found == 1 then return found[1], "exact" end
  if #found > 1 then return found[1], "ambiguous" end
  -- In a gap: the offset before is smaller than after, so the transition lies in
  -- [wall - after, wall - before]; find its first second.
  local before = self:type_at(wall - 86400).offset
  local after = self:type_at(wall + 86400).offset
  local lo, hi = wall - after, wall - before
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if self:type_at(mid).offset == before then lo = mid + 1 else hi = mid end
  end
  return lo, "gap"
end

--- The zone's name, as loaded.
function Zone:__tostring()
  return "tz " .. self.name
end

return M
