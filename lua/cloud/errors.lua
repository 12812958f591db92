--- One error model. A caller's mistake is raised, through `argument` only, as an error
-- object whose text starts with the caller's `file:line`; a failure of the world is
-- returned as `nil, err`. Both are `Error` objects: `code`, `message`, `status`,
-- `request_id` and a `kind`, so that a program (the CLI among them) decides by kind and
-- field, never by the wording of a message.
-- @module cloud.errors
-- @usage
-- local errors = require "cloud.errors"
-- local ok, e = pcall(client.stop_ecs, client, { ids = ids, type = "SOFTLY" })
-- if errors.kind(e) == "argument" then print(e.field, e.problem) end -- "type", "must be ..."
-- local res, err = client:stop_ecs{ filter = { status = "ACTIVE" }, max_servers = 100 }
-- if not res and err.kind == "refused" then print(tostring(err)) end
local M = {}

--- The kinds of error, each a key of this set (`errors.KINDS[e.kind]` is true for every
-- `Error`). A program decides by kind, then by `code`.
-- @table KINDS
-- @field argument raised: the caller passed something wrong; `field` names it.
-- @field config returned: credentials, project, region or endpoint missing or unusable
--   (from the environment or the credentials file), or an nginx shared dictionary full.
-- @field refused returned: the library would not act (more servers than `max_servers`).
-- @field transport no HTTP answer: connect, DNS, TLS, timeout, dropped connection, an
--   answer too large.
-- @field cloud the cloud answered with an error (its own code), or with an answer that
--   cannot be trusted.
-- @field interrupted raised: Ctrl-C during a stop (or SIGTERM or SIGHUP, once the program
--   trapped them: core.trap_signals); `result` holds what is known so far. Also the
--   failure of a server whose stop call was not sent because the process was shutting
--   down (`cloud.shutdown`).
-- @field record returned: the record could not be written (disk full, I/O error); the
--   operation sent nothing more, and `result` holds the outcome of what it had sent.
M.KINDS = { argument = true, config = true, refused = true, transport = true, cloud = true,
            interrupted = true, record = true }

