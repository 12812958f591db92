--- The regions in which the official SDKs offer ECS and BMS, their default endpoints, the
-- IAM endpoint of each, and the nearest known names for a region that is not one of them.
-- @module cloud.auth.regions
local M = {}

local ECS = {
  "af-north-1", "af-south-1", "ae-ad-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
  "ap-southeast-4", "ap-southeast-5", "cn-east-2", "cn-east-3", "cn-east-4", "cn-east-5", "cn-north-1",
  "cn-north-2", "cn-north-4", "cn-north-9", "cn-north-11", "cn-north-12", "cn-south-1", "cn-south-2",
  "cn-south-4", "cn-southwest-2", "cn-southwest-3", "eu-west-0", "eu-west-101", "la-north-2",
  "la-south-2", "me-east-1", "my-kualalumpur-1", "na-mexico-1", "ru-moscow-1", "sa-brazil-1",
  "tr-west-1",
}

-- BMS: ECS's regions without these, plus ru-northwest-2.
local NOT_BMS = { ["af-north-1"] = true, ["ae-ad-1"] = true, ["ap-southeast-5"] = true,
                  ["cn-north-12"] = true, ["eu-west-0"] = true, ["eu-west-101"] = true }

local function set_of(list)
  local s = {}
  for _, r in ipairs(list) do s[r] = true end
  return s
end

local LISTS = { ecs = ECS, bms = {} }
for _, r in ipairs(ECS) do
  if not NOT_BMS[r] then LISTS.bms[#LISTS.bms + 1] = r end
end
LISTS.bms[#LISTS.bms + 1] = "ru-northwest-2"
for _, list in pairs(LISTS) do table.sort(list) end
local SETS = { ecs = set_of(LISTS.ecs), bms = set_of(LISTS.bms) }
M.SERVICES = { "ecs", "bms" }

-- The regions the SDKs' IAM table names, each at iam.{region}.myhuaweicloud.com unless
-- given here; IAM for any other region is the global https://iam.myhuaweicloud.com.
local IAM = set_of({
  "af-south-1", "ae-ad-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
  "cn-east-2", "cn-east-3", "cn-east-4", "cn-east-5", "cn-north-1", "cn-north-2", "cn-north-4",
  "cn-north-9", "cn-south-1", "cn-south-2", "cn-southwest-2", "eu-west-0", "eu-west-101", "la-north-2",
  "la-south-2", "me-east-1", "my-kualalumpur-1", "na-mexico-1", "ru-moscow-1", "sa-brazil-1", "tr-west-1",
})
local IAM_HOST = { ["eu-west-101"] = "iam.eu-west-101.myhuaweicloud.eu" }
M.GLOBAL_IAM = "https://iam.myhuaweicloud.com"

--- The regions where `service` ("ecs" or "bms") is offered, sorted; a new table each call.
function M.list(service)
  local out = {}
  for i, r in ipairs(LISTS[service] or {}) do out[i] = r end
  return out
end

--- Whether `service` is offered in `region`.
function M.offers(service, region)
  return SETS[service] ~= nil and SETS[service][region] == true
end

--- Whether any service here is offered in `region`.
function M.known(region)
  return SETS.ecs[region] or SETS.bms[region] or false
end

--- The default endpoint of `service` in a known region.
function M.endpoint(service, region)
  return ("https://%s.%s.myhuaweicloud.com"):format(service, region)
end

--- The IAM endpoint the SDKs use for `region`: its own for the regions in their table,
-- else the global one.
function M.iam_endpoint(region)
  if region and IAM[region] then
    return "https://" .. (IAM_HOST[region] or ("iam.%s.myhuaweicloud.com"):format(region))
  end
  return M.GLOBAL_IAM
end

-- Levenshtein distance, two rows at a time.
local function distance(a, b)
  local prev, cur = {}, {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    cur[0] = i
    local ca = a:byte(i)
    for j = 1, #b do
      local cost = ca == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev, cur = cur, prev
  end
  return prev[#b]
end
M.distance = distance

--- The known regions nearest to `region` (those at the smallest edit distance, at most
-- three, sorted), or {} when none is close enough to be the one meant.
function M.suggest(region)
  local scored = {}
  for r in pairs(SETS.ecs) do scored[#scored + 1] = { r, distance(region, r) } end
  for r in pairs(SETS.bms) do
    if not SETS.ecs[r] then scored[#scored + 1] = { r, distance(region, r) } end
  end
  table.sort(scored, function(x, y)
    if x[2] ~= y[2] then return x[2] < y[2] end
    return x[1] < y[1]
  end)
  -- A third of the name may differ: "cn-nort-4" is cn-north-4, "us-east-1" is nothing here.
  local limit = math.max(2, math.floor(#region / 3))
  local out = {}
  for i = 1, math.min(3, #scored) do
    if scored[i][2] <= limit and scored[i][2] == scored[1][2] then out[#out + 1] = scored[i][1] end
  end
  return out
end

return M
