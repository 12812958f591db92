-- Certificates for specs, made with the openssl command in a fresh directory: a CA, and
-- server certificates it signs (or self-signed ones).
--
--   local c = certs.new()                 -- c.dir, c.ca (the CA's certificate file)
--   local cert, key = c:server("ip", { cn = "spec-ip-san", san = "IP:127.0.0.1" })
--   local cert2, key2 = c:server("self", { cn = "127.0.0.1", san = "IP:127.0.0.1", self_signed = true })
--   c:remove()
local M = {}
local Certs = {}
Certs.__index = Certs

local function sh(cmd)
  assert(os.execute("env -u LD_PRELOAD sh -c '" .. cmd .. "' >/dev/null 2>&1"), cmd)
end

function M.new()
  local dir = os.tmpname()
  os.remove(dir)
  sh(("mkdir -p %s && cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=spec-ca"
    .. " -keyout ca.key -out ca.pem"):format(dir, dir))
  return setmetatable({ dir = dir, ca = dir .. "/ca.pem" }, Certs)
end

--- A server certificate `<name>.pem` with key `<name>.key`: subject CN `o.cn`,
-- subjectAltName `o.san` ("IP:127.0.0.1", "DNS:x.example"), signed by the CA unless
-- `o.self_signed`. Returns the certificate's and the key's file names.
function Certs:server(name, o)
  local ext = ("subjectAltName=%s\\nbasicConstraints=CA:FALSE\\n"):format(o.san)
  if o.self_signed then
    sh(("cd %s && printf \"%s\" > %s.cnf && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=%s"
      .. " -keyout %s.key -out %s.pem -addext \"subjectAltName=%s\"")
      :format(self.dir, ext, name, o.cn, name, name, o.san))
  else
    sh(("cd %s && printf \"%s\" > %s.cnf && openssl req -newkey rsa:2048 -nodes -subj /CN=%s -keyout %s.key"
      .. " -out %s.csr && openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
      .. " -extfile %s.cnf -out %s.pem"):format(self.dir, ext, name, o.cn, name, name, name, name, name))
  end
  return self.dir .. "/" .. name .. ".pem", self.dir .. "/" .. name .. ".key"
end

function Certs:remove()
  sh("rm -rf " .. self.dir)
end

return M
