-- An "app" nginx for spec/nginx_spec.lua: a user's nginx with the cloud module in it.
-- The spec side (M.start, App:get, App:stop) runs under busted; the handlers (M.app.*)
-- run inside that nginx, which loads this same file through its lua_package_path.
local M = { app = {} }
local App = {}
App.__index = App

local ROOT = (function()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  local dir = src:match("^(.*)/spec/support/[^/]*$") or "."
  if dir:sub(1, 1) ~= "/" then dir = os.getenv("PWD") .. (dir == "." and "" or "/" .. dir) end
  return dir
end)()
M.root = ROOT

local proc = require "fakecloud.proc"
local quote, exec, read, write = proc.quote, proc.exec, proc.read, proc.write

local CONF = [[
load_module /usr/share/nginx/modules/ndk_http_module.so;
load_module /usr/share/nginx/modules/ngx_http_lua_module.so;
{{USER}}
worker_processes {{WORKERS}};
{{MAIN}}
daemon on;
pid {{PREFIX}}/nginx.pid;
error_log {{PREFIX}}/error.log notice;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path {{PREFIX}}/tmp/body;
    proxy_temp_path {{PREFIX}}/tmp/proxy;
    fastcgi_temp_path {{PREFIX}}/tmp/fastcgi;
    uwsgi_temp_path {{PREFIX}}/tmp/uwsgi;
    scgi_temp_path {{PREFIX}}/tmp/scgi;
    lua_package_path "{{ROOT}}/lua/?.lua;{{ROOT}}/lua/?/init.lua;{{ROOT}}/spec/?.lua;{{ROOT}}/tools/?.lua;;";
    lua_package_cpath "{{ROOT}}/build/luajit/?.so;;";
    include {{ROOT}}/nginx/cloud.conf;
    {{TRUST}}
    lua_shared_dict app 4m;
    lua_shared_dict joins 4m;
    lua_shared_dict jobs 64k;
    lua_shared_dict every 64k;
    init_by_lua_block { require("support.appnginx").app.init("{{PREFIX}}/app.json") }
    init_worker_by_lua_block { require("support.appnginx").app.init_worker() }
    server {
        listen 127.0.0.1:{{PORT}}{{REUSEPORT}};
        location = /ping { content_by_lua_block { ngx.say("pong") } }
        location = /stop { content_by_lua_block { require("support.appnginx").app.stop_now() } }
        location = /timer { content_by_lua_block { require("support.appnginx").app.stop_later() } }
        location = /result { content_by_lua_block { require("support.appnginx").app.result() } }
        location = /errors { content_by_lua_block { require("support.appnginx").app.errors() } }
        location = /fetch { content_by_lua_block { require("support.appnginx").app.fetch() } }
        location = /new { content_by_lua_block { require("support.appnginx").app.new_error() } }
        location = /conn { content_by_lua_block { ngx.print(ngx.var.connection_requests) } }
        location = /drop { content_by_lua_block { require("support.appnginx").app.drop() } }
        location = /hits { content_by_lua_block { ngx.print(ngx.shared.app:incr("hits", 1, 0)) } }
        location /raw/ { content_by_lua_block { require("support.appnginx").app.raw() } }
        location = /logphase {
            content_by_lua_block { ngx.say("ok") }
            log_by_lua_block { require("support.appnginx").app.in_log() }
        }
        location = /boot { content_by_lua_block { require("support.appnginx").app.boot_state() } }
        location = /once { content_by_lua_block { require("support.appnginx").app.once() } }
        location = /cycle { content_by_lua_block { require("support.appnginx").app.cycle() } }
        location = /jobstate { content_by_lua_block { require("support.jobapp").state() } }
        location = /jobcheck { content_by_lua_block { require("support.appnginx").app.jobcheck() } }
        location = /jobflush { content_by_lua_block { require("support.jobapp").flush() } }
        location = /everystate { content_by_lua_block { require("support.everyapp").state() } }
        location = /everycheck { content_by_lua_block { require("support.everyapp").check() } }
        location = /oncefull { content_by_lua_block { require("support.jobapp").once_full() } }
        location = /fleet { content_by_lua_block { require("support.appnginx").app.fleet() } }
        location = /joined { content_by_lua_block { require("support.appnginx").app.joined() } }
        location = /shutdown-stop { content_by_lua_block { require("support.shutdown_app").start() } }
        # The spec's CA is not in the system bundle.
        location = /fetch-system-ca {
            lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
            content_by_lua_block { require("support.appnginx").app.fetch() }
        }
{{RESOLVERS}}
    }
}
]]

