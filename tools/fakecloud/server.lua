-- The signed API: routing, signature check, fault injection, then the handlers.
local state = require "fakecloud.state"
local auth = require "fakecloud.auth"
local jobs = require "fakecloud.jobs"
local actions = require "fakecloud.actions"
local list = require "fakecloud.list"
local respond = require "fakecloud.respond"
local iam_projects = require "fakecloud.iam_projects"

local M = {}

local ROUTES = {
  { "POST", "^/v1/([^/]+)/cloudservers/action/?$", "action", "ecs" },
  { "POST", "^/v1/([^/]+)/baremetalservers/action/?$", "action", "bms" },
  { "GET", "^/v1/([^/]+)/jobs/([^/]+)/?$", "job" },
  { "GET", "^/v1/([^/]+)/cloudservers/detail/?$", "list", "ecs" },
  { "GET", "^/v1/([^/]+)/baremetalservers/detail/?$", "list", "bms" },
  { "GET", "^/v3/projects/?$", "iam" }, -- IAM: the project lookup
  { "GET", "^/v3/auth/()projects/?$", "projects" }, -- IAM: the account's projects; no project in the path
}

local function route(method, path)
  for _, r in ipairs(ROUTES) do
    if method == r[1] then
      local project, arg = path:match(r[2]) -- a route without captures gets the path
      if project then return r[3], r[4], project, arg end
    end
  end
end

local function count(t, k) t[k] = (t[k] or 0) + 1 end

local function gateway_error(status, code, msg, extra)
  return respond.send(status, { error_code = code, error_msg = msg,
                                request_id = ngx.var.request_id }, extra)
end

local function fault_answer(S, p, r, kind)
  if p.status == 429 then
    count(S.stats.faults, "429")
    return gateway_error(429, "APIGW.0308", "limit:200, time:5 minute",
      { ["Retry-After"] = tostring(S.faults.retry_after) })
  end
  count(S.stats.faults, tostring(p.status))
  local prefix = kind == "bms" and "BMS" or "Ecs"
  return respond.send(p.status, { error = { code = prefix .. ".0500",
    message = "injected fault: HTTP " .. p.status .. " on " .. r } })
end

-- Latency is the cloud's response time, for every answer a plan p covers (faults too):
-- the answer leaves `latency` seconds after the request arrived (plus any hang), the work
-- inside that time as a cloud's own processing is; latency_mode = "after_work" adds it
-- on top of this emulator's work instead.
local function hold(p)
  if not (p and p.latency > 0) then return end
  local wait = p.latency
  if p.latency_mode ~= "after_work" then
    ngx.update_time()
    wait = p.latency + p.hang - (ngx.now() - ngx.req.start_time())
  end
  if wait > 0 then ngx.sleep(wait) end
end

local function args_of(raw_query)
  local args = {}
  for _, kv in ipairs(auth.parse_query(raw_query)) do
    local k, v = kv[1], kv[2]
    args[k] = args[k] or {}
    table.insert(args[k], v)
  end
  return args
end

