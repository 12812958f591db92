--- Listing servers (`GET .../cloudservers/detail`, `.../baremetalservers/detail`) across all
-- pages: the first page tells the count, the rest are fetched concurrently.
-- @module cloud.servers
local unpack = table.unpack or unpack

local ready = require "cloud.ready"
local M = {}

local RESOURCE = { ecs = "cloudservers", bms = "baremetalservers" }
M.RESOURCE = RESOURCE

local PAGE = 1000 -- the most the API gives per page

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

--- Fetches every server of project `project_id` matching `query` on scheduler `sched`;
-- calls `on_done(servers)` or `on_done(nil, err)`. `on_page(done, total)` reports progress.
function M.fetch(sched, project_id, service, query, on_done, on_page)
  local pages, got, total_pages, failed = {}, 0, nil, false
  local listed = 0
  local function finish()
    local all = {}
    for p = 1, total_pages do
      for _, s in ipairs(pages[p]) do all[#all + 1] = s end
    end
    on_done(all)
  end
  local function on_page_result(page, r, count_out)
    if failed then return end
    if not r.ok or type(r.data.servers) ~= "table" then
      failed = true
      local err = r.err
      if not err then
        err = require("cloud.errors").new("cloud.bad_response", "list answer has no 'servers' array",
          r.status, r.request_id)
      end
      return on_done(nil, err)
    end
    pages[page] = r.data.servers
    got = got + 1
    listed = listed + #r.data.servers
    if count_out then count_out(r.data) end
    if on_page then on_page(listed, tonumber(r.data.count) or listed) end
    if total_pages and got == total_pages then finish() end
  end
  sched:request(page_call(project_id, service, query, 1, PAGE), function(r)
    on_page_result(1, r, function(data)
      local count = tonumber(data.count) or #data.servers
      total_pages = math.max(1, math.ceil(count / PAGE))
      -- A page shorter than the limit is the last whatever the count says.
      if #data.servers < PAGE then total_pages = 1 end
      for p = 2, total_pages do
        sched:request(page_call(project_id, service, query, p, PAGE), function(rp) on_page_result(p, rp) end)
      end
    end)
  end)
end

--- Looks up the servers with these ids; on_done(map id -> server) or on_done(nil, err).
-- ECS filters by id (`server_id=a,b`); BMS has no such filter, so its whole list is read.
function M.lookup(sched, project_id, service, ids, on_done)
  local wanted, found = {}, {}
  for _, id in ipairs(ids) do wanted[id] = true end
  if service == "bms" then
    return M.fetch(sched, project_id, service, {}, function(list, err)
      if not list then return on_done(nil, err) end
      for _, s in ipairs(list) do
        if type(s) == "table" and wanted[s.id] then found[s.id] = s end
      end
      on_done(found)
    end)
  end
  local CHUNK = 100 -- keeps the URL well under common 8 KiB limits
  local pending, failed = 0, false
  for i = 1, #ids, CHUNK do
    pending = pending + 1
    local chunk = { unpack(ids, i, math.min(i + CHUNK - 1, #ids)) }
    M.fetch(sched, project_id, service, { server_id = table.concat(chunk, ",") }, function(list, err)
      if failed then return end
      if not list then
        failed = true
        return on_done(nil, err)
      end
      for _, s in ipairs(list) do
        if type(s) == "table" and wanted[s.id] then found[s.id] = s end
      end
      pending = pending - 1
      if pending == 0 then on_done(found) end
    end)
  end
  if pending == 0 then on_done(found) end
end

--- client:list_ecs and client:list_bms (cloud/init.lua binds them).
function M.list(client, service, query)
  return client:_exclusive("client:list_" .. service, function()
    local ok, not_ready = ready.ensure(client)
    if not ok then return nil, not_ready end
    local sched = client:_scheduler()
    local out, err
    M.fetch(sched, client.project_id, service, query or {}, function(list, e) out, err = list, e end)
    sched:run()
    return out, err
  end)
end

return M
