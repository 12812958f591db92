-- Starts and stops a fakecloud nginx from Lua (lua5.4 or luajit), for specs and the CLI.
local cjson = require "cjson"

local M = {}
local Emu = {}
Emu.__index = Emu

local proc = require "fakecloud.proc"
local quote, exec, sh, read, write = proc.quote, proc.exec, proc.sh, proc.read, proc.write

local function tools_dir()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  local dir = src:match("^(.*)/[^/]*$") or "."
  if dir:sub(1, 1) ~= "/" then dir = (os.getenv("PWD") or sh("pwd"):gsub("%s+$", "")) .. "/" .. dir end
  return (dir:gsub("/%./", "/"):gsub("/fakecloud/?$", ""))
end
M.tools_dir = tools_dir

-- Lua tables with non-sequence keys (faults.status = {[429] = 0.3}) become JSON
-- objects with string keys; cjson alone would call them sparse arrays.
local function jsonable(v)
  if type(v) ~= "table" then return v end
  local n, max = 0, 0
  for k in pairs(v) do
    n = n + 1
    if type(k) == "number" and k > max then max = k end
  end
  local out = {}
  if n > 0 and max == n then
    for i = 1, n do out[i] = jsonable(v[i]) end
  else
    for k, x in pairs(v) do out[tostring(k)] = jsonable(x) end
  end
  return out
end
M.jsonable = jsonable

-- Admin call over http (luasocket) or https (curl -k). Returns status, body text.
function Emu:http(method, path, body)
  local url = self.url .. path
  if self.tls then
    local cmd = "curl -sk -m 10 -o - -w '\\n%{http_code}' -X " .. method ..
      (body and (" -H 'Content-Type: application/json' --data-binary " .. quote(body)) or "") ..
      " " .. quote(url)
    local out = sh(cmd)
    local text, code = out:match("^(.*)\n(%d+)$")
    return tonumber(code), text
  end
  local http = require "socket.http"
  local ltn12 = require "ltn12"
  local chunks = {}
  local _, code = http.request {
    url = url, method = method, sink = ltn12.sink.table(chunks),
    source = body and ltn12.source.string(body) or nil,
    headers = body and { ["content-type"] = "application/json", ["content-length"] = #body } or nil,
  }
  return tonumber(code), table.concat(chunks)
end

function Emu:admin(method, path, tbl)
  local code, text = self:http(method, "/__admin/" .. path, tbl and cjson.encode(jsonable(tbl)) or nil)
  if code ~= 200 then return nil, "admin " .. path .. ": " .. tostring(code) .. " " .. tostring(text) end
  return cjson.decode(text)
end

function Emu:configure(patch) return self:admin("POST", "config", patch) end
function Emu:reset() return self:admin("POST", "reset", {}) end
function Emu:stats() return self:admin("GET", "stats") end
function Emu:server(id) return self:admin("GET", "server/" .. id) end

local alive, sleep = proc.alive, proc.sleep

-- Graceful QUIT, then TERM, then KILL of the master and its workers.
function Emu:stop()
  if self.stopped then return true end
  self.stopped = true
  local pid = (read(self.prefix .. "/nginx.pid") or ""):match("%d+") or self.pid
  if pid then proc.stop_nginx(pid) end
  exec("rm -rf " .. quote(self.prefix))
  return true
end
Emu.__gc = function(self) self:stop() end

local function render_conf(prefix, port, tls)
  local t = assert(read(tools_dir() .. "/fakecloud/nginx.conf"), "nginx.conf template missing")
  local root = sh("id -u"):match("^0") ~= nil
  local vars = {
    PREFIX = prefix, TOOLS = tools_dir(), PORT = tostring(port),
    -- Workers of a root master run as nobody, who may not read the prefix or tools.
    USER = root and "user root;" or "",
    LISTEN_SSL = tls and " ssl" or "",
    TLS = tls and ("ssl_certificate " .. tls.cert .. ";\n        ssl_certificate_key " .. tls.key .. ";") or "",
  }
  return (t:gsub("{{([%u_]+)}}", function(k) return vars[k] end))
end

local function try_start(self, port)
  write(self.prefix .. "/nginx.conf", render_conf(self.prefix, port, self.tls))
  self.port = port
  self.url = (self.tls and "https" or "http") .. "://127.0.0.1:" .. port
  os.remove(self.prefix .. "/error.log")
  local cmd = "nginx -p " .. quote(self.prefix) .. " -c " .. quote(self.prefix .. "/nginx.conf") ..
    " -e " .. quote(self.prefix .. "/error.log") .. " >" .. quote(self.prefix .. "/start.log") .. " 2>&1"
  exec(cmd)
  for _ = 1, 100 do
    local code = self:http("GET", "/__admin/stats")
    if code == 200 then
      self.pid = (read(self.prefix .. "/nginx.pid") or ""):match("%d+")
      return true
    end
    local pid = (read(self.prefix .. "/nginx.pid") or ""):match("%d+")
    if not pid or not alive(pid) then
      sleep(0.05)
      pid = (read(self.prefix .. "/nginx.pid") or ""):match("%d+")
      if not pid or not alive(pid) then break end
    end
    sleep(0.05)
  end
  local log = (read(self.prefix .. "/start.log") or "") .. (read(self.prefix .. "/error.log") or "")
  local pid = (read(self.prefix .. "/nginx.pid") or ""):match("%d+")
  if pid then exec("kill -KILL " .. pid .. " 2>/dev/null") os.remove(self.prefix .. "/nginx.pid") end
  return false, log:sub(-2000)
end

-- opts: { config = {...}, tls = { cert, key }, port = n }
function M.start(opts)
  opts = opts or {}
  local config = opts.config or {}
  local prefix = sh("mktemp -d /tmp/fakecloud.XXXXXX"):gsub("%s+$", "")
  if prefix == "" then return nil, "mktemp failed" end
  exec("mkdir -p " .. quote(prefix .. "/tmp") .. " && chmod 755 " .. quote(prefix))
  write(prefix .. "/config.json", cjson.encode(jsonable(config)))
  local self = setmetatable({ prefix = prefix, tls = opts.tls }, Emu)
  local ok, err
  for _ = 1, (opts.port and 1 or 5) do
    ok, err = try_start(self, opts.port or proc.free_port())
    if ok or not (err or ""):find("in use", 1, true) then break end
  end
  if not ok then
    self.stopped = true
    exec("rm -rf " .. quote(prefix))
    return nil, "fakecloud did not start: " .. tostring(err)
  end
  local cred = (config.credentials or {})[1] or {}
  self.project_id = config.project_id or "0123456789abcdef0123456789abcdef"
  self.ak = cred.ak or "FAKECLOUDAK00000000"
  self.sk = cred.sk or "FAKECLOUDSK0000000000000000000000000000"
  self.security_token = cred.security_token
  return self
end

return M
