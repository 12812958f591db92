--- The days of a schedule's period: "mon".."sun", ranges ("mon-fri", wrapping: "sat-mon"),
-- lists ("mon,wed"), mixes ("mon-wed,fri") and "daily"; lower case.
-- @module cloud.schedule.days
local M = {}

local NUMBER = { mon = 1, tue = 2, wed = 3, thu = 4, fri = 5, sat = 6, sun = 7 }

local ALLOWED = "give mon, tue, wed, thu, fri, sat, sun (lower case), ranges like mon-fri, lists like mon,wed, or daily"

--- Parses `s`. Returns a set of ISO weekdays ({ [1] = true, ... }, 1 = Monday), or nil
-- and what is wrong.
function M.parse(s)
  if s == nil or s == "" then return nil, "names no day: " .. ALLOWED end
  if type(s) ~= "string" then return nil, "must be a string: " .. ALLOWED end
  local set = {}
  for item in (s .. ","):gmatch("([^,]*),") do
    item = item:match("^%s*(.-)%s*$")
    if item == "" then return nil, "has an empty item between commas: " .. ALLOWED end
    local a, b = item:match("^(%a+)%-(%a+)$")
    if item == "daily" then
      for d = 1, 7 do set[d] = true end
    elseif a then
      if not NUMBER[a] then return nil, ("unknown day %q: %s"):format(a, ALLOWED) end
      if not NUMBER[b] then return nil, ("unknown day %q: %s"):format(b, ALLOWED) end
      local d = NUMBER[a]
      while true do -- a range may wrap past Sunday
        set[d] = true
        if d == NUMBER[b] then break end
        d = d % 7 + 1
      end
    elseif NUMBER[item] then
      set[NUMBER[item]] = true
    else
      return nil, ("unknown day %q: %s"):format(item, ALLOWED)
    end
  end
  return set
end

return M
