-- Hostile or broken answers (config key `hostile`), given after the signature check:
--   hostile = { mode = "oversize" | "endless" | "invalid_json" | "wrong_shape" |
--               "bad_content_length" | "reset_mid_body" | "slowloris" | "count" | "control_bytes",
--               shape = "job_without_entities" | "sub_job_without_server_id" | "numbers_for_strings"
--                       | "dot_job_id",
--               apply_to = { action = true, job = true, list = true }, rate = 1, limit = nil,
--               perform = true, bytes = 2 MiB, interval = 0.2, max_seconds = 30, count = "1e9" }
-- count: a list answer whose count is the JSON number text `count` (its servers honest).
-- control_bytes: terminal control bytes (ESC, CR, BEL, NUL) in what the cloud says: listed
-- servers' names and statuses; with perform = false (and on a stop), a call refused with
-- them in the code, message and request id.
-- wrong_shape/dot_job_id: a stop answered with the job id "..".
-- rate is deterministic: of the n eligible calls, exactly ceil(n * rate) are hostile,
-- the first one included. perform = true runs the real handler first (the stop happens,
-- only its answer is broken); false answers without touching any state.
local config = require "fakecloud.config"
local json = require "fakecloud.json"
local ids = require "fakecloud.ids"

local M = {}
M.__index = M

local MODES = { oversize = true, endless = true, invalid_json = true, wrong_shape = true,
                bad_content_length = true, reset_mid_body = true, slowloris = true, count = true,
                control_bytes = true }
-- The calls each shape bends; elsewhere the answer stays honest.
local SHAPES = { job_without_entities = { job = true }, sub_job_without_server_id = { job = true },
                 numbers_for_strings = { action = true, job = true }, dot_job_id = { action = true } }
-- The calls each mode other than wrong_shape can bend (all when absent).
local ROUTES = { count = { list = true }, control_bytes = { action = true, list = true } }

-- Streams still being written; module level so a reset cannot make it negative.
M.active = 0

function M.new(h)
  local v = config.val
  h = v(h) or {}
  local self = setmetatable({ seen = 0, given = 0 }, M)
  self.mode = v(h.mode)
  if self.mode == nil or self.mode == "" or self.mode == "off" then
    self.mode = nil
    return self
  end
  if not MODES[self.mode] then error("hostile.mode: unknown mode " .. tostring(self.mode)) end
  self.shape = v(h.shape) or "job_without_entities"
  if self.mode == "wrong_shape" and not SHAPES[self.shape] then
    error("hostile.shape: unknown shape " .. tostring(self.shape))
  end
  local apply = v(h.apply_to) or {}
  self.apply_to = {}
  for _, r in ipairs({ "action", "job", "list" }) do self.apply_to[r] = v(apply[r]) ~= false end
  self.rate = tonumber(v(h.rate)) or 1
  self.limit = tonumber(v(h.limit))
  self.perform = v(h.perform) ~= false
  self.bytes = math.floor(tonumber(v(h.bytes)) or 2 * 1024 * 1024)
  self.interval = tonumber(v(h.interval)) or 0.2
  self.max_seconds = tonumber(v(h.max_seconds)) or 30
  self.count = tostring(v(h.count) or "1e9")
  if not self.count:match("^%-?[%d.eE+%-]+$") then error("hostile.count: not a JSON number: " .. self.count) end
  return self
end

-- Whether this call of route r gets a hostile answer.
function M:plan(r)
  if not self.mode or not self.apply_to[r] then return false end
  if self.limit and self.given >= self.limit then return false end
  self.seen = self.seen + 1
  if math.ceil(self.seen * self.rate) <= math.ceil((self.seen - 1) * self.rate) then return false end
  -- A mode or shape only bends answers it has a way to bend; elsewhere the answer stays honest.
  if self.mode == "wrong_shape" and not SHAPES[self.shape][r] then return false end
  if ROUTES[self.mode] and not ROUTES[self.mode][r] then return false end
  self.given = self.given + 1
  return true
end

-- What the honest answer would have looked like when the handler did not run.
local function stand_in(r)
  if r == "action" then return 200, { job_id = ids.uuid() } end
  if r == "job" then
    return 200, { status = "SUCCESS", job_id = ids.uuid(), job_type = "batchStopServer",
                  entities = { sub_jobs_total = 0, sub_jobs = json.array({}) } }
  end
  return 200, { servers = json.array({}), count = 0 }
end

local function count(S, key) S.stats.hostile[key] = (S.stats.hostile[key] or 0) + 1 end

