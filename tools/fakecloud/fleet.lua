-- The fleet: groups of servers described by the config, materialised lazily.
-- A server is (kind, index); only servers whose state changed get a table in K.state.
local ids = require "fakecloud.ids"
local json = require "fakecloud.json"
local config = require "fakecloud.config"

local M = {}

local BASE_TIME = 1704067200 -- 2024-01-01T00:00:00Z: "created" = base + index seconds
local SIZE_VCPUS = { small = 1, medium = 1, large = 2, xlarge = 4 }
local POWER = { ACTIVE = 1, SHUTOFF = 4 }

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t)) end
M.iso = iso

-- "s6.large.2" -> vcpus 2, ram 2*2 GiB; unknown shapes get 2 vCPU / 4 GiB.
local function flavor_of(f, kind)
  if type(f) == "table" then return f end
  f = f or (kind == "bms" and "physical.s4.large.4" or "s6.large.2")
  local size, ratio = f:match("%.(%w+)%.(%d+)$")
  local vcpus = SIZE_VCPUS[size or ""] or (size and tonumber(size:match("^(%d+)xlarge$") or "") or 0) * 4
  if vcpus == 0 then vcpus = 2 end
  return { id = f, name = f, vcpus = tostring(vcpus), ram = vcpus * (tonumber(ratio) or 2) * 1024 }
end

local function build_kind(kind, groups)
  local K = { kind = kind, groups = {}, total = 0, explicit = {}, state = {} }
  for gi, g in ipairs(groups or {}) do
    local v = config.val
    local count = v(g.id) and 1 or (tonumber(v(g.count)) or 1)
    local tags = {}
    for i, t in ipairs(v(g.tags) or {}) do tags[i] = t end
    local G = {
      first = K.total + 1, count = count, explicit_id = v(g.id),
      name = v(g.name) or (kind .. "-%d"), status = v(g.status) or "ACTIVE",
      tags = tags, az = v(g.az) or "cn-north-4a", flavor = flavor_of(v(g.flavor), kind),
      metadata = v(g.metadata) or {}, locked = v(g.locked) == true,
      enterprise_project_id = v(g.enterprise_project_id) or "0",
      reservation_id = v(g.reservation_id) or string.format("r-%s-%d", kind, gi),
    }
    if G.explicit_id then K.explicit[G.explicit_id] = G.first end
    G.templated = G.name:find("%", 1, true) ~= nil
    K.groups[#K.groups + 1] = G
    K.total = K.total + count
  end
  return K
end

function M.build(fleet_cfg)
  fleet_cfg = fleet_cfg or {}
  return { ecs = build_kind("ecs", config.val(fleet_cfg.ecs)),
           bms = build_kind("bms", config.val(fleet_cfg.bms)) }
end

function M.group(K, index)
  local gs = K.groups
  local lo, hi = 1, #gs
  while lo < hi do
    local mid = math.floor((lo + hi + 1) / 2)
    if gs[mid].first <= index then lo = mid else hi = mid - 1 end
  end
  return gs[lo]
end

function M.id(K, index)
  local g = M.group(K, index)
  return g.explicit_id or ids.server_id(K.kind, index)
end

function M.name(g, index)
  if not g.templated then return g.name end
  local ok, s = pcall(string.format, g.name, index - g.first + 1)
  return ok and s or g.name
end

-- index for an id of this kind, or nil.
function M.lookup(K, id)
  local index = K.explicit[id]
  if index then return index end
  local kind, i = ids.parse(id)
  if kind ~= K.kind or i < 1 or i > K.total then return nil end
  if M.group(K, i).explicit_id then return nil end
  return i
end

function M.status(K, g, index)
  local st = K.state[index]
  return st and st.status or g.status
end

function M.ip(K, index)
  local a = math.floor(index / 65536) % 256
  local b, c = math.floor(index / 256) % 256, index % 256
  if K.kind == "bms" then return string.format("172.%d.%d.%d", 16 + a % 16, b, c) end
  return string.format("10.%d.%d.%d", a, b, c)
end

function M.state(K, index)
  local st = K.state[index]
  if not st then st = {} K.state[index] = st end
  return st
end

-- The API's server object. extra_tag marks bare-metal servers in the ECS list.
function M.render(K, index, extra_tag)
  local g = M.group(K, index)
  local st = K.state[index] or {}
  local status = st.status or g.status
  local tags = g.tags
  if extra_tag then
    tags = { extra_tag }
    for i, t in ipairs(g.tags) do tags[i + 1] = t end
  end
  local created = BASE_TIME + index
  return {
    id = g.explicit_id or ids.server_id(K.kind, index),
    name = M.name(g, index),
    status = status,
    ["OS-EXT-STS:power_state"] = POWER[status] or 0,
    ["OS-EXT-STS:task_state"] = st.task or json.null,
    ["OS-EXT-STS:vm_state"] = status == "SHUTOFF" and "stopped" or status:lower(),
    locked = g.locked,
    metadata = g.metadata,
    tags = json.array(tags),
    flavor = g.flavor,
    ["OS-EXT-AZ:availability_zone"] = g.az,
    enterprise_project_id = g.enterprise_project_id,
    reservation_id = g.reservation_id,
    addresses = { ["vpc-" .. K.kind] = { { addr = M.ip(K, index), version = 4,
                                          ["OS-EXT-IPS:type"] = "fixed" } } },
    created = iso(created),
    updated = iso(st.updated or created),
  }
end

-- {STATUS = n} over the whole kind: group totals corrected by the changed servers.
function M.status_counts(K)
  local out = {}
  for _, g in ipairs(K.groups) do out[g.status] = (out[g.status] or 0) + g.count end
  for index, st in pairs(K.state) do
    if st.status then
      local gs = M.group(K, index).status
      if st.status ~= gs then
        out[gs] = out[gs] - 1
        out[st.status] = (out[st.status] or 0) + 1
      end
    end
  end
  for k, n in pairs(out) do if n == 0 then out[k] = nil end end
  return out
end

return M
