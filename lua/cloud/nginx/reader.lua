--- A buffered reader over a cosocket with one deadline for the whole answer and
-- bounded lines, so a broken or hostile server can neither stall nor flood us.
-- @module cloud.nginx.reader
local M = {}
local Reader = {}
Reader.__index = Reader

local CHUNK = 16384
local CHUNK_BODY = 65536 -- a body of known length: fewer, larger reads

--- Wraps `sock`; every read must finish before `deadline` (ngx.now() seconds).
function M.new(sock, deadline)
  return setmetatable({ sock = sock, deadline = deadline, buf = "", pos = 1 }, Reader)
end

-- Gives the next socket call only the time left of the whole answer.
function Reader:_arm()
  ngx.update_time()
  local left = self.deadline - ngx.now()
  if left <= 0 then return nil end
  self.sock:settimeout(math.max(1, math.floor(left * 1000)))
  return true
end

-- Appends whatever the peer sends next (at least one byte) to the buffer.
function Reader:_more()
  if not self:_arm() then return nil, "timeout" end
  local data, err = self.sock:receiveany(CHUNK)
  if not data then return nil, err end
  if self.pos > 1 then self.buf, self.pos = self.buf:sub(self.pos), 1 end
  self.buf = self.buf .. data
  return true
end

--- The next line without its CRLF (or bare LF); nil, "too_long" past `limit` bytes,
-- nil, err when the socket fails ("closed", "timeout", ...).
function Reader:line(limit)
  while true do
    local nl = self.buf:find("\n", self.pos, true)
    if nl then
      local line = self.buf:sub(self.pos, nl - 1)
      self.pos = nl + 1
      if line:sub(-1) == "\r" then line = line:sub(1, -2) end
      if #line > limit then return nil, "too_long" end
      return line
    end
    if #self.buf - self.pos + 1 > limit then return nil, "too_long" end
    local ok, err = self:_more()
    if not ok then return nil, err end
  end
end

--- Exactly n bytes. Read piece by piece, each read given only the time left: one
-- sock:receive(n) restarts its timeout at every byte, so a peer trickling the body a byte
-- a second would hold the call for as many seconds as the body has bytes.
function Reader:take(n)
  local have = #self.buf - self.pos + 1
  if have >= n then
    local s = self.buf:sub(self.pos, self.pos + n - 1)
    self.pos = self.pos + n
    return s
  end
  -- Pieces kept apart and joined once: a body of megabytes is not copied at every read.
  local parts, got = { self.buf:sub(self.pos) }, have
  self.buf, self.pos = "", 1
  while got < n do
    if not self:_arm() then return nil, "timeout" end
    local data, err = self.sock:receiveany(math.min(CHUNK_BODY, n - got))
    if not data then return nil, err end
    parts[#parts + 1] = data
    got = got + #data
  end
  return table.concat(parts)
end

--- Everything until the peer closes, at most `limit` bytes (nil, "too_large" beyond).
function Reader:rest(limit)
  local parts, total = { self.buf:sub(self.pos) }, #self.buf - self.pos + 1
  self.buf, self.pos = "", 1
  while true do
    if total > limit then return nil, "too_large" end
    if not self:_arm() then return nil, "timeout" end
    local data, err = self.sock:receiveany(CHUNK)
    if not data then
      if err == "closed" then return table.concat(parts) end
      return nil, err
    end
    parts[#parts + 1] = data
    total = total + #data
  end
end

--- Whether bytes beyond the answer were received (the connection is then not reusable).
function Reader:leftover()
  return #self.buf >= self.pos
end

return M