--- The library's own codes (`Error.code`, `failure.code`), with their kinds. Any other code
-- is the cloud's (`"Ecs.0114"`, `"APIGW.0301"`, ...), kind `cloud`; an error answer without
-- a code gets `"HTTP.<status>"`.
--
-- - `cloud.argument` (argument): a malformed call (raised).
-- - `cloud.no_credentials` (config): no AK/SK in the options, the environment or
--   the credentials file.
-- - `cloud.no_project_id` (config): no project id anywhere.
-- - `cloud.no_region` (config): no region and no endpoints.
-- - `cloud.no_endpoint` (config): a stop for a service the client has no endpoint
--   for.
-- - `cloud.bad_environment` (config): a project id, region or endpoint from the
--   environment or the credentials file that cannot be one (the message names where).
-- - `cloud.shared_dict` (config): `cloud.nginx.once` could not record its mark.
-- - `cloud.max_servers` (refused): more servers than `max_servers` would be
--   stopped; nothing was sent.
-- - `cloud.interrupted` (interrupted): Ctrl-C during a stop (raised, with
--   `result`).
-- - `cloud.shutdown` (interrupted): the server's stop call was not sent because the
--   process began shutting down (inside nginx: `ngx.worker.exiting()`); nothing was
--   accepted for it (a failure of the result, never raised).
-- - `cloud.record_exists` (refused): something is at the record's path already.
-- - `cloud.record` (config): the record cannot be created, or read (not a regular
--   file, too large, no record of this tool).
-- - `cloud.fleet_repeat` (refused): two targets of a fleet turned out to be the same
--   cloud and project once their projects were found through IAM; nothing was sent.
-- - `cloud.record_write` (record): a write to the record failed (`errno` holds the
--   system's number); nothing more was sent, `result` holds what is known.
-- - `cloud.schedule_state` (config): a schedule's state file cannot be read or is not
--   one (the message names it); nothing was sent for its schedule and target.
-- - `cloud.schedule_state_write` (record): a schedule's state file (or its directory)
--   could not be written; nothing more was sent for its schedule and target.
-- - `cloud.schedule_busy` (refused): another run holds the lock of a schedule and target.
-- - `cloud.connect` (transport): no connection (refused, unreachable), or a proxy
--   that could not be reached or refused the tunnel (the message names it).
-- - `cloud.dns` (transport): the endpoint's host name does not resolve; not
--   retried.
-- - `cloud.timeout` (transport): no answer within `timeout`.
-- - `cloud.connection_dropped` (transport): the connection closed before the
--   answer was whole.
-- - `cloud.response_too_large` (transport): an answer larger than `max_response`.
-- - `cloud.tls` (transport): the certificate was refused, or TLS failed.
-- - `cloud.transport` (transport): any other failure of the transfer.
-- - `cloud.bad_response` (cloud): the answer was not the JSON expected.
-- - `cloud.wait_timeout` (cloud): the job was still running at `wait_timeout`;
--   the server may yet stop.
-- - `cloud.sub_job_failed` (cloud): the server's sub-job failed without a code of
--   its own.
-- - `cloud.unconfirmed` (cloud): no outcome could be confirmed for the server.
-- @table codes

-- The library's own codes and their kinds; any other code is the cloud's.
local KIND_OF_CODE = {
  ["cloud.argument"] = "argument",
  ["cloud.no_credentials"] = "config", ["cloud.no_project_id"] = "config", ["cloud.no_region"] = "config",
  ["cloud.no_endpoint"] = "config", ["cloud.unknown_region"] = "config", ["cloud.bad_environment"] = "config",
  ["cloud.max_servers"] = "refused", ["cloud.interrupted"] = "interrupted",
  ["cloud.shutdown"] = "interrupted",
  ["cloud.record_exists"] = "refused", ["cloud.record"] = "config", ["cloud.record_target"] = "refused",
  ["cloud.record_write"] = "record", ["cloud.fleet_repeat"] = "refused",
  ["cloud.schedule_state"] = "config", ["cloud.schedule_state_write"] = "record",
  ["cloud.schedule_busy"] = "refused",
  ["cloud.connect"] = "transport", ["cloud.dns"] = "transport", ["cloud.timeout"] = "transport",
  ["cloud.connection_dropped"] = "transport", ["cloud.response_too_large"] = "transport",
  ["cloud.tls"] = "transport", ["cloud.transport"] = "transport",
}

--- An error: the metatable of every error the library raises or returns. `tostring(e)`
-- gives `"code: message (HTTP status) [request id]"` (see `format`), and for kind
-- `argument` the raised text: `"app.lua:12: client:stop_ecs: option 'ids[2]' must be
-- ..."`, starting at the caller's line. No field ever holds a secret.
-- @table Error
-- @tfield string code the library's (`codes`) or the cloud's.
-- @tfield string message what went wrong, in words.
-- @tfield string kind one of `KINDS`.
-- @tfield[opt] int status the HTTP status of the answer, when there was one.
-- @tfield[opt] string request_id the cloud's `X-Request-Id`, when there was one.
-- @tfield[opt] {table,...} details the finer codes a service error's answer gave in
--   `error.details`, as `{ {code =, message =}, ... }`.
-- @tfield[opt] string proxy kind `transport`: the proxy the call failed at
--   (`"http://host:port"`, no user or password), when it was one; the message says so.
-- @tfield[opt] string where kind `argument`: the function called (`"client:stop_ecs"`).
-- @tfield[opt] string field kind `argument`: the option at fault (`"type"`,
--   `"filter.name"`, `"ids[2]"`, `"endpoints.ecs"`), nil when the whole call is wrong.
-- @tfield[opt] string problem kind `argument`: what is wrong with it.
-- @tfield[opt] string position kind `argument`: the caller's `"file:line: "`.
-- @tfield[opt] int count code `cloud.max_servers`: how many servers would have been acted on.
-- @tfield[opt] int limit code `cloud.max_servers`: the `max_servers` given.
-- @tfield[opt] result result kind `interrupted`: the stop's result so far (the jobs
--   already accepted may still complete).
local Error = {}
Error.__index = Error
M.Error = Error

--- `"code: message (HTTP status) [request id]"` for any table with those fields: an
-- `Error`, or a `failure` of a result (a plain table, without the metatable).
-- @tparam table e a table with `code` and `message`, and maybe `status` and `request_id`
-- @treturn string the line
function M.format(e)
  local s = tostring(e.code) .. ": " .. tostring(e.message)
  if e.status then s = s .. " (HTTP " .. tostring(e.status) .. ")" end
  if e.request_id then s = s .. " [request " .. tostring(e.request_id) .. "]" end
  return s
end

function Error:__tostring()
  if self.kind == "argument" then return self.position .. self.message end
  return M.format(self)
end

--- A failure of the world, to return as `nil, err`. `kind` defaults from the code: the
-- library's own codes have theirs (`codes`); any other code is the cloud's.
-- @tparam string code a code of `codes`, or the cloud's
-- @tparam string message what went wrong
-- @tparam[opt] int status the HTTP status
-- @tparam[opt] string request_id the cloud's request id
-- @tparam[opt] string kind one of `KINDS`, instead of the code's
-- @treturn Error the error
function M.new(code, message, status, request_id, kind)
  return setmetatable({ code = code, message = message, status = status, request_id = request_id,
                        kind = kind or KIND_OF_CODE[code] or "cloud" }, Error)
