-- /__admin/: unsigned control and inspection endpoints for tests.
local state = require "fakecloud.state"
local fleet = require "fakecloud.fleet"
local jobs = require "fakecloud.jobs"
local json = require "fakecloud.json"
local respond = require "fakecloud.respond"
local hostile = require "fakecloud.hostile"

local M = {}

-- Requests per server of one action (S.stops or S.starts): "none sent twice" is
-- sent_more_than_once == 0.
local function request_summary(per_server)
  local total, servers, max, more = 0, 0, 0, 0
  for _, n in pairs(per_server) do
    total, servers = total + n, servers + 1
    if n > max then max = n end
    if n > 1 then more = more + 1 end
  end
  return { total = total, servers = servers, max_per_server = max, sent_more_than_once = more }
end

function M.stats(S)
  local st = S.stats
  return {
    calls = st.calls, statuses = st.statuses, faults = st.faults, sub_jobs = st.sub_jobs,
    stop_types = st.stop_types, refused = st.refused, refused_servers = st.refused_servers,
    signature_failures = st.signature_failures, connections = S.nconnections,
    expired_keys = st.expired_keys, metadata = st.metadata,
    jobs = S.njobs, pending_jobs = #S.pending, stop_requests = request_summary(S.stops),
    start_requests = request_summary(S.starts),
    servers = { ecs = fleet.status_counts(S.fleet.ecs), bms = fleet.status_counts(S.fleet.bms) },
    hostile = st.hostile, hostile_streaming = hostile.active, max_in_flight = st.max_in_flight,
    unrouted = st.unrouted, action_arrivals = st.action_arrivals,
  }
end

local function server(S, id)
  for _, kind in ipairs({ "ecs", "bms" }) do
    local K = S.fleet[kind]
    local index = fleet.lookup(K, id)
    if index then
      local s = fleet.render(K, index)
      s.kind = kind
      s.stop_requests = S.stops[id] or 0
      s.start_requests = S.starts[id] or 0
      s.action_ended_at = (K.state[index] or {}).ended_at -- epoch seconds, when a job last ended on it
      return 200, s
    end
  end
  return 404, { error = "no such server", id = id }
end

function M.handle()
  ngx.update_time()
  local S = state.get()
  jobs.settle(S, ngx.now())
  local method, uri = ngx.req.get_method(), ngx.var.uri
  if method == "GET" and uri == "/__admin/stats" then
    return respond.send(200, M.stats(S))
  elseif method == "GET" and uri == "/__admin/config" then
    return respond.send(200, S.cfg)
  elseif method == "GET" and uri:match("^/__admin/server/") then
    return respond.send(server(S, ngx.unescape_uri(uri:match("^/__admin/server/(.*)$"))))
  elseif method == "POST" and uri == "/__admin/config" then
    ngx.req.read_body()
    local patch = json.decode(ngx.req.get_body_data() or "")
    if type(patch) ~= "table" then return respond.send(400, { error = "config must be a JSON object" }) end
    local cfg, err = state.configure(patch)
    if not cfg then return respond.send(400, { error = err }) end
    return respond.send(200, { ok = true, config = cfg })
  elseif method == "POST" and uri == "/__admin/reset" then
    state.reset()
    return respond.send(200, { ok = true })
  end
  return respond.send(404, { error = "unknown admin endpoint " .. method .. " " .. uri })
end

return M
