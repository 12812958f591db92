--- Terminal questions without luaposix: is an fd a terminal, how wide is it, ask y/N.
-- os.execute's shell inherits all three standard fds, so `test -t N` there sees ours;
-- io.popen replaces only the child's stdout, so `stty size <&2` still reads our stderr.
-- @module cloud.cli.tty
local M = {}

local function succeeded(a, _, c)
  -- Lua 5.4: true/nil, "exit", code; LuaJIT (5.1 ABI): the raw status number.
  if type(a) == "number" then return a == 0 end
  return a == true and (c == nil or c == 0)
end

--- Whether file descriptor `fd` (0, 1 or 2) of this process is a terminal.
function M.isatty(fd)
  return succeeded(os.execute("test -t " .. math.floor(fd)))
end

--- Columns of the terminal on stderr, or `default` (80) when it cannot be told.
function M.columns(default)
  local p = io.popen("stty size <&2 2>/dev/null")
  local out = p and p:read("*a") or ""
  if p then p:close() end
  local cols = tonumber(out:match("^%s*%d+%s+(%d+)"))
  if cols and cols > 0 then return cols end
  cols = tonumber(os.getenv("COLUMNS") or "")
  return (cols and cols > 0) and cols or (default or 80)
end

--- Writes `question` to `err`, reads one line from `input`; true only for y or yes.
-- @param input a file handle (io.stdin)
-- @param err a file handle (io.stderr)
function M.confirm(question, input, err)
  err:write(question, " [y/N] ")
  err:flush()
  local line = input:read("*l")
  if line == nil then err:write("\n") end
  line = (line or ""):lower():gsub("^%s+", ""):gsub("%s+$", "")
  return line == "y" or line == "yes"
end

return M
