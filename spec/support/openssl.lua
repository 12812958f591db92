-- Hashes through the openssl command line: an implementation independent of the
-- C core, for known-answer checks of our own vectors.
local M = {}

local function run(cmd, input)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  f:write(input)
  f:close()
  -- env -u LD_PRELOAD: the sanitizer run preloads ASan for the interpreter only.
  local p = assert(io.popen("env -u LD_PRELOAD " .. cmd .. " < " .. tmp))
  local out = p:read("*a")
  p:close()
  os.remove(tmp)
  return (out:match("^(%x+)"))
end

function M.sha256(s)
  return run("openssl dgst -sha256 -r", s)
end

-- The key must be shell-safe; the spec keys are plain ASCII words.
function M.hmac_sha256(key, s)
  assert(key:match("^[%w]+$"))
  return run("openssl dgst -sha256 -r -hmac " .. key, s)
end

return M