end

-- A byte of a quoted value as the message shows it: quote and backslash escaped, control
-- bytes as decimal escapes (a message stays one line, and no terminal control gets through).
local function escape(c)
  if c == '"' or c == "\\" then return "\\" .. c end
  return ("\\%03d"):format(c:byte())
end

--- A caller's value (a key, a name) in double quotes for a message, at most `n` bytes of it:
-- a value may be of any length, and a message quoting it whole could fill a log line with
-- it. Cut on a UTF-8 character boundary, followed by `...` and the whole length.
-- @tparam string s the value (anything else is turned into a string first)
-- @tparam[opt=64] int n the most bytes of it shown
-- @treturn string `"abc"`, or `"abcd"... (300 bytes)` when cut
function M.quote_bounded(s, n)
  s, n = tostring(s), n or 64
  local len, shown = #s, s
  if len > n then
    local i = n
    -- Back over continuation bytes (10xxxxxx), so no character is split.
    while i > 0 and s:byte(i + 1) >= 0x80 and s:byte(i + 1) < 0xC0 do i = i - 1 end
    shown = s:sub(1, i)
  end
  local quoted = '"' .. shown:gsub('[%c"\\]', escape) .. '"'
  if shown == s then return quoted end
  return ("%s... (%d bytes)"):format(quoted, len)
end

--- Whether a raised value is an interruption: Ctrl-C (the interpreter raises the string
-- "interrupted!"), SIGTERM or SIGHUP in the CLI (raised the same way), or an `Error` of
-- kind `interrupted` made of one.
-- @param v any raised value
-- @treturn boolean
function M.is_interruption(v)
  if type(v) == "string" then return v:find("interrupted!$") ~= nil end
  return M.kind(v) == "interrupted"
end

--- What the interpreter raises on Ctrl-C, and this library on SIGTERM and SIGHUP.
M.INTERRUPTED = "interrupted!"

--- Raises an interruption as Ctrl-C does (the interpreter's own "interrupted!"), so that
-- one path handles Ctrl-C, SIGTERM and SIGHUP alike (`is_interruption`).
-- @raise always
function M.interrupt()
  error(M.INTERRUPTED, 0)
end

--- The kind of any raised or returned value: an Error's kind, or nil for anything else
-- (a plain string raised by other code is not one of ours).
-- @param e any value, typically what `pcall` caught
-- @treturn ?string one of `KINDS`, or nil
function M.kind(e)
  if getmetatable(e) == Error then return e.kind end
  return nil
end

-- The folder this file was loaded from: frames from files in it and its folders are the
-- library's own, and an argument error points past them, at the caller. The command
-- line (cli/) is a caller of the library, not part of it.
local LIBRARY_DIR = (debug.getinfo(1, "S").source:match("^@(.*[/\\])[^/\\]+$"))

local function is_library(info)
  if info.what == "C" then return true end
  local src = info.source:match("^@(.*)$")
  if not src or not LIBRARY_DIR then return false end
  return src:sub(1, #LIBRARY_DIR) == LIBRARY_DIR and not src:find("^cli[/\\]", #LIBRARY_DIR + 1)
end

-- "file:line: " of the first frame outside the library, or "" when there is none.
local function caller_position()
  local level = 3 -- above caller_position and argument
  while true do
    local info = debug.getinfo(level, "Sl")
    if not info then return "" end
    if not is_library(info) then
      if info.currentline and info.currentline > 0 then
        return ("%s:%d: "):format(info.short_src, info.currentline)
      end
      return ""
    end
    level = level + 1
  end
end

--- Raises a caller's mistake, as the library's checks do. The text reads
-- `"file:line: where: option 'field' problem"`, with the position of the first caller
-- outside the library's folder.
-- @tparam string where the function called (`"client:stop_ecs"`)
-- @tparam ?string field the option (`"type"`, `"filter.name"`, `"ids[3]"`); nil when the
--   whole call is wrong
-- @tparam string problem what is wrong with it
-- @raise always: an `Error` of kind `argument`, code `cloud.argument`
function M.argument(where, field, problem)
  local message = field and ("%s: option '%s' %s"):format(where, field, problem)
    or ("%s: %s"):format(where, problem)
  error(setmetatable({ code = "cloud.argument", kind = "argument", where = where, field = field,
                       problem = problem, message = message, position = caller_position() }, Error), 0)
end

return M
