-- GET .../cloudservers/detail and .../baremetalservers/detail: filters and paging.
-- Filtered index lists are cached until the fleet changes (S.version), so walking
-- 100 pages of a 100,000-server fleet scans it once.
local fleet = require "fakecloud.fleet"
local json = require "fakecloud.json"
local scope = require "fakecloud.list_scope"

local M = {}

local PREFIX = { ecs = "Ecs", bms = "BMS" }
local BM_TAG = "__type_baremetal"
local unpack = unpack or table.unpack

local function split_commas(values)
  local out = {}
  for _, v in ipairs(values or {}) do
    for item in v:gmatch("[^,]+") do out[#out + 1] = item end
  end
  return out
end

-- How `tags` and `not-tags` match a server's "key=value" tags. The reference says only
-- "servers whose tag field contains this value", so the emulator can answer each reading
-- (config key `tag_match`); the client checks every answer again itself.
-- exact (default): `key=value` matches that tag only; a bare `key` any value of the key.
-- key: the key alone decides; `stop-protect=true` matches `stop-protect=false` too.
-- contains: any tag whose text contains the query, `stop-protect=true` in `no-stop-protect=true`.
-- whole: the query is a tag's whole text; a bare `key` matches only a tag with the empty value.
local MATCHERS = {
  whole = function(t, want, key_only) return t == want or (key_only and t == want .. "=") end,
  exact = function(t, want, key_only) return t == want or (key_only and t:match("^([^=]*)") == want) end,
  key = function(t, want) return t:match("^([^=]*)") == want:match("^([^=]*)") end,
  contains = function(t, want) return t:find(want, 1, true) ~= nil end,
}

--- The matcher configured as `tag_match` (nil: exact); raises on an unknown one.
function M.tag_matcher(name)
  local m = MATCHERS[name or "exact"]
  if not m then error("tag_match must be \"exact\", \"key\", \"contains\" or \"whole\"", 0) end
  return m
end

local function has_tag(match, tags, want)
  local key_only = not want:find("=", 1, true)
  for _, t in ipairs(tags) do
    if match(t, want, key_only) then return true end
  end
  return false
end

-- Filters that depend only on the group.
local function group_ok(g, f, extra_tag)
  local tags = g.tags
  if extra_tag then tags = { extra_tag, unpack(g.tags) } end
  for _, t in ipairs(f.tags) do if not has_tag(f.tag_match, tags, t) then return false end end
  for _, t in ipairs(f.not_tags) do if has_tag(f.tag_match, tags, t) then return false end end
  if f.flavor and g.flavor.id ~= f.flavor then return false end
  if f.eps and not f.eps[g.enterprise_project_id] then return false end
  if f.reservation_id and g.reservation_id ~= f.reservation_id then return false end
  return true
end

local function server_ok(K, g, index, f)
  if f.status and fleet.status(K, g, index) ~= f.status then return false end
  if f.name and not fleet.name(g, index):find(f.name, 1, true) then return false end
  if f.ip_eq and fleet.ip(K, index) ~= f.ip_eq then return false end
  if f.ip and not fleet.ip(K, index):find(f.ip, 1, true) then return false end
  return true
end

-- The kinds shown by a listing, in order, with the tag marking each.
local function sources(S, kind)
  if kind == "bms" then return { { S.fleet.bms } } end
  local out = { { S.fleet.ecs } }
  if S.cfg.bms_in_ecs_list then out[2] = { S.fleet.bms, BM_TAG } end
  return out
end

-- Matching servers as two parallel arrays (fleet, index).
local function scan(S, kind, f)
  local Ks, Is = {}, {}
  for _, src in ipairs(sources(S, kind)) do
    local K, tag = src[1], src[2]
    if f.server_ids then
      for _, id in ipairs(f.server_ids) do
        local i = fleet.lookup(K, id)
        if i then Ks[#Ks + 1], Is[#Is + 1] = K, i end
      end
    else
      for _, g in ipairs(K.groups) do
        if group_ok(g, f, tag) then
          for i = g.first, g.first + g.count - 1 do
            if server_ok(K, g, i, f) then Ks[#Ks + 1], Is[#Is + 1] = K, i end
          end
        end
      end
    end
  end
  if f.stubs then -- the ids no listed server has: K false, the id in place of an index
    local seen = {}
    for n, K in ipairs(Ks) do seen[fleet.id(K, Is[n])] = true end
    for _, id in ipairs(f.server_ids) do
      if not seen[id] then Ks[#Ks + 1], Is[#Is + 1] = false, id end
    end
  end
  return Ks, Is
end

-- The list's filters, or nil, status, answer when the caller may not list what it names.
local function parse(S, kind, args)
  local function one(k) local v = args[k] return v and v[#v] end
  local f = { tags = split_commas(args.tags), not_tags = split_commas(args["not-tags"]),
              name = one("name"), status = one("status"), flavor = one("flavor"),
              reservation_id = one("reservation_id") }
  if f.name == "" then f.name = nil end
  if kind == "ecs" then
    f.ip, f.ip_eq = one("ip"), one("ip_eq")
    f.server_ids = scope.server_ids(S.cfg, args.server_id)
    f.stubs = f.server_ids and scope.stubs(S.cfg)
  end
  if not f.server_ids then
    local eps, status, answer = scope.visible(S.cfg, kind, one("enterprise_project_id"))
    if eps == false then return nil, status, answer end
    f.eps = eps
  end
  return f
end

local function filter_key(f)
  if f.server_ids then return ("ids:%s:%s"):format(tostring(f.stubs), table.concat(f.server_ids, ",")) end
  local eps = {}
  for e in pairs(f.eps or {}) do eps[#eps + 1] = e end
  table.sort(eps)
  return table.concat({ table.concat(f.tags, ","), table.concat(f.not_tags, ","),
    f.name or "", f.status or "", f.flavor or "", f.eps and "eps:" .. table.concat(eps, ",") or "",
    f.reservation_id or "", f.ip or "", f.ip_eq or "" }, "\0")
end

local function unfiltered(f)
  return not f.server_ids and not f.eps and #f.tags == 0 and #f.not_tags == 0 and not (f.name or
    f.status or f.flavor or f.reservation_id or f.ip or f.ip_eq)
end

-- What the reference answers for an id no server has: every field null but id and fault.
local function stub(id)
  return { id = id, name = json.null, status = json.null, tags = json.null, flavor = json.null,
           metadata = json.null, ["OS-EXT-STS:task_state"] = json.null,
           fault = { code = 404, message = "Instance " .. id .. " could not be found." } }
end

-- args: name -> list of decoded values.
function M.list(S, kind, args)
  local function int(k, default)
    local v = args[k] and args[k][#args[k]]
    if v == nil or v == "" then return default end
    return v:match("^%d+$") and tonumber(v) or -1
  end
  local offset, limit = int("offset", 1), int("limit", 25)
  if offset < 1 then
    return 400, { error = { code = PREFIX[kind] .. ".0005", message = "offset must be a page number >= 1" } }
  end
  if limit < 1 or limit > 1000 then
    return 400, { error = { code = PREFIX[kind] .. ".0005", message = "limit must be 1..1000" } }
  end
  local f, refused, answer = parse(S, kind, args)
  if not f then return refused, answer end
  f.tag_match = S.tag_match
  local first = (offset - 1) * limit + 1
  local page = {}
  if unfiltered(f) then
    -- No scan: walk the sources by position.
    local count, pos = 0, 0
    for _, src in ipairs(sources(S, kind)) do
      local K, tag = src[1], src[2]
      for i = math.max(1, first - pos), math.min(K.total, first - pos + limit - 1) do
        page[#page + 1] = fleet.render(K, i, tag)
      end
      pos = pos + K.total
      count = count + K.total
    end
    return 200, { count = count, servers = json.array(page) }
  end
  local key = kind .. "\1" .. filter_key(f)
  local c = S.list_cache
  if not (c and c.key == key and c.version == S.version) then
    local Ks, Is = scan(S, kind, f)
    c = { key = key, version = S.version, Ks = Ks, Is = Is }
    S.list_cache = c
  end
  for n = first, math.min(#c.Is, first + limit - 1) do
    local K = c.Ks[n]
    if K then
      page[#page + 1] = fleet.render(K, c.Is[n], K.kind == "bms" and kind == "ecs" and BM_TAG or nil)
    else
      page[#page + 1] = stub(c.Is[n])
    end
  end
  return 200, { count = #c.Is, servers = json.array(page) }
end

return M
