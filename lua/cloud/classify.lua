--- What an answer of the cloud means: one table for the stop call, sub-jobs, lists and jobs.
-- Built from the error table of the ECS API reference as docs/reference/ECS-BMS.md records it
-- ("Errors"); each row keeps the code and the HTTP status it came from. The reference warns that
-- "the HTTP status may not be accurate", so an answer is classified by its code first and by its
-- status only when the code is absent or not in the table.
--
-- Classes:
--   ok           a 2xx answer that is what it should be (a stop call's carries a job_id)
--   ambiguous    a stop call's 2xx answer without a job_id or a known code: it may have been
--                accepted; look the servers up before sending any again
--   throttled    not accepted (flow control): wait, send the same servers again, slow down
--   retry        a server-side error: send again with backoff
--   retry_later  send again, not sooner than min_delay seconds
--   done         already in the wanted state, once a lookup confirms it (see M.confirm)
--   permanent    never send again; report it (per server when scope is "server")
-- @module cloud.classify
local errors = require "cloud.errors"

local M = {}

--- The rows, in the reference's order. `http` is the reference's HTTP status column for the code.
-- `scope`: "call" when the code is about the call as a whole; "server" when it is about particular
-- servers (in a sub-job, that one; in a call-level answer naming several, the caller must find out
-- which, by a lookup, before sending the others again). `wanted` marks the row meaning "the
-- server's state does not allow the action": done when that state is the one the action wants.
M.rows = {
  { code = "APIGW.0301", http = "401", class = "permanent", scope = "call",
    why = "signature, key or date refused; five in a row lock the key (a clock skew is corrected elsewhere)" },
  { code = "APIGW.0308", http = "429", class = "throttled", scope = "call",
    why = "gateway throttling; honour Retry-After" },
  -- The API Gateway's own error pages spell its codes APIG.*, where the ECS table has APIGW.*:
  -- a cloud may send either, and both mean the same.
  { code = "APIG.0301", http = "401", class = "permanent", scope = "call",
    why = "the gateway's spelling of APIGW.0301: signature, key or date refused" },
  { code = "APIG.0308", http = "429", class = "throttled", scope = "call",
    why = "the gateway's spelling of APIGW.0308: gateway throttling; honour Retry-After" },
  { code = "Common.0024", http = "202", class = "throttled", scope = "call",
    why = "flow control, \"exceeds flow over limit\": not accepted, no job_id" },
  { code = "Common.1503", http = "503", class = "throttled", scope = "call",
    why = "API flow control: too many APIs executing" },
  { code = "Ecs.0603", http = "501", class = "retry_later", min_delay = 60, scope = "server",
    why = "another command is running on the server: try again in 1 minute" },
  { code = "Common.0001", http = "500 / 400", class = "retry", scope = "call", why = "system exception" },
  { code = "Ecs.0002", http = "500 / 400", class = "retry", scope = "call", why = "system exception" },
  { code = "Ecs.1000", http = "500 / 400", class = "retry", scope = "call", why = "system exception" },
  { code = "Ecs.1001", http = "500 / 400", class = "retry", scope = "call", why = "system exception" },
  { code = "Ecs.1002", http = "500 / 400", class = "retry", scope = "call", why = "system exception" },
  { code = "Ecs.0100", http = "400", class = "done", scope = "server", wanted = true,
    why = "the server's status does not allow the action: look it up, the wanted state is no failure" },
  { code = "Ecs.0114", http = "404", class = "permanent", scope = "server", why = "no such server" },
  { code = "Ecs.0614", http = "404", class = "permanent", scope = "server", why = "no such server" },
  { code = "Ecs.0118", http = "400", class = "permanent", scope = "call",
    why = "more servers than a batch allows" },
  { code = "Ecs.0605", http = "400", class = "permanent", scope = "server", why = "server locked" },
  { code = "Ecs.0005", http = "400", class = "permanent", scope = "call", why = "invalid parameter" },
  { code = "Pdp.0001", http = "403", class = "permanent", scope = "call",
    why = "the IAM policy does not allow the action" },
  { code = "Common.0011", http = "400", class = "permanent", scope = "call", why = "no such job id" },
}

local BY_CODE = {}
for _, row in ipairs(M.rows) do BY_CODE[row.code] = row end

--- The state each action leaves a server in: what an Ecs.0100 is "already" for. The reference
-- names stopping one already SHUTOFF and starting one already ACTIVE; a reboot has none.
M.wanted = { stop = "SHUTOFF", start = "ACTIVE" }
local ACTIONS = { stop = true, start = true, reboot = true }

--- The statuses of a job and of its sub-jobs, as the reference's "Jobs" lists them: whether
-- a job in that status has ended, and what an ended sub-job says of its server (`done`: the
-- action happened; `failed`: it did not, with the sub-job's code). A status not listed here
-- (`PENDING_PAYMENT`, or anything new) is reported as the cloud gave it and counts as not
-- ended. The ledger's rule for the C job reader is built from these rows.
-- @table job_rows
M.job_rows = {
  { status = "INIT", ended = false, why = "accepted, not yet started" },
  { status = "RUNNING", ended = false, why = "under way" },
  { status = "SUCCESS", ended = true, sub = "done", why = "ended; a sub-job in it did its server's action" },
  { status = "FAIL", ended = true, sub = "failed", why = "ended; a sub-job in it failed, with its own code" },
}

--- The same rows by what they mean: `listed` (status -> true), `ended` (status -> true for
-- ended ones), `sub_done` and `sub_failed` (the sub-job statuses of an action done and failed).
M.job = { listed = {}, ended = {} }
for _, row in ipairs(M.job_rows) do
  M.job.listed[row.status] = true
  if row.ended then M.job.ended[row.status] = true end
  if row.sub == "done" then M.job.sub_done = row.status end
  if row.sub == "failed" then M.job.sub_failed = row.status end
end

--- The task a listed server shows under way (`OS-EXT-STS:task_state`: "powering-off", ...),
-- or nil when none: the one place that field is read. Spelled with hyphens: the reference
-- writes `powering-off`, some of its readings `powering_off`.
-- @tparam ?table server a server as listed
-- @treturn ?string the task
function M.task_of(server)
  local t = type(server) == "table" and server["OS-EXT-STS:task_state"] or nil
  if type(t) == "string" and t ~= "" then return (t:gsub("_", "-")) end
end

-- A caller's mistake, raised at the caller's line (errors.argument).
local function argument(where, field, problem)
  errors.argument("cloud.classify." .. where, field, problem)
end

local function check_action(where, action)
  if action == nil then return "stop" end
  if not ACTIONS[action] then argument(where, "action", "must be \"stop\", \"start\" or \"reboot\"") end
  return action
end

-- A verdict from a row (or a fallback), for an action.
local function verdict(class, row, fields)
  local v = { class = class, min_delay = row and row.min_delay or 0, row = row,
              scope = row and row.scope or "call" }
  for k, x in pairs(fields) do v[k] = x end
  return v
end

local function from_row(row, action, fields)
  if row.wanted then
    local want = M.wanted[action]
    -- An action with no wanted state (reboot) is simply refused by the server's state.
    if not want then return verdict("permanent", row, fields) end
    fields.confirm = want
  end
  return verdict(row.class, row, fields)
end

-- By status alone, for an absent or unknown code: 2xx as the call expects, 429 throttled (as
-- APIGW.0308), 5xx retried (the reference's "other 500, 502, 503, 504"), anything else refused.
local function by_status(status, has_job_id)
  if status >= 200 and status < 300 then
    if has_job_id == false then return "ambiguous" end
    return "ok"
  end
  if status == 429 then return "throttled" end
  if status >= 500 and status < 600 then return "retry" end
  return "permanent"
end

--- A service code inside a text: the first `Word.0000` it names (a sub-job may carry its code only
-- in entities.errorcode_message, which may itself be JSON), or nil.
function M.code_in(text)
  if type(text) ~= "string" then return nil end
  return text:match("%f[%w](%u%a*%.%d%d%d%d)%f[^%w]")
end

--- Classifies an HTTP answer.
-- @tparam table a `status` (number, required); `code` (the error code of the body, either error
--   shape, or nil); `has_job_id` (for a stop call: whether the body carries a job_id; nil for calls
--   that do not return one); `retry_after` (seconds from the Retry-After header, or nil);
--   `action` ("stop", the default, "start" or "reboot")
-- @treturn table `{ class, min_delay, scope, code, status, row, confirm }`: `row` is the table's
--   row when the code decided, nil when the status did; `confirm` is the state a lookup must
--   show for a "done" verdict.
function M.answer(a)
  if type(a) ~= "table" then argument("answer", nil, "expects a table of the answer's fields") end
  local status, code = a.status, a.code
  if type(status) ~= "number" or status % 1 ~= 0 then argument("answer", "status", "must be an HTTP status") end
  if code ~= nil and type(code) ~= "string" then argument("answer", "code", "must be a string or nil") end
  local retry_after = a.retry_after
  if retry_after ~= nil and (type(retry_after) ~= "number" or retry_after < 0) then
    argument("answer", "retry_after", "must be a number of seconds >= 0")
  end
  local action = check_action("answer", a.action)
  local v
  if a.has_job_id == true then
    -- A job id is the one proof of acceptance: its servers are in a job, and sending them
    -- again would stop them twice, whatever else the answer says.
    v = verdict("ok", nil, { code = code, status = status })
  else
    local row = code and BY_CODE[code]
    if row then
      v = from_row(row, action, { code = code, status = status })
    else
      v = verdict(by_status(status, a.has_job_id), nil, { code = code, status = status })
    end
  end
  if retry_after and (v.class == "throttled" or v.class == "retry" or v.class == "retry_later")
    and retry_after > v.min_delay then
    v.min_delay = retry_after
  end
  return v
end

--- Classifies a FAIL sub-job of a job: by its error_code, else by a code named in its message
-- (entities.errorcode_message or fail_reason). A sub-job has no HTTP status to fall back on, so an
-- unknown or absent code is permanent: reported with what the cloud said, never sent again blindly.
-- @tparam ?string code the sub-job's error_code
-- @tparam[opt] string action "stop" (default), "start" or "reboot"
-- @tparam[opt] string message errorcode_message or fail_reason, searched when code is absent
-- @treturn table `{ class, min_delay, scope, code, row, confirm }` as for M.answer
function M.sub_job(code, action, message)
  if code ~= nil and type(code) ~= "string" then argument("sub_job", "code", "must be a string or nil") end
  action = check_action("sub_job", action)
  if code == nil or code == "" then code = M.code_in(message) end
  local row = code and BY_CODE[code]
  if row then
    local v = from_row(row, action, { code = code })
    v.scope = "server" -- a sub-job is one server's outcome
    return v
  end
  return verdict("permanent", nil, { code = code, scope = "server" })
end

--- What a "done" verdict comes to once its server has been looked up.
-- @tparam table v a verdict of M.answer or M.sub_job with class "done"
-- @tparam ?table server the server as listed (`status`, `OS-EXT-STS:task_state`), nil when not found
-- @treturn string "done" (in the wanted state, no task on it), "wait" (a task is still running on
--   it: look again later) or "permanent" (another state: the refusal stands)
function M.confirm(v, server)
  if type(v) ~= "table" or v.class ~= "done" then argument("confirm", "verdict", "must be a \"done\" verdict") end
  if server == nil then return "permanent" end
  if M.task_of(server) then return "wait" end
  if server.status == v.confirm then return "done" end
  return "permanent"
end

return M
