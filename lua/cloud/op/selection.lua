--- Choosing what a stop may touch: a filter turned into a cloud-side list query plus Lua
-- predicates, the protection tag, exclusions, and the blast-radius guard.
-- @module cloud.op.selection
local actions = require "cloud.op.actions"
local client_mod = require "cloud.client"
local F = require "cloud.filter"
local errors = require "cloud.errors"
local pattern = require "cloud.op.pattern"
local servers = require "cloud.op.servers"

local unpack = table.unpack or unpack
local M = {}

local FILTER_KEYS = { status = true, name = true, tags = true, az = true, flavor = true, exclude = true,
                      where = true, all = true, enterprise_project_id = true }
-- Keys that choose servers: a filter needs one of them, or all = true, so that an empty
-- table (a forgotten variable, a typo's leftover) can never mean "every server".
local CHOOSING = { "status", "name", "tags", "az", "flavor", "where" }
local BAREMETAL_TAG = "__type_baremetal"

local function fail(where, field, problem)
  errors.argument(where, "filter." .. field, problem)
end

local function strings(where, field, v)
  if type(v) == "string" then return { v } end
  if type(v) ~= "table" or #v == 0 then fail(where, field, "must be a string or an array of strings") end
  for _, x in ipairs(v) do
    if type(x) ~= "string" then fail(where, field, "must hold only strings") end
  end
  return v
end

--- Checks opts.filter; returns { query = <cloud-side query>, match = fn(server), exclude = set }.
function M.compile(where, filter)
  if type(filter) ~= "table" then errors.argument(where, "filter", "must be a table") end
  for k in pairs(filter) do
    if not FILTER_KEYS[k] then fail(where, tostring(k), "is unknown") end
  end
  if filter.all ~= nil and filter.all ~= true then fail(where, "all", "must be true (or left out)") end
  local chooses = false
  for _, k in ipairs(CHOOSING) do chooses = chooses or filter[k] ~= nil end
  if not chooses and not filter.all then
    errors.argument(where, "filter", "chooses nothing: give status, name, tags, az, flavor or where;"
      .. " to stop every server on purpose, say filter = { all = true }")
  end
  if chooses and filter.all then fail(where, "all", "cannot go with other choices") end
  local query, preds, exclude = {}, {}, {}
  if filter.status ~= nil then
    local st = strings(where, "status", filter.status)
    if #st == 1 then query.status = st[1]:upper() end -- the API takes one status, in capitals
    preds[#preds + 1] = F.status(unpack(st))
  end
  if filter.name ~= nil then
    if type(filter.name) ~= "string" then fail(where, "name", "must be a Lua pattern string") end
    local ok, why = pattern.check(filter.name)
    if not ok then fail(where, "name", "is not a valid Lua pattern (" .. tostring(why) .. ")") end
    ok, why = pattern.affordable(filter.name)
    if not ok then fail(where, "name", why) end
    preds[#preds + 1] = F.name(filter.name)
  end
  if filter.tags ~= nil then
    if type(filter.tags) ~= "table" then fail(where, "tags", "must be a table") end
    local wire = {}
    local function add(k, v)
      if v == true then v = nil end -- { env = true }: the key with any value
      if type(k) ~= "string" or k == "" or (v ~= nil and type(v) ~= "string") then
        fail(where, "tags", "must map keys to string values (or true: any value), or list \"key=value\" strings")
      end
      preds[#preds + 1] = F.tag(k, v)
      -- A key alone stays off the wire: the list's `tags` may read a bare key as the key
      -- with the empty value (the reference does not say), and then find nothing.
      if v then wire[#wire + 1] = k .. "=" .. v end
    end
    for k, v in pairs(filter.tags) do
      if type(k) == "number" then
        if type(v) ~= "string" then fail(where, "tags", "must list \"key=value\" strings") end
        add(F.split_tag(v, nil, where))
      else
        add(k, v)
      end
    end
    table.sort(wire)
    if #wire > 0 then query.tags = wire end
  end
  if filter.az ~= nil then
    preds[#preds + 1] = F.az(unpack(strings(where, "az", filter.az)))
  end
  if filter.flavor ~= nil then
    local fl = strings(where, "flavor", filter.flavor)
    if #fl == 1 then query.flavor = fl[1] end
    preds[#preds + 1] = F.flavor(unpack(fl))
  end
  if filter.exclude ~= nil then
    for _, id in ipairs(strings(where, "exclude", filter.exclude)) do exclude[id] = true end
  end
  if filter.where ~= nil then
    if type(filter.where) ~= "function" then fail(where, "where", "must be a function(server) -> boolean") end
    preds[#preds + 1] = filter.where
  end
  -- Not a choice: where to list (nil: the client's enterprise project), checked here so a
  -- bad value raises before any request.
  local eps = filter.enterprise_project_id
  if eps ~= nil then eps = client_mod.enterprise_project(where, "filter.enterprise_project_id", eps) end
  return { query = query, match = F.all(preds), exclude = exclude, eps = eps }
end

local function brief(s, reason)
  return { id = s.id, name = s.name, status = s.status, reason = reason }
end

--- Why a matching server must not be touched by `action` (cloud.op.actions; stop when nil), or nil.
-- `op`: the operation (or anything with its `protect_tag`).
function M.skip_reason(op, service, s, force, exclude, action)
  action = action or actions.stop
  if exclude and exclude[s.id] then return "excluded" end
  if not force and F.has_tag(s, op.protect_tag, "true") then return "protected" end
  if service == "ecs" and F.has_tag(s, BAREMETAL_TAG) then
    return "bare-metal server (use " .. action.name .. "_bms)"
  end
  if s.status == action.wanted then return action.skip_reason end
  return nil
end

--- Splits listed servers into selected ({id, name, status}) and skipped ({..., reason}).
function M.choose(op, service, list, compiled, force, action)
  local selected, skipped = {}, {}
  for _, s in ipairs(list) do
    if type(s) == "table" and type(s.id) == "string" and compiled.match(s) then
      local reason = M.skip_reason(op, service, s, force, compiled.exclude, action)
      if reason then skipped[#skipped + 1] = brief(s, reason)
      else selected[#selected + 1] = brief(s) end
    end
  end
  return selected, skipped
end

local function list_progress(o)
  if not o.on_progress then return nil end
  return function(done, total)
    pcall(o.on_progress, { phase = "list", done = done, total = total, failed = 0 })
  end
end

--- What a stop will touch. Returns a plan `{ ids, selected, skipped, requested }`, or
-- `nil, err` when the servers could not be listed. `op`: the operation (a ready one:
-- client:operation); `o` holds the checked options.
function M.plan(op, service, o)
  local sched = op:scheduler(o.deadline)
  if o.filter then
    local list, err
    local eps = o.filter.eps
    if eps == nil then eps = op.enterprise_project_id end
    local query = servers.with_eps(o.filter.query, eps)
    if service == "ecs" then
      -- The ECS list holds the bare-metal servers too: the cloud leaves them out (the
      -- reference, "Listing"); M.skip_reason still checks every listed server.
      local q = {}
      for k, v in pairs(query) do q[k] = v end
      q["not-tags"] = BAREMETAL_TAG
      query = q
    end
    servers.fetch(sched, op.project_id, service, query, function(l, e) list, err = l, e end,
      list_progress(o))
    sched:run()
    if not list then return nil, err end
    local selected, skipped = M.choose(op, service, list, o.filter, o.force, o.action)
    local ids = {}
    for i, s in ipairs(selected) do ids[i] = s.id end
    return { ids = ids, selected = selected, skipped = skipped, requested = #ids }
  end

  local ids = o.ids
  local plan = { ids = ids, skipped = {}, requested = #ids }
  if o.dry_run then
    plan.selected = {}
    for i, id in ipairs(ids) do plan.selected[i] = { id = id } end
  end
  if o.force then return plan end
  -- Stopping by id still honours the protection tag. One query for the protected servers
  -- (usually a few) costs far less than looking every id up. It is a list, of every
  -- enterprise project granted even when the client names one (an id may be of any):
  -- without, a caller whose rights come through them would see no protected server.
  local protected, err
  servers.fetch(sched, op.project_id, service,
    servers.with_eps({ tags = op.protect_tag .. "=true" }, op.enterprise_project_id and "all_granted_eps"),
    function(l, e) protected, err = l, e end)
  sched:run()
  if not protected then
    plan.ids, plan.unchecked = {}, ids
    plan.check_error = errors.new(err.code, "could not check the protection tag, so nothing was sent: "
      .. tostring(err.message), err.status, err.request_id)
    return plan
  end
  local guarded = {}
  for _, s in ipairs(protected) do
    -- Checked again here: the cloud's tag filter is not trusted to be exact.
    if type(s) == "table" and type(s.id) == "string" and F.has_tag(s, op.protect_tag, "true") then
      guarded[s.id] = s
    end
  end
  if not next(guarded) then return plan end
  local keep, selected = {}, plan.selected and {}
  for _, id in ipairs(ids) do
    if guarded[id] then
      plan.skipped[#plan.skipped + 1] = brief(guarded[id], "protected")
    else
      keep[#keep + 1] = id
      if selected then selected[#selected + 1] = { id = id } end
    end
  end
  plan.ids, plan.selected = keep, selected
  return plan
end

return M
