--- Reading server ids from a file or stdin: one or more per line, separated by blanks or
-- commas; `#` starts a comment. Order is kept; repeats are left to the caller, which
-- merges these with other ids anyway (the library sends each id once).
-- @module cloud.cli.idfile
local M = {}

--- Ids in `text`, in order.
function M.parse(text)
  local ids, n = {}, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:find("#", 1, true) then line = line:gsub("#.*$", "") end
    for id in line:gmatch("[^%s,]+") do
      n = n + 1
      ids[n] = id
    end
  end
  return ids
end

--- Reads ids from `path`, or from `stdin` when path is "-". Returns ids or nil, message.
-- @param stdin file handle used for "-"
function M.read(path, stdin)
  local text
  if path == "-" then
    text = stdin:read("*a")
  else
    local f, err = io.open(path, "rb")
    if not f then
      return nil, "cannot read " .. path .. ": " .. tostring(err):gsub("^" .. path:gsub("%p", "%%%0") .. ": ", "")
    end
    text = f:read("*a")
    f:close()
  end
  if text == nil then return nil, "cannot read " .. path end
  return M.parse(text)
end

return M