function M.handle()
  ngx.update_time()
  local S = state.get()
  -- The most calls under way at once, as a cloud would see them: what a client's
  -- concurrency must bound. M.finished takes each call off, however it ended.
  S.in_flight = S.in_flight + 1
  ngx.ctx.in_flight = true
  if S.in_flight > S.stats.max_in_flight then S.stats.max_in_flight = S.in_flight end
  -- With latency counted from arrival, let the worker take in the other requests that
  -- arrived with this one before working on it: a burst of calls then gets its arrival
  -- times, as a cloud's many servers would, not ones pushed back by this worker's work.
  if S.faults.latency > 0 and S.faults.latency_mode == "arrival" then ngx.sleep(0) end
  local method = ngx.req.get_method()
  local raw_path, raw_query = ngx.var.request_uri:match("^([^?]*)%??(.*)$")
  local r, kind, project, arg = route(method, ngx.var.uri)
  if not r then
    S.stats.unrouted = S.stats.unrouted + 1 -- a request for no API at all (a path a client made up)
    return gateway_error(404, "APIGW.0101", "The API does not exist or has not been published in the environment")
  end

  ngx.ctx.api = true -- respond.send counts statuses of API answers only
  local st = S.stats
  st.calls[r] = st.calls[r] + 1
  st.calls.total = st.calls.total + 1
  -- When each stop or start call arrived (epoch seconds), for specs that compare it with
  -- a signal's time; the first 10000 only.
  local arrivals = st.action_arrivals
  if r == "action" and #arrivals < 10000 then arrivals[#arrivals + 1] = ngx.req.start_time() end
  local conn = ngx.var.connection
  if not S.connections[conn] then
    S.connections[conn] = true
    S.nconnections = S.nconnections + 1
  end

  ngx.req.read_body()
  local body = ngx.req.get_body_data() or ""
  local req = { method = method, path = raw_path, query = raw_query,
                headers = ngx.req.get_headers(200), body = body }
  local ok, why, cr, reason = auth.verify(req, S.creds, respond.now(S))
  if not ok then
    st.signature_failures = st.signature_failures + 1
    if reason == "key_expired" then st.expired_keys = st.expired_keys + 1 end
    local msg = "Incorrect IAM authentication information: verify aksk signature fail, " .. why
    if cr then msg = msg .. ", canonicalRequest: " .. cr:gsub("\n", "|") end
    return gateway_error(401, "APIGW.0301", msg)
  end

  local p = S.faults:plan(r)
  if p then
    if p.drop then count(st.faults, "drop") return ngx.exit(444) end
    if p.hang > 0 then count(st.faults, "hang") ngx.sleep(p.hang) end
    ngx.update_time()
    if p.status then hold(p) return fault_answer(S, p, r, kind) end
    if p.malformed then
      count(st.faults, "malformed")
      hold(p)
      return respond.send(200, '{"job_id": "' .. ngx.var.request_id:sub(1, 7) .. '", "trunc')
    end
  end

  local bad = S.hostile:plan(r)
  if bad and not S.hostile.perform then hold(p) return S.hostile:answer(S, r) end

  local real = ngx.now()
  jobs.settle(S, real)
  local status, answer
  if r == "iam" or r == "projects" then
    answer = r == "iam" and iam_projects.by_name(S, args_of(raw_query)) or r == "projects" and iam_projects.list(S)
    if not answer then
      hold(p)
      return gateway_error(404, "APIGW.0101", "The API does not exist or has not been published in the environment")
    end
    status = 200
  elseif project ~= S.cfg.project_id and S.unknown_project then
    -- As a cloud that does not know the project at all (configured: unknown_project).
    local u = S.unknown_project
    local msg = u.message or ("project " .. project .. " not found")
    hold(p)
    if u.code:match("^APIGW?%.") then return gateway_error(u.status, u.code, msg) end
    return respond.send(u.status, { error = { code = u.code, message = msg } })
  elseif project ~= S.cfg.project_id then
    local prefix = r == "job" and "Common" or (kind == "bms" and "BMS" or "Ecs")
    status, answer = 403, { error = { code = prefix .. ".0403",
      message = "project " .. project .. " is not the project of this credential" } }
  elseif r == "action" then
    status, answer = actions.act(S, kind, body, real, respond.now(S), project)
  elseif r == "job" then
    local job = S.jobs[arg]
    if job then status, answer = 200, jobs.render(job, real, S.cfg.bms_sub_job_entities)
    else status, answer = 404, { error = { code = "Common.0011", message = "job " .. arg .. " not found" } } end
  else
    status, answer = list.list(S, kind, args_of(raw_query))
  end

  hold(p)
  if p and p.drop_after then count(st.faults, "drop_after") return ngx.exit(444) end
  if bad then return S.hostile:answer(S, r, status, answer) end
  return respond.send(status, answer)
end

--- The log phase of every API request: its call is over.
function M.finished()
  if ngx.ctx.in_flight then
    local S = state.get()
    S.in_flight = S.in_flight - 1
  end
end

return M
