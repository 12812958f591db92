--- Checks a Lua pattern's syntax up front. string.find only reports a malformed pattern
-- when matching reaches the bad part ("web[" against "" or "db-1" is fine), so trying it
-- on a sample string cannot tell; this walks the pattern as lstrlib.c does.
-- @module cloud.pattern
local M = {}

local MAX_CAPTURES = 32 -- LUA_MAXCAPTURES

-- Index just past the class starting at i ("[" at i), or nil when it has no "]".
local function class_end(p, i)
  local j = i + 1
  if p:sub(j, j) == "^" then j = j + 1 end
  repeat -- the first character is taken whatever it is: "[]]" is a class of "]"
    if j > #p then return nil end
    local c = p:sub(j, j)
    j = j + 1
    if c == "%" then
      if j > #p then return nil end
      j = j + 1
    end
  until p:sub(j, j) == "]"
  return j + 1
end

--- Returns true when `p` is a well-formed Lua pattern, else nil and what is wrong.
function M.check(p)
  -- string.find takes a pattern without any of these as plain text ("a)" finds "a)").
  if not p:find("[%^%$%*%+%?%.%(%[%%%-]") then return true end
  local i, n = 1, #p
  local captures, open = 0, {} -- open: stack of capture numbers; closed[k] = true
  local closed = {}
  while i <= n do
    local c = p:sub(i, i)
    if c == "%" then
      local d = p:sub(i + 1, i + 1)
      if d == "" then return nil, "malformed pattern (ends with '%')" end
      if d == "b" then
        if i + 3 > n then return nil, "malformed pattern (missing arguments to '%b')" end
        i = i + 4
      elseif d == "f" then
        if p:sub(i + 2, i + 2) ~= "[" then return nil, "missing '[' after '%f' in pattern" end
        i = class_end(p, i + 2)
        if not i then return nil, "malformed pattern (missing ']')" end
      elseif d:match("%d") then
        local k = tonumber(d)
        if k == 0 or not closed[k] then return nil, "invalid capture index %" .. d end
        i = i + 2
      else
        i = i + 2
      end
    elseif c == "[" then
      i = class_end(p, i)
      if not i then return nil, "malformed pattern (missing ']')" end
    elseif c == "(" then
      captures = captures + 1
      if captures > MAX_CAPTURES then return nil, "too many captures" end
      open[#open + 1] = captures
      i = i + 1
    elseif c == ")" then
      if #open == 0 then return nil, "invalid pattern capture (unmatched ')')" end
      closed[table.remove(open)] = true
      i = i + 1
    else
      i = i + 1
    end
  end
  if #open > 0 then return nil, "unfinished capture (missing ')')" end
  return true
end

--- True when `p` has a `-` that Lua reads as the lazy repetition operator (not escaped as
-- `%-`, not inside a `[...]` class): "^web-000" is "^we" then "b" repeated lazily, then
-- "000", so it matches no "web-000x". Names often have dashes; a pattern that selects
-- nothing and has one deserves a hint.
function M.has_bare_dash(p)
  local i, n = 1, #p
  while i <= n do
    local c = p:sub(i, i)
    if c == "%" then
      i = i + 2
    elseif c == "[" then
      i = class_end(p, i) or n + 1
    elseif c == "-" and i > 1 then
      return true
    else
      i = i + 1
    end
  end
  return false
end

--- The hint for a name pattern that selected nothing, or nil.
function M.hint(p)
  if type(p) == "string" and M.has_bare_dash(p) then
    return "'-' is a Lua pattern operator (lazy repetition): write '%-' for a dash, e.g. '"
      .. (p:gsub("%%%-", "\0"):gsub("%-", "%%-"):gsub("\0", "%%-")) .. "'"
  end
end

return M
