--- Reading server ids from a file or stdin: one or more per line, separated by blanks or
-- commas; `#` starts a comment. Duplicates are kept out, order is kept.
-- @module cloud.cli.idfile
local M = {}

--- Ids in `text`, in order, each once.
function M.parse(text)
  local ids, seen = {}, {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("#.*$", "")
    for id in line:gmatch("[^%s,]+") do
      if not seen[id] then
        seen[id] = true
        ids[#ids + 1] = id
      end
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
    if not f then return nil, "cannot read " .. path .. ": " .. tostring(err):gsub("^" .. path:gsub("%p", "%%%0") .. ": ", "") end
    text = f:read("*a")
    f:close()
  end
  if text == nil then return nil, "cannot read " .. path end
  return M.parse(text)
end

return M
