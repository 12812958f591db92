-- Without keys a client asks the ECS metadata service at 169.254.169.254, off the machine.
-- A spec that forgets to point it elsewhere must not send anything there: unless the run or
-- the spec names one, the specs' clients and the processes they start find the service at a
-- closed port on loopback, which refuses at once. (The suite also runs with loopback only:
-- tools/test.sh.)
local M = {}

M.VAR = "CLOUD_METADATA_ENDPOINT"
M.ENDPOINT = "http://127.0.0.1:1"

--- A child's environment (a table of variables, as spec/support's runners take) with the
-- endpoint added unless it names one; `VAR = false` leaves the variable unset on purpose.
function M.child_env(env)
  local out = {}
  for k, v in pairs(env or {}) do
    if v ~= false then out[k] = v end
  end
  if env == nil or env[M.VAR] == nil then out[M.VAR] = M.ENDPOINT end
  return out
end

--- Makes os.getenv in this process report the endpoint when the environment has none (the
-- client reads it at cloud.new). Specs that shut the variable out on purpose wrap os.getenv
-- themselves, and give endpoints.metadata.
function M.install()
  local getenv = os.getenv
  -- The point: os.getenv replaced on purpose, in the specs' process only.
  os.getenv = function(name) -- luacheck: ignore 122
    local v = getenv(name)
    if name == M.VAR and (v == nil or v == "") then return M.ENDPOINT end
    return v
  end
end

return M
