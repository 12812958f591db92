-- Deterministic server ids: UUID-shaped, derived from (kind, index) so they can be
-- parsed back to an index without a table (a 1,000,000-server fleet costs nothing).
-- Layout: hhhhhhhh-KKKK-4hhh-ahhh-iiiiiiiiiiii  (K = kind tag, i = index, h = hash)
local M = {}

local KIND_TAG = { ecs = "0ec5", bms = "0b35" }
local KIND_SALT = { ecs = 7919, bms = 104729 }
local TAG_KIND = { ["0ec5"] = "ecs", ["0b35"] = "bms" }

-- Plain arithmetic stays exact below 2^53, so lua5.4 and LuaJIT agree.
local function mix(i, salt)
  local h = (i * 2654435761 + salt * 40503) % 4294967296
  local g = (i * 40503 + salt * 2246822519) % 16777216
  return h, g
end

function M.server_id(kind, index)
  local h, g = mix(index, KIND_SALT[kind])
  return string.format("%08x-%s-4%03x-a%03x-%012x", math.floor(h), KIND_TAG[kind],
    math.floor(g / 4096), math.floor(g % 4096), index)
end

-- Returns kind, index for an id made by server_id, else nil. The fields are taken by
-- position; rebuilding the id then checks every byte (cheaper than a pattern).
function M.parse(id)
  if type(id) ~= "string" or #id ~= 36 then return nil end
  local kind = TAG_KIND[id:sub(10, 13)]
  local index = kind and tonumber(id:sub(25), 16)
  if not index or M.server_id(kind, index) ~= id then return nil end
  return kind, index
end

-- Random UUID v4 for jobs; math.random is seeded per worker by the caller.
function M.uuid()
  local r = math.random
  return string.format("%08x-%04x-4%03x-%x%03x-%06x%06x", r(0, 0xffffffff), r(0, 0xffff),
    r(0, 0xfff), r(8, 11), r(0, 0xfff), r(0, 0xffffff), r(0, 0xffffff))
end

return M
