-- Inside the app nginx (spec/support/appnginx.lua, option `job`): every worker runs the
-- job from a timer, as docs/openresty.md tells users to; what each call answered is
-- counted in the app dictionary (the job's result itself is a file in its directory).
local M = {}

function M.start(cfg, client)
  local j = cfg.job
  assert(ngx.timer.every(j.every or 0.1, function(premature)
    if premature then return end
    local c = client()
    local stop = { force = true, poll_interval = 0.05, filter = j.filter, resend_grace = j.resend_grace }
    if not j.filter then
      stop.ids = {}
      for n = j.from, j.to do stop.ids[n - j.from + 1] = require("fakecloud.ids").server_id(j.service, n) end
    end
    local ok, state, res = pcall(require("cloud.nginx").job, { dict = "jobs", key = j.key or "boot", dir = j.dir,
      ttl = 300, client = c, service = j.service, stop = stop })
    c:close()
    local d = ngx.shared.app
    if not ok then return d:set("job_raised", tostring(state)) end
    d:incr("job_" .. tostring(state), 1, 0)
    if state == nil then d:set("job_error", tostring(res)) end
  end))
end

-- /jobstate: what the calls of this master's workers answered.
function M.state()
  local d = ngx.shared.app
  local out = {}
  for _, k in ipairs(d:get_keys(0)) do
    if k:match("^job_") then out[k] = d:get(k) end
  end
  ngx.say(require("cjson").encode(out))
end

-- /jobcheck?case=: the job called with one thing wrong; what it raised or returned.
function M.check(cfg, client)
  local c = client()
  local o = { dict = "jobs", key = "check", dir = cfg.job.dir, ttl = 10, client = c, service = "ecs",
              stop = { ids = { "x" } } }
  local case = ngx.var.arg_case
  if case == "shared" then o.dict = "app"
  elseif case == "key" then o.key = "../etc"
  elseif case == "dir" then o.dir = nil
  elseif case == "record" then o.stop.record = "/tmp/r"
  elseif case == "ttl" then o.ttl = 0
  elseif case == "nodir" then o.dir, o.key = cfg.job.dir .. "/nowhere", "x" end
  local ok, state, err = pcall(require("cloud.nginx").job, o)
  c:close()
  ngx.say(require("cjson").encode(ok and { state = state, error = err and tostring(err) } or
    { raised = tostring(state) }))
end

-- /jobflush: the job dictionary emptied, as evictions or a new master would leave it.
function M.flush()
  ngx.shared.jobs:flush_all()
  ngx.say("{}")
end

-- /oncefull: a dictionary filled by other writes; once must not evict any to store its mark.
function M.once_full()
  local d = ngx.shared.jobs
  d:flush_all()
  for i = 1, 1e6 do
    if not d:safe_set(("f%07d"):format(i), true) then break end
  end
  local before = #d:get_keys(0)
  local won, err = require("cloud.nginx").once("jobs", "m0000000", 10)
  ngx.say(require("cjson").encode{ before = before, after = #d:get_keys(0), won = won, err = err and tostring(err) })
end

return M
