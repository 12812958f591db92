-- One library call in a fresh interpreter under a hard timeout (support.subprocess): a
-- call that hangs is killed and the spec fails, instead of hanging the suite. The child
-- builds a client for the emulator, makes the call, and reports as JSON what came back,
-- how long it took, every log line and its peak memory (VmHWM).
local cjson = require "cjson"
local subprocess = require "support.subprocess"

local M = {}

local CHILD = [=[
local cjson = require "cjson"
local cloud = require "cloud"
local core = require "cloud.core"
local spec = cjson.decode(os.getenv("BOUNDED_CALL"))
local lines = {}
local opts = spec.client
opts.logger = function(l) lines[#lines + 1] = l end
local client = assert(cloud.new(opts))
local t0 = core.now()
local res, err = client[spec.method](client, spec.args)
local took = core.now() - t0
client:close()
local peak
for line in io.lines("/proc/self/status") do
  local kb = line:match("^VmHWM:%s*(%d+) kB")
  if kb then peak = tonumber(kb) * 1024 end
end
local out = { took = took, lines = lines, peak = peak }
if type(res) == "table" and res.requested then
  out.res = { ok = res.ok, requested = res.requested, stopped = res.stopped, failed = res.failed,
              error = res.error and { code = res.error.code, message = res.error.message } }
elseif type(res) == "table" then
  out.listed = #res
end
if err then out.err = { code = err.code, message = err.message, kind = err.kind } end
io.write("\n@@", cjson.encode(out), "@@\n")
]=]

--- Calls client[method](client, args) for a client of emulator `fc` with `client` options
-- (beside the emulator's endpoint and keys), killed after `limit` seconds. Returns the
-- report ({ took, res | listed, err, lines, peak }), or nil and the child's output when it
-- did not finish (killed, or raised).
function M.call(fc, client, method, args, limit)
  local c = { project_id = fc.project_id, ak = fc.ak, sk = fc.sk, endpoints = { ecs = fc.url, bms = fc.url } }
  for k, v in pairs(client or {}) do c[k] = v end
  local out, status = subprocess.run(CHILD, { BOUNDED_CALL = cjson.encode{ client = c, method = method,
    args = args or {} } }, limit)
  local doc = out:match("\n@@(.*)@@\n")
  if not doc then return nil, ("exit %s: %s"):format(tostring(status), out) end
  return cjson.decode(doc)
end

return M