-- Locations /<name>/stop and /<name>/fetch using the DNS server at 127.0.0.1:<port>.
local RESOLVER_LOCATIONS = [[
        location ~ ^/{{NAME}}/(stop|fetch)$ {
            resolver 127.0.0.1:{{DNS_PORT}} ipv6=off;
            resolver_timeout 1s;
            content_by_lua_block { require("support.appnginx").app.by_path() }
        }
]]

-- Plain GET; returns status, body, seconds taken.
function App:get(path)
  local http, ltn12, socket = require "socket.http", require "ltn12", require "socket"
  local chunks = {}
  local t0 = socket.gettime()
  local _, code = http.request { url = self.url .. path, sink = ltn12.sink.table(chunks) }
  return tonumber(code), table.concat(chunks), socket.gettime() - t0
end

function App:json(path)
  local code, body = self:get(path)
  assert(code == 200, ("GET %s: %s %s"):format(path, tostring(code), body))
  return require("cjson").decode(body)
end

function App:log() return read(self.prefix .. "/error.log") or "" end

--- The master's pid.
function App:pid()
  return assert((read(self.prefix .. "/nginx.pid") or ""):match("%d+"), "no nginx.pid")
end

-- QUIT, then KILL whatever is left of the master and its worker.
function App:stop()
  if self.stopped then return end
  self.stopped = true
  local pid = (read(self.prefix .. "/nginx.pid") or ""):match("%d+")
  if pid then proc.stop_nginx(pid) end
  exec("rm -rf " .. quote(self.prefix))
end
App.__gc = App.stop

