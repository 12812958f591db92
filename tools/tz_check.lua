-- Checks cloud.base.tz against Python's zoneinfo (the same tz database, another reader):
-- every zone of zone1970.tab at instants from 1890 to 2103, offset, summer time and
-- abbreviation; and that each local minute read back (from_local) gives its instant, the
-- first one of a doubled time. Not a spec: it reads every zone, and needs python3.
--   LUA_CPATH="build/5.4/?.so;;" lua5.4 tools/tz_check.lua
--   LUA_CPATH="build/luajit/?.so;;" luajit tools/tz_check.lua
-- Prints the counts, and every disagreement; exits 1 when there is one.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local tz = require "cloud.base.tz"

local FIRST, LAST, STEP = -2500000000, 4200000000, 7654321 -- 1890 to 2103, 876 instants

local names = {}
for line in io.lines("/usr/share/zoneinfo/zone1970.tab") do
  local name = line:match("^[^#]%S*%s+%S+%s+(%S+)")
  if name then names[#names + 1] = name end
end
table.sort(names)

local python = [[
import sys, zoneinfo, datetime
first, last, step = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for name in sys.stdin.read().split():
    z = zoneinfo.ZoneInfo(name)
    for t in range(first, last + 1, step):
        d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).astimezone(z)
        print(name, t, int(d.utcoffset().total_seconds()), 1 if d.dst() else 0, d.tzname())
]]
local list, script = os.tmpname(), os.tmpname()
for path, text in pairs({ [list] = table.concat(names, "\n") .. "\n", [script] = python }) do
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end
local p = assert(io.popen(("python3 %s %d %d %d < %s"):format(script, FIRST, LAST, STEP, list)))
local bad, compared, back_bad, back = 0, 0, 0, 0
for _, name in ipairs(names) do
  local z = assert(tz.load(name))
  for t = FIRST, LAST, STEP do
    local want = p:read("*l")
    local l = z:to_local(t)
    local got = ("%s %d %d %d %s"):format(name, t, l.offset, l.isdst and 1 or 0, l.abbr)
    compared = compared + 1
    if got ~= want then
      bad = bad + 1
      print("differs: lua " .. got .. " | python " .. tostring(want))
    end
    local at, how = z:from_local(l.year, l.month, l.day, l.hour, l.min)
    back = back + 1
    if (how == "exact" and at ~= t - l.sec) or (how == "ambiguous" and at > t - l.sec) or how == "gap" then
      back_bad = back_bad + 1
      print(("read back: %s %d gave %s (%s)"):format(name, t, tostring(at), how))
    end
  end
end
p:close()
os.remove(list)
os.remove(script)
print(("%d zones, %d instants: %d differ from zoneinfo; %d local minutes read back, %d wrong")
  :format(#names, compared, bad, back, back_bad))
os.exit((bad == 0 and back_bad == 0) and 0 or 1)
