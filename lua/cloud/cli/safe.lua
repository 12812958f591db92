--- Text from the cloud made safe to print on a terminal. Names, statuses, error codes,
-- messages, request ids and job ids come from the cloud, and a control byte among them
-- (ESC starting an escape sequence, CR rewriting the line, BEL, NUL, a C1 control) would
-- act on the user's terminal. Every one is written as \xNN instead, as is any byte that
-- is not part of valid UTF-8; the rest is kept as it is. The CLI prints nothing from the
-- cloud without this.
-- @module cloud.cli.safe
local M = {}

local byte, format = string.byte, string.format

local function hex(c) return format("\\x%02x", c) end

-- The length of the valid UTF-8 sequence at i of s whose lead byte is c (>= 0xC2), or nil.
local function sequence(s, i, c)
  local n = c < 0xE0 and 2 or c < 0xF0 and 3 or c < 0xF5 and 4 or nil
  if not n then return nil end
  for k = i + 1, i + n - 1 do
    local d = byte(s, k)
    if not d or d < 0x80 or d > 0xBF then return nil end
  end
  return n
end

--- `s` (any value; nil is "-") as text safe to print, on one line.
function M.text(s)
  if s == nil then return "-" end
  s = tostring(s)
  -- Printable ASCII, the usual case, is returned as it is.
  if not s:find("[%z\1-\31\127-\255]") then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = byte(s, i)
    if c >= 32 and c < 127 then
      local j = s:find("[%z\1-\31\127-\255]", i) or n + 1
      out[#out + 1] = s:sub(i, j - 1)
      i = j
    elseif c >= 0xC2 then
      local len = sequence(s, i, c)
      -- U+0080..U+009F (C2 80..C2 9F) are the C1 controls: escaped like the rest.
      if len and not (c == 0xC2 and byte(s, i + 1) < 0xA0) then
        out[#out + 1] = s:sub(i, i + len - 1)
        i = i + len
      else
        out[#out + 1] = hex(c)
        i = i + 1
      end
    else
      out[#out + 1] = hex(c)
      i = i + 1
    end
  end
  return table.concat(out)
end

return M
