--- Listing servers (`GET .../cloudservers/detail`, `.../baremetalservers/detail`) across all
-- pages: the first page tells the count, the rest are fetched concurrently, a window of
-- them at a time. What an answer claims (its count) never decides how much is asked for
-- or held at once: a count past any real fleet is a bad answer, and the pages in flight
-- are bounded whatever the count says.
-- @module cloud.op.servers
local defaults = require "cloud.base.defaults"
local errors = require "cloud.errors"
local unpack = table.unpack or unpack

local M = {}

local RESOURCE = { ecs = "cloudservers", bms = "baremetalservers" }
M.RESOURCE = RESOURCE

local PAGE = 1000 -- the most the API gives per page
M.PAGE = PAGE
-- Pages asked for and not yet answered, at most: the next one is asked for as one comes
-- back. Twice the default concurrency, so the engine always has the next page signed.
local WINDOW = 16
M.WINDOW = WINDOW
local MAX_COUNT = defaults.list.max_count

local function page_call(project_id, service, query, page, limit)
  local q = {}
  for k, v in pairs(query) do q[k] = v end
  q.offset, q.limit = page, limit
  return {
    service = service, method = "GET", idempotent = true, query = q,
    path = ("/v1/%s/%s/detail"):format(project_id, RESOURCE[service]),
    label = ("list %s page %d"):format(service, page),
  }
end

--- Reads one list answer (decoded JSON): its servers and the count it claims, or nil and
-- what is wrong with it. A count that is not a whole number from 0 to
-- `defaults.list.max_count` is wrong (an absent one is the page's length).
function M.read_page(data)
  if type(data) ~= "table" then return nil, "the list answer is not a JSON object" end
  local list = data.servers
  if type(list) ~= "table" or (next(list) ~= nil and list[1] == nil) then
    return nil, "the list answer has no 'servers' array"
  end
  if #list > PAGE then
    return nil, ("the list answer has %d servers in a page of %d"):format(#list, PAGE)
  end
  local count = data.count
  if count == nil or type(count) == "userdata" then return list, #list end -- absent, or JSON null
  local n = tonumber(count)
  if not n or n ~= n or n < 0 or n > MAX_COUNT or n % 1 ~= 0 then
    return nil, ("the list answer's count (%s) is not a number of servers from 0 to %d")
      :format(tostring(count):sub(1, 40), MAX_COUNT)
  end
  return list, n
end

--- The error of a list call answered 404, whatever its code (`APIGW.0101`, an `Ecs.*`
-- one, none): a list that matches nothing is a 200 with no servers, so a 404 says the list
-- itself, the project's, is not there (another cloud, region or project), never that its
-- servers are gone. Its code, status and request id stay; `project_not_found` marks it.
function M.project_not_found(err, project_id, service)
  local e = errors.new(err.code, ("project %s has no %s server list at this endpoint (HTTP 404): it is "
    .. "another cloud's or region's, or no project; nothing can be said of its servers (%s)")
    :format(tostring(project_id), service:upper(), tostring(err.message)), err.status, err.request_id, err.kind)
  e.details, e.project_not_found = err.details, true
  return e
end

--- Fetches every server of project `project_id` matching `query` on scheduler `sched`;
-- calls `on_done(servers)` or `on_done(nil, err)`. `on_page(done, total)` reports progress.
function M.fetch(sched, project_id, service, query, on_done, on_page)
  local pages, listed, count = {}, 0, nil
  local next_page, last_page, in_flight, failed = 1, 1, 0, false
  local ask -- asks for pages up to the window
  local function finish()
    local all = {}
    for p = 1, last_page do
      for _, s in ipairs(pages[p]) do all[#all + 1] = s end
    end
    on_done(all)
  end
  local function on_result(page, r)
    in_flight = in_flight - 1
    if failed then return end
    local list, n
    if r.ok then list, n = M.read_page(r.data) end
    if not list then
      failed = true
      local err = r.err or errors.new("cloud.bad_response", n, r.status, r.request_id)
      if r.status == 404 then err = M.project_not_found(err, project_id, service) end
      return on_done(nil, err)
    end
    if page <= last_page then -- else past a short page: the listing ended before it
      pages[page] = list
      listed = listed + #list
      if page == 1 then
        count = n
        last_page = math.max(1, math.ceil(n / PAGE))
      end
      -- A page shorter than the limit is the last whatever the count says.
      if #list < PAGE and page < last_page then last_page = page end
      if on_page then on_page(listed, math.max(count, listed)) end
      ask()
    end
    if in_flight == 0 and next_page > last_page then finish() end
  end
  ask = function()
    while in_flight < WINDOW and next_page <= last_page do
      local p = next_page
      next_page, in_flight = next_page + 1, in_flight + 1
      sched:request(page_call(project_id, service, query, p, PAGE), function(r) on_result(p, r) end)
    end
  end
  ask() -- page 1: its count tells how many more there are
end

--- Looks up the servers with these ids; `on_done(found, err, missed)`: `found` maps id ->
-- server for every id that could be looked up; `missed` lists the ids whose lookup failed
-- (`err` says why), nil when none did. A failed chunk costs only its own ids.
-- ECS filters by id (`server_id=a,b`); BMS has no such filter, so its whole list is read.
function M.lookup(sched, project_id, service, ids, on_done)
  local wanted, found = {}, {}
  for _, id in ipairs(ids) do wanted[id] = true end
  local function keep(list)
    for _, s in ipairs(list) do
      if type(s) == "table" and type(s.id) == "string" and wanted[s.id] then found[s.id] = s end
    end
  end
  if service == "bms" then
    return M.fetch(sched, project_id, service, {}, function(list, err)
      if not list then return on_done(found, err, ids) end
      keep(list)
      on_done(found)
    end)
  end
  local CHUNK = 100 -- keeps the URL well under common 8 KiB limits
  local pending, missed, last_err = 0, nil, nil
  for i = 1, #ids, CHUNK do
    pending = pending + 1
    local chunk = { unpack(ids, i, math.min(i + CHUNK - 1, #ids)) }
    M.fetch(sched, project_id, service, { server_id = table.concat(chunk, ",") }, function(list, err)
      if list then
        keep(list)
      else
        missed, last_err = missed or {}, err
        for _, id in ipairs(chunk) do missed[#missed + 1] = id end
      end
      pending = pending - 1
      if pending == 0 then on_done(found, last_err, missed) end
    end)
  end
  if pending == 0 then on_done(found) end
end

--- client:list_ecs and client:list_bms (cloud/init.lua binds them).
function M.list(client, service, query)
  return client:operation("client:list_" .. service, function(op)
    local ok, not_ready = op:ready()
    if not ok then return nil, not_ready end
    local sched = op:scheduler()
    local out, err
    M.fetch(sched, op.project_id, service, query or {}, function(list, e) out, err = list, e end)
    sched:run()
    return out, err
  end)
end

return M
