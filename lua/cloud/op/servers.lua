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

-- The two ways of naming several ids in one ECS list call: the API reference's
-- `server_id=a&server_id=b` (an array: the signer repeats the key) and the Python SDK's
-- `server_id=a,b`. A cloud that reads only one of them finds none of the ids (or one) in
-- the other, which looks exactly like ids that do not exist. So neither is trusted until
-- one call of it has returned two of the ids asked for (a single-value reading cannot);
-- until then, ids it did not return are asked again in the other form, then one id per
-- call (the same in both readings). The form proven (or "single" when neither form
-- found what single ids did) is kept per client (`sched.listing.forms`).
local FORMS = {
  repeated = function(ids) return #ids == 1 and ids[1] or ids end,
  comma = function(ids) return table.concat(ids, ",") end,
}
local OTHER = { repeated = "comma", comma = "repeated" }

-- The query of a lookup: the ids, and `all_granted_eps` unless the client turned
-- enterprise projects off. The reference says a list by id ignores every other filter;
-- where it does not, `all_granted_eps` hides only servers the caller cannot act on, and a
-- caller whose rights come through enterprise projects may need it to be answered at all.
local function lookup_query(sched, server_id)
  local q = { server_id = server_id }
  local listing = sched.listing
  if listing and listing.enterprise_project_id ~= false then q.enterprise_project_id = "all_granted_eps" end
  return q
end

-- Looks `ids` (one chunk) up in ECS, whichever form the cloud reads: `keep(list, wanted)`
-- takes what each call returned; `done(missed, err)` comes once every id is settled
-- (`missed`: the ids whose lookup failed, and why).
local function lookup_chunk(sched, project_id, ids, keep, done)
  local forms = sched.listing and sched.listing.forms or {}
  local pending, missed, last_err = 0, nil, nil
  local function settle()
    pending = pending - 1
    if pending == 0 then done(missed, last_err) end
  end
  local function lost(list, err)
    missed, last_err = missed or {}, err
    for _, id in ipairs(list) do missed[#missed + 1] = id end
  end
  local function one_by_one(list)
    local found_alone = 0
    for _, id in ipairs(list) do
      pending = pending + 1
      M.fetch(sched, project_id, "ecs", lookup_query(sched, id), function(servers, err)
        if not servers then lost({ id }, err)
        elseif keep(servers, { [id] = true }) > 0 then
          found_alone = found_alone + 1
          -- Two ids found alone that both forms missed: neither works here.
          if found_alone == 2 and not forms.ecs then forms.ecs = "single" end
        end
        settle()
      end)
    end
  end
  local function ask(list, form, tried_other)
    if forms.ecs == "single" and #list > 1 then return one_by_one(list) end
    pending = pending + 1
    local wanted = {}
    for _, id in ipairs(list) do wanted[id] = true end
    M.fetch(sched, project_id, "ecs", lookup_query(sched, FORMS[form](list)), function(servers, err)
      if not servers then
        lost(list, err)
        return settle()
      end
      if keep(servers, wanted) >= 2 then forms.ecs = form end -- a one-value reading returns one at most
      local rest = {}
      for _, id in ipairs(list) do
        if wanted[id] == true then rest[#rest + 1] = id end -- keep() marked those it found
      end
      -- Sure to be absent: one id asked, or asked in a form this cloud reads.
      if #rest > 0 and #list > 1 and forms.ecs ~= form then
        if #rest == 1 then ask(rest, form, true)
        elseif not tried_other then ask(rest, OTHER[form], true)
        else one_by_one(rest) end
      end
      settle()
    end)
  end
  ask(ids, FORMS[forms.ecs] and forms.ecs or "repeated", false)
end

--- Looks up the servers with these ids; `on_done(found, err, missed)`: `found` maps id ->
-- server for every id that could be looked up; `missed` lists the ids whose lookup failed
-- (`err` says why), nil when none did. A failed chunk costs only its own ids. A server
-- object without a status is no server found: the reference answers an unknown id with
-- one whose fields are all null but `id` and `fault`.
-- ECS filters by id (see FORMS); BMS has no such filter, so its whole list is read.
function M.lookup(sched, project_id, service, ids, on_done)
  local found = {}
  -- Keeps the servers of `list` that `wanted` (id -> true) asks for, marks them "found"
  -- there, and returns how many there were.
  local function keep(list, wanted)
    local n = 0
    for _, s in ipairs(list) do
      if type(s) == "table" and type(s.id) == "string" and type(s.status) == "string"
        and wanted[s.id] == true then
        found[s.id], wanted[s.id], n = s, "found", n + 1
      end
    end
    return n
  end
  if service == "bms" then
    local wanted = {}
    for _, id in ipairs(ids) do wanted[id] = true end
    return M.fetch(sched, project_id, service, lookup_query(sched, nil), function(list, err)
      if not list then return on_done(found, err, ids) end
      keep(list, wanted)
      on_done(found)
    end)
  end
  local CHUNK = 100 -- the reference's advice, which keeps the URL well under 8 KiB
  local pending, missed, last_err = 0, nil, nil
  for i = 1, #ids, CHUNK do
    pending = pending + 1
    lookup_chunk(sched, project_id, { unpack(ids, i, math.min(i + CHUNK - 1, #ids)) }, keep, function(m, err)
      for _, id in ipairs(m or {}) do
        missed = missed or {}
        missed[#missed + 1] = id
      end
      last_err = err or last_err
      pending = pending - 1
      if pending == 0 then on_done(found, last_err, missed) end
    end)
  end
  if pending == 0 then on_done(found) end
end

--- A list query with the enterprise project `eps` (the client's or the filter's option:
-- an EPS id, "all_granted_eps", or false for none) unless it names one already. The
-- caller's query is not changed.
function M.with_eps(query, eps)
  if not eps or query.enterprise_project_id ~= nil then return query end
  local q = { enterprise_project_id = eps }
  for k, v in pairs(query) do q[k] = v end
  return q
end

-- The ids of a `server_id` query value ("a,b", or an array of ids), or nil when it is not one.
local function ids_of(value)
  local ids = {}
  for _, v in ipairs(type(value) == "table" and value or { value }) do
    if type(v) ~= "string" then return nil end
    for id in v:gmatch("[^,]+") do ids[#ids + 1] = id end
  end
  if #ids > 0 then return ids end
end

--- client:list_ecs and client:list_bms (cloud.lua binds them). An ECS query naming
-- `server_id` is a lookup (M.lookup: sure whichever form the cloud reads), the servers in
-- the order their ids were given; the reference ignores the query's other filters then.
-- Any other list names the client's enterprise project unless the query does.
function M.list(client, service, query)
  return client:operation("client:list_" .. service, function(op)
    local ok, not_ready = op:ready()
    if not ok then return nil, not_ready end
    local sched = op:scheduler()
    local out, err
    local ids = service == "ecs" and query and query.server_id ~= nil and ids_of(query.server_id)
    if ids then
      M.lookup(sched, op.project_id, service, ids, function(found, e)
        err = e
        if e then return end
        out = {}
        for _, id in ipairs(ids) do out[#out + 1] = found[id] end
      end)
    else
      M.fetch(sched, op.project_id, service, M.with_eps(query or {}, op.enterprise_project_id),
        function(list, e) out, err = list, e end)
    end
    sched:run()
    return out, err
  end)
end

return M