local function headers_table(status, len, extra)
  local lines = { "HTTP/1.1 " .. status .. " OK", "Content-Type: application/json",
                  "X-Request-Id: " .. ngx.var.request_id, "Date: " .. ngx.http_time(math.floor(ngx.now())),
                  "Connection: close" }
  if len then lines[#lines + 1] = "Content-Length: " .. len end
  for _, l in ipairs(extra or {}) do lines[#lines + 1] = l end
  return table.concat(lines, "\r\n") .. "\r\n\r\n"
end

-- Writes bytes straight to the client (no nginx framing), then drops the connection.
local function raw(head, body)
  local sock, err = ngx.req.socket(true)
  if not sock then
    ngx.log(ngx.ERR, "hostile: no raw socket: ", err)
    return ngx.exit(444)
  end
  sock:send(head .. body)
  return ngx.exit(444)
end

local function set_headers()
  ngx.status = 200
  ngx.header["Content-Type"] = "application/json"
  ngx.header["X-Request-Id"] = ngx.var.request_id
end

-- Streams `next_piece()` until it returns nil, the client leaves, or max_seconds pass.
local function stream(self, next_piece, pause)
  M.active = M.active + 1
  local deadline = ngx.now() + self.max_seconds
  local ok = true
  while true do
    local piece = next_piece()
    if not piece then break end
    ok = ngx.print(piece)
    if ok then ok = ngx.flush(true) end
    -- A failed write means the client is gone: stop instead of writing into the void.
    if not ok then break end
    ngx.update_time()
    if ngx.now() >= deadline then
      ngx.log(ngx.WARN, "hostile: stream cut after ", self.max_seconds, "s")
      break
    end
    if pause > 0 then ngx.sleep(pause) end
  end
  M.active = M.active - 1
  return ngx.exit(ok and 200 or 444)
end

local function bend(shape, r, answer)
  if r == "action" then
    if shape == "numbers_for_strings" and answer.job_id then answer.job_id = 4242 end
    if shape == "dot_job_id" and answer.job_id then answer.job_id = ".." end
    return answer
  end
  if shape == "job_without_entities" then
    answer.entities, answer.status = nil, "SUCCESS"
    answer.error_code, answer.fail_reason = nil, nil
    return answer
  end
  local subs = type(answer.entities) == "table" and answer.entities.sub_jobs
  for i, sub in ipairs(type(subs) == "table" and subs or {}) do
    if shape == "sub_job_without_server_id" then
      sub.entities.server_id = nil
    else
      sub.entities.server_id = 1000 + i
      sub.status = 2
    end
  end
  if shape == "numbers_for_strings" then answer.status = 2 end
  return answer
end

-- respond.send, required on first use: respond requires state, which requires this
-- module, so a require at the top would be a cycle.
local function send(status, body)
  return require("fakecloud.respond").send(status, body)
end

-- Answers call r hostilely. status/answer: the real handler's result (perform), else nil.
function M:answer(S, r, status, answer)
  if not status then status, answer = stand_in(r) end
  local mode = self.mode
  count(S, mode)

  if mode == "wrong_shape" then
    count(S, "wrong_shape." .. self.shape)
    if status == 200 and type(answer) == "table" then answer = bend(self.shape, r, answer) end
    return send(status, answer)
  end
  if mode == "invalid_json" then
    return send(200, "<html>\1\2\255 not json {{{ ")
  end
  if mode == "count" then
    -- The honest answer with its count replaced by any JSON number text (1e400 included).
    local mark = 987654321
    answer.count = mark
    return send(status, (json.encode(answer):gsub(tostring(mark), self.count, 1)))
  end
  if mode == "control_bytes" then
    local dirt = "\27[31m\r\7\0\27]0;pwned\7"
    if r == "list" and self.perform then
      for _, sv in ipairs(answer.servers or {}) do
        sv.name, sv.status = tostring(sv.name) .. dirt, tostring(sv.status) .. dirt
      end
      return send(status, answer)
    end
    -- A refusal (400: not retried) in the service's error shape, bytes and all.
    local body = json.encode({ error = { code = "Ecs.0005" .. dirt, message = "refused" .. dirt .. "\n!" } })
    local head = table.concat({ "HTTP/1.1 400 Bad Request", "Content-Type: application/json",
      "X-Request-Id: req\27[2J\7id", "Content-Length: " .. #body, "Connection: close" }, "\r\n")
    return raw(head .. "\r\n\r\n", body)
  end

  local body = type(answer) == "string" and answer or json.encode(answer)
  if mode == "oversize" then
    -- Still a JSON object: the honest fields plus padding up to the configured size.
    local pad = math.max(0, self.bytes - #body)
    body = body:sub(1, -2) .. ',"padding":"' .. string.rep("x", pad) .. '"}'
    return send(status, body)
  elseif mode == "bad_content_length" then
    return raw(headers_table(status, #body + 1000), body)
  elseif mode == "reset_mid_body" then
    return raw(headers_table(status, #body), body:sub(1, math.floor(#body / 2)))
  elseif mode == "slowloris" then
    set_headers()
    ngx.header["Content-Length"] = #body
    local i = 0
    return stream(self, function()
      i = i + 1
      if i <= #body then return body:sub(i, i) end
    end, self.interval)
  else -- endless: a JSON object whose padding string never closes, chunked
    set_headers()
    local first = body:sub(1, -2) .. ',"padding":"'
    local chunk = string.rep("x", 1024)
    return stream(self, function()
      if first then
        local s = first
        first = nil
        return s
      end
      return chunk
    end, 0.02)
  end
end

return M
