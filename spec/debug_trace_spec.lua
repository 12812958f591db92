-- debug = true (the CLI's --debug): one line per HTTP attempt reaches the logger at level
-- "debug" (stderr for the CLI, also with --json), naming the method, the path template,
-- the status, the cloud's request id, the attempt, the time taken and what came of it; and
-- never the SK, the security token or a signature the client sent.
local env = require "support.cloudenv"
local cli = require "spec.support.cli"
local cjson = require "cjson"

local SK = "DEBUGSECRETSK0123456789abcdefDEBUGSECRET"
local TOKEN = "DEBUGSECRETTOKEN+/=0123456789abcdefTOKEN"
local FLEET = { ecs = { { count = 60, name = "web-%02d" } } }
local LINE = "^http (%a+) (%u+) (%S+) %-> (%S+)[^\n]* request_id=(%S+) attempt=(%d+) ([%d.]+)s: (.+)$"

-- Fails when a trace line holds a secret: the SK, the token, or any signature sent.
local function clean(where, text, signatures)
  assert.is_nil(text:find(SK, 1, true), where .. " shows the SK")
  assert.is_nil(text:find(SK:sub(1, 16), 1, true), where .. " shows part of the SK")
  assert.is_nil(text:find(TOKEN, 1, true), where .. " shows the token")
  assert.is_nil(text:find(TOKEN:sub(1, 16), 1, true), where .. " shows part of the token")
  assert.is_nil(text:find("Signature=", 1, true), where .. " shows an Authorization header")
  for sig in pairs(signatures or {}) do
    assert.is_nil(text:find(sig, 1, true), where .. " shows a signature sent")
    assert.is_nil(text:find(sig:sub(1, 16), 1, true), where .. " shows part of a signature sent")
  end
end

describe("debug trace", function()
  local fc

  setup(function()
    fc = env.start{ job_duration = 0.02, fleet = FLEET,
                    credentials = { { ak = "DEBUGAK", sk = SK, security_token = TOKEN } } }
  end)
  teardown(function() if fc then fc:stop() end end)
  before_each(function()
    assert(fc:configure{ faults = {}, fleet = FLEET, job_duration = 0.02, flow_control = {} })
    assert(fc:reset())
  end)

  it("the library: one debug line per attempt, as on_request sees them, with retries and throttling", function()
    -- Some 500s (retried) on every kind of call, and flow control on stop calls.
    assert(fc:configure{ faults = { seed = 5, status = { [500] = 0.2 } }, fleet = FLEET,
                         refusals = { ["Common.0024"] = 0.5, seed = 2, limit = 2 } })
    assert(fc:reset())
    local lines, seen, signatures = {}, {}, {}
    local opts = { ak = "DEBUGAK", sk = SK, security_token = TOKEN, concurrency = 4, debug = true,
                   retry = { attempts = 8, base = 0.01, cap = 0.05 },
                   logger = function(line, level) lines[#lines + 1] = { line = line, level = level } end,
                   on_request = function(info) seen[#seen + 1] = info end }
    -- The signatures sent: seen at the transport, where the signed headers go.
    opts.transport = env.stand_in(opts, { add = function(t, id, method, url, headers, ...)
      for k, v in pairs(headers) do
        local s = tostring(v):match("Signature=(%x+)") or tostring(k):match("Signature=(%x+)")
        if s then signatures[s] = true end
      end
      return t:add(id, method, url, headers, ...)
    end })
    local client = env.default_client(fc, opts) -- the project found through IAM: traced too
    local res = assert(client:stop_ecs{ ids = env.ids("ecs", 1, 60), poll_interval = 0.02 })
    client:close()
    assert.is_true(res.ok, cjson.encode(res.failed))
    assert.truthy(next(signatures), "no signature seen at the transport")

    local traces, verdicts = {}, {}
    for _, l in ipairs(lines) do
      clean("log line", l.line, signatures)
      if l.level == "debug" then traces[#traces + 1] = l.line end
    end
    -- One line per attempt: as many as the emulator answered and on_request saw, in order.
    assert.are.equal(fc:stats().calls.total, #traces)
    assert.are.equal(#seen, #traces)
    for i, t in ipairs(traces) do
      local service, method, path, status, rid, attempt, took, verdict = t:match(LINE)
      assert.truthy(service, t)
      local info = seen[i]
      assert.are.same({ info.service, info.method, info.path, tostring(info.status), info.request_id,
                        info.attempt }, { service, method, path, status, rid, tonumber(attempt) })
      assert.is_nil(t:find(fc.project_id, 1, true), t)
      assert.is_true(tonumber(took) >= 0)
      local word = verdict:match("^(%a+)")
      verdicts[word] = (verdicts[word] or 0) + 1
      if status == "500" then assert.truthy(verdict:find("^retry in [%d.]+s$"), t) end
    end
    assert.is_true((verdicts.retry or 0) > 0, "no retry traced")
    assert.is_true((verdicts.throttled or 0) > 0, "no throttled stop call traced")
    assert.is_true(verdicts.ok > 0)
    local paths = table.concat(traces, "\n")
    for _, p in ipairs({ "http iam GET /v3/projects ", "POST /v1/{project_id}/cloudservers/action ",
                         "GET /v1/{project_id}/jobs/{job_id} ", "GET /v1/{project_id}/cloudservers/detail " }) do
      assert.truthy(paths:find(p, 1, true), p)
    end
  end)

  it("the library: no debug lines unless asked for", function()
    local lines = {}
    local client = env.default_client(fc, { logger = function(_, level) lines[#lines + 1] = tostring(level) end })
    assert(client:stop_ecs{ ids = env.ids("ecs", 1, 2), poll_interval = 0.02 })
    client:close()
    for _, level in ipairs(lines) do assert.are_not.equal("debug", level) end
    assert.has_error(function() env.default_client(fc, { debug = "yes" }) end)
  end)

  it("--debug: a trace line per attempt on stderr, also with --json; no secret on either stream", function()
    local e = env.default_env(fc)
    e.HUAWEICLOUD_SDK_AK, e.HUAWEICLOUD_SDK_SK, e.HUAWEICLOUD_SDK_SECURITY_TOKEN = "DEBUGAK", SK, TOKEN
    local r = cli.run({ "ecs", "--debug", "--json", "--poll-interval", "0.02", env.id("ecs", 1), env.id("ecs", 2) }, e)
    assert.are.equal(0, r.code, r.stderr)
    clean("stderr", r.stderr)
    clean("stdout", r.stdout)
    assert.is_true(cjson.decode(r.stdout).ok) -- stdout stays one JSON document
    local traces = {}
    for line in r.stderr:gmatch("[^\n]+") do
      local t = line:match("^cloud%-stop: (http .*)$")
      if t then
        assert.truthy(t:match(LINE), t)
        assert.truthy(t:match(" request_id=%x+ "), t)
        traces[#traces + 1] = t
      end
    end
    assert.are.equal(fc:stats().calls.total, #traces)
    assert.truthy(r.stderr:find("cloudservers/action -> 200 request_id=", 1, true), r.stderr)

    -- Without --debug: none.
    assert(fc:reset())
    r = cli.run({ "ecs", "--verbose", "--poll-interval", "0.02", env.id("ecs", 3) }, e)
    assert.are.equal(0, r.code, r.stderr)
    assert.is_nil(r.stderr:find("\ncloud%-stop: http ") or r.stderr:find("^cloud%-stop: http "), r.stderr)
  end)
end)
