-- The handlers of docs/openresty.md, exactly as written there (app.lua and the `server`
-- block of its nginx.conf, taken from the page), in a real nginx against the emulator: ids
-- in a POST body (a thousand of them, which no query string holds), bad ids answered 400
-- before any request; and an error object nobody catches reaches error.log as its message
-- through cloud.nginx.handler, not as lua-nginx-module's "unknown reason".
local env = require "support.cloudenv"
local appnginx = require "support.appnginx"
local proc = require "fakecloud.proc"
local socket = require "socket"

local ROOT = appnginx.root

-- The page's code blocks of one language, in order.
local function blocks(text, lang)
  local out = {}
  for body in text:gmatch("\n```" .. lang .. "\n(.-)\n```") do out[#out + 1] = body end
  return out
end

-- app.lua as the page gives it: from the block that starts "-- app.lua" to the one that
-- ends "return M".
local function docs_app(text)
  local parts, on = {}, false
  for _, b in ipairs(blocks(text, "lua")) do
    if b:find("^%-%- app%.lua\n") then on = true end
    if on then
      parts[#parts + 1] = b
      if b:find("\nreturn M$") then return table.concat(parts, "\n\n") end
    end
  end
  error("docs/openresty.md: no app.lua from '-- app.lua' to 'return M'")
end

-- The `server { ... }` block of the page's whole configuration, listening on `port`.
local function docs_server(text, port)
  local conf = blocks(text, "nginx")[1]
  local server = assert(conf:match("\n(    server {\n.-\n    })\n"), "docs/openresty.md: no server block")
  local out, n = server:gsub("listen 127%.0%.0%.1:8080;", "listen 127.0.0.1:" .. port .. ";")
  assert(n == 1, "docs/openresty.md: the server block listens elsewhere")
  return out
end

local CONF = [[
load_module /usr/share/nginx/modules/ndk_http_module.so;
load_module /usr/share/nginx/modules/ngx_http_lua_module.so;
{{USER}}
worker_processes 1;
daemon on;
pid {{PREFIX}}/nginx.pid;
error_log {{PREFIX}}/error.log notice;
{{ENV}}
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path {{PREFIX}}/tmp/body;
    proxy_temp_path {{PREFIX}}/tmp/proxy;
    fastcgi_temp_path {{PREFIX}}/tmp/fastcgi;
    uwsgi_temp_path {{PREFIX}}/tmp/uwsgi;
    scgi_temp_path {{PREFIX}}/tmp/scgi;
    lua_package_path "{{PREFIX}}/?.lua;{{ROOT}}/lua/?.lua;{{ROOT}}/lua/?/init.lua;;";
    lua_package_cpath "{{ROOT}}/build/luajit/?.so;;";
    include {{ROOT}}/nginx/cloud.conf;
    lua_shared_dict cloud 1m;
{{SERVER}}
    server {
        listen 127.0.0.1:{{PORT2}};
        location = /last { content_by_lua_block { ngx.print(ngx.shared.cloud:get("last") or "") } }
        # An argument error nobody catches: through cloud.nginx.handler, and without it.
        location = /raise {
            content_by_lua_block {
                require("cloud.nginx.handler").run(function() require("cloud.nginx").once("", "k", 1) end)
            }
        }
        location = /raise-bare { content_by_lua_block { require("cloud.nginx").once("", "k", 1) } }
        location = /raise-timer {
            content_by_lua_block {
                assert(ngx.timer.at(0, require("cloud.nginx.handler").wrap(function()
                    require("cloud.nginx").once("cloud", "k", -1)
                end)))
                ngx.say("started")
            }
        }
    }
}
]]

local Docs = {}
Docs.__index = Docs

-- status, body
local function request(base, method, path, body, ctype)
  local http, ltn12 = require "socket.http", require "ltn12"
  local chunks = {}
  local _, code = http.request{ url = base .. path, method = method, sink = ltn12.sink.table(chunks),
    source = body and ltn12.source.string(body),
    headers = body and { ["content-length"] = tostring(#body), ["content-type"] = ctype } or nil }
  return tonumber(code), table.concat(chunks)
end

-- Starts nginx with the page's server block and app.lua; the workers' environment holds
-- the keys and the endpoint overrides a user would set (cloudenv.default_env).
local function start(fc)
  local p = io.popen("mktemp -d /tmp/docsnginx.XXXXXX")
  local prefix = p:read("*l")
  p:close()
  proc.exec("mkdir -p " .. proc.quote(prefix .. "/tmp") .. " && chmod 755 " .. proc.quote(prefix))
  local page = assert(proc.read(ROOT .. "/docs/openresty.md"))
  proc.write(prefix .. "/app.lua", docs_app(page))
  local envs = {}
  for k, v in pairs(env.default_env(fc)) do envs[#envs + 1] = ("env %s=%s;"):format(k, v) end
  local id = io.popen("id -u")
  local root = id:read("*l") == "0"
  id:close()
  local self = setmetatable({ prefix = prefix, secret = fc.sk }, Docs)
  for _ = 1, 5 do
    local port, port2 = proc.free_port(), proc.free_port()
    local vars = { PREFIX = prefix, ROOT = ROOT, PORT2 = tostring(port2), USER = root and "user root;" or "",
      ENV = table.concat(envs, "\n"), SERVER = docs_server(page, port) }
    proc.write(prefix .. "/nginx.conf", (CONF:gsub("{{([%u%d_]+)}}", function(k) return vars[k] end)))
    self.url, self.url2 = "http://127.0.0.1:" .. port, "http://127.0.0.1:" .. port2
    proc.exec("nginx -p " .. proc.quote(prefix) .. " -c " .. proc.quote(prefix .. "/nginx.conf") .. " -e "
      .. proc.quote(prefix .. "/error.log") .. " >" .. proc.quote(prefix .. "/start.log") .. " 2>&1")
    for _ = 1, 100 do
      local ok, code = pcall(request, self.url2, "GET", "/last")
      if ok and code == 200 then return self end
      if not (proc.read(prefix .. "/nginx.pid") or ""):match("%d+") then break end
      socket.sleep(0.05)
    end
    if not ((proc.read(prefix .. "/start.log") or "") .. self:log()):find("in use", 1, true) then break end
  end
  local why = (proc.read(prefix .. "/start.log") or "") .. self:log()
  self:stop()
  error("the docs' nginx did not start: " .. why:sub(-2000))
end

function Docs:post(path, body, ctype) return request(self.url, "POST", path, body, ctype) end
-- A GET to the spec's own server (its /last and /raise locations).
function Docs:get2(path) return request(self.url2, "GET", path) end
function Docs:log() return proc.read(self.prefix .. "/error.log") or "" end

function Docs:stop()
  local pid = (proc.read(self.prefix .. "/nginx.pid") or ""):match("%d+")
  if pid then proc.stop_nginx(pid) end
  proc.exec("rm -rf " .. proc.quote(self.prefix))
end

describe("the handlers of docs/openresty.md", function()
  local fc, docs

  setup(function()
    fc = env.start{ job_duration = 0.05, fleet = { ecs = { { count = 1200, name = "web-%d", status = "ACTIVE" } },
                                                    bms = { { count = 10, name = "bm-%d", status = "ACTIVE" } } } }
    docs = start(fc)
  end)
  teardown(function()
    if docs then docs:stop() end
    if fc then fc:stop() end
  end)
  before_each(function() assert(fc:reset()) end)

  it("stop 1000 ids sent one a line in the body", function()
    local ids = env.ids("ecs", 1, 1000)
    local code, body = docs:post("/stop", table.concat(ids, "\n") .. "\n", "text/plain")
    assert.are.equal(200, code, body .. docs:log():sub(-2000))
    assert.are.equal("stopped 1000, joined 0, skipped 0, failed 0\n", body)
    assert.are.equal(0, fc:stats().stop_requests.sent_more_than_once)
  end)

  it("stop ids sent as a JSON array", function()
    local ids = env.ids("ecs", 1001, 1200)
    local code, body = docs:post("/stop", require("cjson").encode(ids), "application/json")
    assert.are.equal(200, code, body)
    assert.are.equal("stopped 200, joined 0, skipped 0, failed 0\n", body)
  end)

  it("stop ids sent as a URL-encoded form field, decoded", function()
    local ids = env.ids("ecs", 1, 3)
    -- The commas encoded, as browsers and curl --data-urlencode send them.
    local code, body = docs:post("/stop", "ids=" .. table.concat(ids, "%2C"), "application/x-www-form-urlencoded")
    assert.are.equal(200, code, body)
    assert.are.equal("stopped 3, joined 0, skipped 0, failed 0\n", body)
  end)

  it("answer 400 naming a bad id, before any request to the cloud", function()
    local ids = env.ids("ecs", 1, 3)
    local code, body = docs:post("/stop", ('["%s", 42, "%s"]'):format(ids[1], ids[3]), "application/json")
    assert.are.equal(400, code, body)
    assert.truthy(body:find("ids[2]", 1, true), body)
    assert.are.equal(0, fc:stats().calls.action)
    code, body = docs:post("/stop", '{"deep":', "application/json")
    assert.are.equal(400, code, body)
    assert.truthy(body:find("JSON array", 1, true), body)
  end)

  it("stop-later takes the ids from the body and stops them in a timer", function()
    local ids = env.ids("bms", 1, 10)
    local code, body = docs:post("/stop-later", require("cjson").encode(ids), "application/json")
    assert.are.equal(200, code, body)
    assert.are.equal("started\n", body)
    local last
    for _ = 1, 600 do
      _, last = docs:get2("/last")
      if last ~= "" then break end
      socket.sleep(0.05)
    end
    assert.are.equal("10 stopped", last, docs:log():sub(-2000))
  end)

  it("an error object raised in a handler or a timer reaches error.log as its message", function()
    local code = docs:get2("/raise")
    assert.are.equal(500, code)
    code = docs:get2("/raise-timer")
    assert.are.equal(200, code)
    local log
    for _ = 1, 100 do
      log = docs:log()
      if log:find("option 'ttl'", 1, true) then break end
      socket.sleep(0.05)
    end
    assert.truthy(log:find("runtime error: [^\n]*cloud%.nginx%.once: option 'dict' must be a string"), log)
    assert.truthy(log:find("runtime error: [^\n]*cloud%.nginx%.once: option 'ttl' must be a positive number"),
      log)
    assert.is_nil(log:find("unknown reason", 1, true), log)
    -- Without it, this nginx logs the same error object without its message: why it exists.
    assert.are.equal(500, (docs:get2("/raise-bare")))
    assert.truthy(docs:log():find("runtime error: unknown reason", 1, true))
    assert.is_nil(docs:log():find(docs.secret, 1, true))
  end)
end)