-- The state of the boot stop (see M.start's `boot`): how often init_worker ran, how many
-- workers won `once`, and the stop's result when it is done.
function App:boot()
  return self:json("/boot")
end

--- Reloads the configuration (HUP, as `nginx -s reload`) and waits until the new
-- workers have run init_worker.
function App:reload()
  local before = self:boot().init_worker_runs
  local pid = assert((read(self.prefix .. "/nginx.pid") or ""):match("%d+"))
  exec("kill -HUP " .. pid)
  for _ = 1, 200 do
    local ok, state = pcall(self.boot, self)
    if ok and state.init_worker_runs >= before + self.workers then return state end
    require("socket").sleep(0.05)
  end
  error("the reloaded workers did not start: " .. self:log():sub(-2000))
end

--- Starts the app nginx. opts: emulator = fc (url, project_id, ak, sk), trust = CA file,
-- workers (default 1), resolvers = { name = DNS port } (locations /<name>/stop and
-- /<name>/fetch resolving through it), boot = { service=, from=, to=, ttl= } (a stop that
-- every worker's init_worker starts through cloud.nginx.once), reuseport (a listening
-- socket per worker: the kernel spreads connections over the workers), job = { ... } (a
-- stop run through cloud.nginx.job from every worker's timer: spec/support/jobapp.lua),
-- every = { dir =, interval =, works = { "count", "slow", "fail", ... }, slow = s } (work
-- run through cloud.nginx.every from every worker: spec/support/everyapp.lua),
-- nginx (the binary; absolute for a binary upgrade, which executes it again), main =
-- directives of the main context ("worker_shutdown_timeout 5s;").
function M.start(opts)
  local p = io.popen("mktemp -d /tmp/appnginx.XXXXXX")
  local prefix = p:read("*l")
  p:close()
  exec("mkdir -p " .. quote(prefix .. "/tmp") .. " && chmod 755 " .. quote(prefix))
  local fc = opts.emulator
  write(prefix .. "/app.json", require("cjson").encode{
    url = fc.url, tls_url = opts.tls_url, project_id = fc.project_id, ak = fc.ak, sk = fc.sk, boot = opts.boot,
    job = opts.job, every = opts.every })
  local self = setmetatable({ prefix = prefix, workers = opts.workers or 1 }, App)
  local resolvers = {}
  for name, port in pairs(opts.resolvers or {}) do
    resolvers[#resolvers + 1] = RESOLVER_LOCATIONS:gsub("{{NAME}}", name):gsub("{{DNS_PORT}}", tostring(port))
  end
  local id = io.popen("id -u")
  local root = id:read("*l") == "0"
  id:close()
  for _ = 1, 5 do
    local port = proc.free_port()
    local vars = { PREFIX = prefix, ROOT = ROOT, PORT = tostring(port), USER = root and "user root;" or "",
      TRUST = opts.trust and ("lua_ssl_trusted_certificate " .. opts.trust .. ";") or "",
      WORKERS = tostring(self.workers), RESOLVERS = table.concat(resolvers),
      REUSEPORT = opts.reuseport and " reuseport" or "", MAIN = opts.main or "" }
    -- The spec's CA replaces the system bundle of the shipped cloud.conf (nginx refuses
    -- the directive twice), so a copy without that line is included instead.
    local conf = CONF:gsub("{{([%u_]+)}}", function(k) return vars[k] end)
    if opts.trust then
      local shipped = assert(read(ROOT .. "/nginx/cloud.conf"))
      write(prefix .. "/cloud.conf", (shipped:gsub("\nlua_ssl_trusted_certificate [^\n]*", "")))
      conf = conf:gsub("include [^\n]*/nginx/cloud.conf;", "include " .. prefix .. "/cloud.conf;")
    end
    write(prefix .. "/nginx.conf", conf)
    self.url = "http://127.0.0.1:" .. port
    exec((opts.nginx or "nginx") .. " -p " .. quote(prefix) .. " -c " .. quote(prefix .. "/nginx.conf") .. " -e " ..
      quote(prefix .. "/error.log") .. " >" .. quote(prefix .. "/start.log") .. " 2>&1")
    for _ = 1, 100 do
      local ok, code = pcall(self.get, self, "/ping")
      if ok and code == 200 then return self end
      if not (read(prefix .. "/nginx.pid") or ""):match("%d+") then break end
      require("socket").sleep(0.05)
    end
    local log = (read(prefix .. "/start.log") or "") .. self:log()
    if not log:find("in use", 1, true) then
      self:stop()
      return nil, "app nginx did not start: " .. log:sub(-2000)
    end
  end
  self:stop()
  return nil, "app nginx: no free port"
end

---------------------------------------------------------------------------------------
-- Inside the app nginx.

local cfg, shared_client, init_error, metadata_client, joining_client

local NONE = {} -- an option left out of cloud.new (the library's default)

local function client(over)
  local opts = { project_id = cfg.project_id, ak = cfg.ak, sk = cfg.sk,
    endpoints = { ecs = cfg.url, bms = cfg.url }, concurrency = 8,
    retry = { attempts = 10, base = 0.01, cap = 0.05 } }
  for k, v in pairs(over or {}) do
    if v == NONE then opts[k] = nil else opts[k] = v end
  end
  return assert(require("cloud").new(opts))
end

local function attempt_stop(c)
  local ok, err = pcall(c.stop_ecs, c, { ids = { require("fakecloud.ids").server_id("ecs", 1) } })
  return ok and "no error" or tostring(err)
end

-- init_by_lua: the shared client is made here (no I/O), and a stop must be refused.
function M.app.init(path)
  cfg = require("cjson").decode(assert(read(path)))
  shared_client = client()
  init_error = attempt_stop(shared_client)
  -- Shared too, with nothing but endpoints: keys from the emulator's metadata service and
  -- the project id from its IAM, both fetched at the first stop (none of it here).
  metadata_client = assert(require("cloud").new{ region = "cn-north-4", credentials = "metadata",
    endpoints = { ecs = cfg.url, bms = cfg.url, iam = cfg.url, metadata = cfg.url }, concurrency = 8,
    retry = { attempts = 10, base = 0.01, cap = 0.05 } })
  -- Shared, joining stops of every worker through the lua_shared_dict "joins".
  joining_client = client{ join_dict = "joins" }
end

-- The boot stop: every worker starts this timer; cloud.nginx.once lets one of them stop.
local function boot_stop(premature)
  if premature then return end
  local b = cfg.boot
  if not require("cloud.nginx").once("app", "boot-stop", b.ttl) then return end
  ngx.shared.app:incr("boot_started", 1, 0)
  local c = client()
  local ids = {}
  for n = b.from, b.to do ids[#ids + 1] = require("fakecloud.ids").server_id(b.service, n) end
  local res, err = c["stop_" .. b.service](c, { ids = ids, poll_interval = 0.05 })
  c:close()
  ngx.shared.app:set("boot_result", require("cjson").encode(res and
    { ok = res.ok, stopped = #res.stopped, failed = #res.failed } or { error = tostring(err) }))
end

function M.app.init_worker()
  ngx.shared.app:incr("init_worker_runs", 1, 0)
  ngx.shared.app:set("init_worker", attempt_stop(shared_client))
  if cfg.boot then assert(ngx.timer.at(0, boot_stop)) end
  if cfg.job then require("support.jobapp").start(cfg, client) end
  if cfg.every then require("support.everyapp").start(cfg) end
end

-- ?dict=&key=&ttl=: what cloud.nginx.once returns, or the error it raises.
function M.app.once()
  local a = ngx.req.get_uri_args()
  local ok, won, err = pcall(require("cloud.nginx").once, a.dict, a.key, tonumber(a.ttl) or a.ttl)
  ngx.say(require("cjson").encode(ok and { won = won, err = err and tostring(err) } or { raised = tostring(won) }))
end

function M.app.jobcheck()
  require("support.jobapp").check(cfg, client)
end

function M.app.boot_state()
  local d = ngx.shared.app
  local result = d:get("boot_result")
  ngx.say(require("cjson").encode{ init_worker_runs = d:get("init_worker_runs") or 0,
    boot_started = d:get("boot_started") or 0, result = result and require("cjson").decode(result) or nil })
end

function M.app.in_log()
  ngx.shared.app:set("log", attempt_stop(shared_client))
end

function M.app.errors()
  ngx.say(require("cjson").encode{ init = init_error, init_worker = ngx.shared.app:get("init_worker"),
    log = ngx.shared.app:get("log") })
end

-- ?service=ecs&from=1&to=n [&shared=1] [&curl=1] [&endpoint=url] [&proxy=url]
-- [&retry=default | &attempts=n] [&observe=1] [&dry_run=1] [&timeout=s] [&wait_timeout=s]:
-- stops those servers (or a dry run); returns a summary (with observe, what on_request saw).
local function stop(args)
  local over = { proxy = args.proxy, retry = args.retry == "default" and NONE or nil,
                 timeout = tonumber(args.timeout) }
  if args.attempts then over.retry = { attempts = tonumber(args.attempts), base = 0.01, cap = 0.05 } end
  if args.endpoint then over.endpoints = { ecs = args.endpoint, bms = args.endpoint } end
  local seen
  if args.observe then -- on_request: what a metrics hook sees of each HTTP attempt
    seen = { n = 0, paths = {}, statuses = {}, fields = true }
    over.on_request = function(i)
      seen.n = seen.n + 1
      seen.paths[i.method .. " " .. i.path] = true
      seen.statuses[tostring(i.status)] = (seen.statuses[tostring(i.status)] or 0) + 1
      seen.fields = seen.fields and i.service == args.service and type(i.duration) == "number"
        and i.attempt >= 1 and type(i.request_id) == "string" and (i.ok or i.code ~= nil)
    end
  end
  -- The negative control: the blocking engine inside nginx.
  if args.curl then over.transport = "curl" end
  local c = args.metadata and metadata_client or args.shared and shared_client or client(over)
  local ids = {}
  for n = tonumber(args.from), tonumber(args.to) do
    ids[#ids + 1] = require("fakecloud.ids").server_id(args.service, n)
  end
  local t0 = ngx.now()
  -- A dropped stop never reached the emulator, which acts on a stop at once: a second is
  -- long enough for it to have shown one it took (the library's default is a minute).
  -- dry_run=1: a dry run, which looks the protection tag up (not forced) and sends no stop.
  local dry = args.dry_run == "1"
  local res, err = c["stop_" .. args.service](c, { ids = ids, force = not dry, dry_run = dry or nil,
    poll_interval = 0.05, resend_grace = 1, wait_timeout = tonumber(args.wait_timeout) })
  if not args.shared and not args.metadata then c:close() end
  ngx.update_time()
  if not res then return { error = tostring(err), code = err.code, elapsed = ngx.now() - t0 } end
  local f = res.failed[1]
  return { ok = res.ok, stopped = #res.stopped, failed = #res.failed, elapsed = ngx.now() - t0, observed = seen,
    first_failure = f and (f.code .. ": " .. f.message) or nil, first_code = f and f.code, phase = ngx.get_phase() }
end

function M.app.stop_now()
  ngx.say(require("cjson").encode(stop(ngx.req.get_uri_args())))
end

function M.app.stop_later()
  local args = ngx.req.get_uri_args()
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local okk, res = pcall(stop, args)
    ngx.shared.app:set("result:" .. args.key, require("cjson").encode(okk and res or { error = tostring(res) }))
  end)
  ngx.say(ok and "started" or err)
end

-- /<resolver>/stop and /<resolver>/fetch: the same handlers, under another resolver.
function M.app.by_path()
  if ngx.var.uri:match("/stop$") then return M.app.stop_now() end
  return M.app.fetch()
end

function M.app.result()
  local v = ngx.shared.app:get("result:" .. ngx.var.arg_key)
  if not v then return ngx.exit(404) end
  ngx.say(v)
end

-- Runs one request through the nginx transport: ?path=/raw/x (or url=), fresh, timeout,
-- max, verify, proxy; answers with the transport's response table as JSON.
function M.app.fetch()
  local a = ngx.req.get_uri_args()
  local t = require("cloud.net.transport").new{ concurrency = 2, timeout = tonumber(a.timeout) or 5,
    connect_timeout = 1, verify_tls = a.verify ~= "0", max_response = tonumber(a.max) or 1024 * 1024,
    proxy = a.proxy }
  local url = a.url or ("http://127.0.0.1:" .. ngx.var.server_port .. a.path)
  t:add(7, a.method or "GET", url, { ["X-Test"] = "1" }, a.body, a.fresh == "1")
  local done = t:run(10)
  ngx.say(require("cjson").encode(done[1] or { error = "no answer in 10 s" }))
end

-- Four calls to /hits, two in flight and two queued, then the queued ones dropped: how
-- many were dropped, answered and received, and what the transport has left.
function M.app.drop()
  local t = require("cloud.net.transport").new{ concurrency = 2, timeout = 5, connect_timeout = 1 }
  ngx.shared.app:set("hits", 0)
  local url = "http://127.0.0.1:" .. ngx.var.server_port .. "/hits"
  for id = 1, 4 do t:add(id, "GET", url, {}, nil, false) end
  local dropped, answered = t:drop_queued(), 0
  for _ = 1, 10 do
    answered = answered + #t:run(0.5)
    if answered >= 2 then break end
  end
  ngx.sleep(0.2) -- a call still sent would have arrived by now
  local active, queued = t:pending()
  ngx.say(require("cjson").encode{ dropped = dropped, answered = answered, hits = ngx.shared.app:get("hits"),
    active = active, queued = queued })
end

-- ?opt=name[&value=v]: cloud.new with that option (default value "/tmp/x.pem"); its error.
function M.app.new_error()
  local ok, err = pcall(client, { [ngx.var.arg_opt] = ngx.var.arg_value and ngx.unescape_uri(ngx.var.arg_value)
    or "/tmp/x.pem" })
  ngx.say(ok and "no error" or tostring(err))
end

-- ?record=path&from=&to=: servers from..to of the ECS fleet stopped with a record, then
-- the record restored, all inside nginx (cosockets; the record is plain file I/O).
function M.app.cycle()
  local a = ngx.req.get_uri_args()
  local ids = {}
  for n = tonumber(a.from), tonumber(a.to) do ids[#ids + 1] = require("fakecloud.ids").server_id("ecs", n) end
  local c = client()
  local stopped, serr = c:stop_ecs{ ids = ids, poll_interval = 0.05, record = a.record, force = true }
  local started, rerr = c:restore{ record = a.record, poll_interval = 0.05, force = true }
  c:close()
  ngx.say(require("cjson").encode{ stopped = stopped and #stopped.stopped, stop_error = serr and tostring(serr),
    started = started and #started.started, restore_error = rerr and tostring(rerr), phase = ngx.get_phase() })
end

-- cloud.fleet inside nginx: this emulator's project and one it does not know, ?n servers.
function M.app.fleet()
  local n = tonumber(ngx.var.arg_n)
  local f = require("cloud").fleet{ ak = cfg.ak, sk = cfg.sk, retry = { attempts = 2, base = 0.01, cap = 0.02 },
    targets = { { project_id = cfg.project_id, endpoints = { ecs = cfg.url } },
                { project_id = "ffffffffffffffffffffffffffffffff", endpoints = { ecs = cfg.url } } } }
  local res = f:stop_ecs{ filter = { all = true }, force = true, poll_interval = 0.05, max_servers = n }
  local shared = f.engine ~= nil
  f:close()
  local t1, t2 = res.targets[1], res.targets[2]
  ngx.say(require("cjson").encode{ stopped = t1.result and #t1.result.stopped, err1 = t1.err and tostring(t1.err),
    err2 = t2.err and t2.err.status, ok = res.ok, shared_engine = shared })
end

-- ?from=&to= [&shared=1] [&dict=name] [&wait_timeout=s] [&delay=s]: stops those ECS
-- servers (after `delay` seconds), with a
-- client of its own (keys and region, the project found through IAM; `dict`: its
-- join_dict) or the shared one that joins through "joins"; answers the ids it stopped,
-- the servers it joined, its failures, and the worker that ran it.
function M.app.joined()
  local a = ngx.req.get_uri_args()
  if a.delay then ngx.sleep(tonumber(a.delay)) end
  local c = a.shared and joining_client or client{ project_id = NONE, region = "cn-north-4", join_dict = a.dict,
    endpoints = { ecs = cfg.url, bms = cfg.url, iam = cfg.url } }
  local ids = {}
  for n = tonumber(a.from), tonumber(a.to) do ids[#ids + 1] = require("fakecloud.ids").server_id("ecs", n) end
  local res, err = c:stop_ecs{ ids = ids, force = true, poll_interval = 0.05, resend_grace = 1,
    wait_timeout = tonumber(a.wait_timeout) }
  if not a.shared then c:close() end
  ngx.say(require("cjson").encode(res and { ok = res.ok, requested = res.requested, stopped = res.stopped,
    failed = res.failed, skipped = res.skipped, joined = res.joined or {}, pid = ngx.worker.pid() }
    or { error = tostring(err), pid = ngx.worker.pid() }))
end

-- Hand-written answers on the raw connection, for the cases nginx would not produce.
local RAW = {
  chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Request-Id: req-1\r\nRetry-After: 3\r\n"
    .. "Date: Sun, 22 Nov 2026 10:15:00 GMT\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
  close = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\nuntil the end",
  interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
  big = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" .. ("x"):rep(5000),
  bigchunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    .. ("400\r\n" .. ("y"):rep(1024) .. "\r\n"):rep(6) .. "0\r\n\r\n",
  short = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..",
  garbage = "SMTP ready\r\n\r\n",
  hugeheader = "HTTP/1.1 200 OK\r\nX-Big: " .. ("z"):rep(20000) .. "\r\n\r\n",
}

function M.app.raw()
  local kind = ngx.var.uri:match("^/raw/(.*)$")
  ngx.req.read_body()
  local sock = assert(ngx.req.socket(true))
  if kind == "slow" then ngx.sleep(2) end
  -- A body of known length (or one chunk) whose bytes come one every half second, for 30 s.
  if kind == "trickle" or kind == "tricklechunked" then
    sock:send(kind == "trickle" and "HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n"
      or "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3c\r\n")
    for _ = 1, 60 do
      ngx.sleep(0.5)
      if not sock:send("x") then return end
    end
    return
  end
  if kind == "echo" then -- the request as received: method, target, length of body
    local body = ngx.req.get_body_data() or ""
    local text = ngx.req.get_method() .. " " .. ngx.var.request_uri .. " " .. #body .. " "
      .. tostring(ngx.req.get_headers()["x-test"])
    sock:send("HTTP/1.1 200 OK\r\nContent-Length: " .. #text .. "\r\n\r\n" .. text)
    return
  end
  sock:send(RAW[kind] or RAW.garbage)
end

return M
