--- Checks a Lua pattern's syntax up front. string.find only reports a malformed pattern
-- when matching reaches the bad part ("web[" against "" or "db-1" is fine), so trying it
-- on a sample string cannot tell; this walks the pattern as lstrlib.c does.
-- @module cloud.op.pattern
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

-- The cost of matching a pattern, bounded. Lua's matcher backtracks: each `*`, `+` or `-`
-- item followed by more pattern tries every length the name allows, so k of them against
-- a name of n bytes can take C(n + k, k) tries, and each `?` doubles that; an unanchored
-- pattern starts again at every position. `.-.-.-.-.-.-.-.-x` against 30 bytes takes
-- seconds, four times more for each term. A pattern is taken only when that bound, for a
-- name of NAME_BYTES, stays under BUDGET steps (about ten milliseconds); a longer name
-- from the cloud is matched only as far as the budget allows (see M.max_name).
local BUDGET = 1e7
local NAME_BYTES = 128 -- ECS names run to 128 characters at most
local MAX_PATTERN = 256 -- bytes

-- The pattern's shape for the bound: anchored at the start, the number of repeated items
-- that more pattern follows (a last one, before an optional `$` and closing `)`, tries
-- its lengths once), and the number of `?` items. Expects a pattern M.check accepts.
local function shape(p)
  local i, n = 1, #p
  local anchored = p:sub(1, 1) == "^"
  if anchored then i = 2 end
  local repeats, optional = 0, 0
  while i <= n do
    local c = p:sub(i, i)
    local single = true -- an item that may take a quantifier
    if c == "%" then
      local d = p:sub(i + 1, i + 1)
      if d == "b" then
        i, single = i + 4, false
      elseif d == "f" then
        i, single = class_end(p, i + 2), false
      else
        i = i + 2
      end
    elseif c == "[" then
      i = class_end(p, i)
    elseif c == "(" or c == ")" then
      i, single = i + 1, false
    elseif c == "$" and i == n then
      i, single = i + 1, false
    else
      i = i + 1
    end
    local q = single and p:sub(i, i) or ""
    if q == "?" then
      optional = optional + 1
      i = i + 1
    elseif q == "*" or q == "+" or q == "-" then
      i = i + 1
      local rest = p:sub(i):gsub("^%)+", "")
      if rest ~= "" and rest ~= "$" then repeats = repeats + 1 end
    end
  end
  return anchored, repeats, optional
end

-- The bound on steps matching a pattern of this shape against a name of `len` bytes.
local function bound(anchored, repeats, optional, len)
  local tries = 1
  for k = 1, repeats do tries = tries * (len + k) / k end -- C(len + repeats, repeats)
  return (anchored and 1 or len + 1) * tries * 2 ^ optional
end

--- Returns true when matching `p` (a well-formed pattern) against a server name costs
-- at most the budget, else nil and why.
function M.affordable(p)
  if #p > MAX_PATTERN then
    return nil, ("is longer than %d bytes"):format(MAX_PATTERN)
  end
  local anchored, repeats, optional = shape(p)
  if bound(anchored, repeats, optional, NAME_BYTES) > BUDGET then
    return nil, ("is too costly to match (%d repeated items with more pattern after them, %d optional"
      .. " ones%s): each multiplies the work; use fewer%s"):format(repeats, optional,
      anchored and "" or ", unanchored", anchored and "" or " or anchor it with '^'")
  end
  return true
end

--- The longest name `p` (an affordable pattern) is matched against within the budget.
function M.max_name(p)
  local anchored, repeats, optional = shape(p)
  local lo, hi = NAME_BYTES, NAME_BYTES
  while hi < 2 ^ 30 and bound(anchored, repeats, optional, hi * 2) <= BUDGET do hi = hi * 2 end
  hi = hi * 2
  while hi - lo > 1 do -- bound(lo) within, bound(hi) over (or past 2^31)
    local mid = math.floor((lo + hi) / 2)
    if bound(anchored, repeats, optional, mid) <= BUDGET then lo = mid else hi = mid end
  end
  return lo
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
