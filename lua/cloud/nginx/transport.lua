--- The transport inside nginx: requests run in light threads on cosockets, answers
-- wait in a queue, and :run waits on a semaphore, so the worker keeps serving other
-- requests meanwhile. Same interface as the C engine (core.http).
--
-- Each request or timer that uses the transport (told apart by its coroutine) gets its
-- own queue, threads and semaphore: nginx ties cosockets and threads to the request
-- that made them, and two requests sharing one client must never see each other's
-- answers. `concurrency` caps the calls in flight of each of them.
-- @module cloud.nginx.transport
local defaults = require "cloud.base.defaults".http
local connect = require "cloud.nginx.connect"
local http = require "cloud.nginx.http"
local phase = require "cloud.nginx.phase"

local M = {}
local Engine = {}
Engine.__index = Engine

--- Builds the engine; no I/O and nothing nginx-specific happens here.
-- @tparam table opts concurrency, timeout, connect_timeout, verify_tls, max_response, proxy
--   (an http:// URL: calls go through its CONNECT tunnel)
function M.new(opts)
  local n = opts.concurrency or defaults.concurrency
  local verify = opts.verify_tls
  if verify == nil then verify = defaults.verify_tls end
  return setmetatable({
    concurrency = n,
    http = {
      timeout = opts.timeout or defaults.timeout, connect_timeout = opts.connect_timeout or defaults.connect_timeout,
      verify = verify, max_response = opts.max_response or defaults.max_response,
      pool_size = n, proxy = opts.proxy and assert(connect.parse_proxy(opts.proxy)),
    },
    owners = setmetatable({}, { __mode = "k" }),
  }, Engine)
end

-- The caller's own state, made on first use.
function Engine:_owner()
  local co = coroutine.running()
  local o = self.owners[co]
  if not o then
    o = { queue = {}, qhead = 1, qtail = 0, done = {}, active = 0,
          sem = require("ngx.semaphore").new(0) }
    self.owners[co] = o
  end
  return o
end

-- A light thread: takes queued calls of its owner until there are none.
local function worker(self, o)
  while not self.closed and o.qhead <= o.qtail do
    local q = o.queue[o.qhead]
    o.queue[o.qhead] = nil
    o.qhead = o.qhead + 1
    local ok, res = pcall(http.request, self.http, q)
    if not ok then -- a bug, not the network: report it rather than lose the call
      res = { status = 0, body = "", sent = true, error = "transport", message = tostring(res) }
    end
    res.id = q.id
    o.done[#o.done + 1] = res
    o.sem:post(1)
  end
  o.active = o.active - 1
end

--- Queues a request; it starts at once when fewer than `concurrency` are in flight.
-- `fresh`: the call must not go twice, so it gets a new connection of its own.
function Engine:add(id, method, url, headers, body, fresh)
  if type(body) == "userdata" then body = body:string() end -- a cloud.core.body: cosockets send strings
  if self.closed then error("cloud.nginx.transport: the engine is closed", 2) end
  phase.check("send requests to the cloud")
  http.check(method, url, headers, body)
  local o = self:_owner()
  o.qtail = o.qtail + 1
  o.queue[o.qtail] = { id = id, method = method, url = url, headers = headers, body = body, fresh = fresh }
  if o.active < self.concurrency then
    o.active = o.active + 1
    local th, err = ngx.thread.spawn(worker, self, o)
    if not th then
      o.active = o.active - 1
      error("cloud.nginx.transport: cannot start a light thread: " .. tostring(err), 2)
    end
  end
end

--- Finished answers (maybe none). Waits, yielding to nginx, until one is there or
-- `timeout` seconds passed; with nothing in flight that is a plain non-blocking sleep.
function Engine:run(timeout)
  if self.closed then error("cloud.nginx.transport: the engine is closed", 2) end
  phase.check("wait for the cloud")
  local o = self:_owner()
  timeout = tonumber(timeout) or 0
  ngx.update_time()
  local deadline = ngx.now() + timeout
  -- Posts outlive the answers already taken, so a wake-up may find nothing: wait again.
  while #o.done == 0 do
    ngx.update_time()
    local left = deadline - ngx.now()
    if left <= 0 then break end
    o.sem:wait(left)
  end
  local done = o.done
  o.done = {}
  return done
end

--- In flight and queued calls, over every request or timer using the engine.
function Engine:pending()
  local active, queued = 0, 0
  for _, o in pairs(self.owners) do
    active = active + o.active
    queued = queued + (o.qtail - o.qhead + 1)
  end
  return active, queued
end

--- Drops the caller's calls not yet started, which will then never be sent; returns
-- how many, and their ids.
function Engine:drop_queued()
  local o = self.owners[coroutine.running()]
  if not o then return 0, {} end
  local ids = {}
  for i = o.qhead, o.qtail do
    ids[#ids + 1] = o.queue[i].id
    o.queue[i] = nil
  end
  o.qhead, o.qtail = 1, 0
  return #ids, ids
end

--- Stops taking calls. Calls in flight finish on their own (their threads belong to
-- their requests); pooled connections stay with nginx.
function Engine:close()
  self.closed = true
end

return M
