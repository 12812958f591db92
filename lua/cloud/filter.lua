--- Predicates over server tables (as the list calls return them), and ways to combine
-- them. Each constructor returns `function(server) -> boolean`, for `filter.where` of
-- `stop_options` or for your own lists. A constructor checks its arguments when called and
-- raises an `Error` of kind `argument` naming `cloud.filter.<constructor>`; the predicates
-- it returns never raise, whatever the server table holds.
-- @module cloud.filter
-- @usage
-- local F = require "cloud.filter"
-- local pick = F.all{ F.status("ACTIVE"), F.name("^web%-%d+$"), F.none{ F.tag("tier", "db") } }
-- client:stop_ecs{ filter = { where = pick } }
local errors = require "cloud.errors"
local pattern = require "cloud.op.pattern"

local M = {}

local function set_of(values, where, fold)
  local set = {}
  for i, v in ipairs(values) do
    if type(v) ~= "string" then
      errors.argument("cloud.filter." .. where, nil, ("argument %d must be a string"):format(i))
    end
    set[fold and fold(v) or v] = true
  end
  if next(set) == nil then errors.argument("cloud.filter." .. where, nil, "give at least one value") end
  return set
end

--- Whether a server has a tag.
-- @tparam table server a server table; its `tags` is an array of `"key=value"` strings
-- @tparam string key the tag's key
-- @tparam[opt] string value the tag's value; nil: any value
-- @treturn boolean true when `server.tags` holds the tag (false for a server without tags)
function M.has_tag(server, key, value)
  local tags = type(server) == "table" and server.tags
  if type(tags) ~= "table" then return false end
  for _, t in ipairs(tags) do
    if type(t) == "string" then
      local k, v = t:match("^([^=]*)=?(.*)$")
      if k == key and (value == nil or v == value) then return true end
    end
  end
  return false
end

--- Splits `"key=value"` (or `key, value`) into key and value.
-- @tparam string key `"key=value"`, or a key alone (then `value`, or any value)
-- @tparam[opt] string value the value, when `key` is the key alone
-- @tparam[opt] string where the function to name in an error
-- @treturn string the key
-- @treturn ?string the value, or nil for "any value"
-- @raise an `Error` of kind `argument` when the key is not a non-empty string or the value
--   not a string
function M.split_tag(key, value, where)
  if type(key) ~= "string" or key == "" then errors.argument(where, nil, "tag key must be a non-empty string") end
  if value == nil then
    local k, v = key:match("^([^=]+)=(.*)$")
    if k then return k, v end
    return key, nil
  end
  if type(value) ~= "string" then errors.argument(where, nil, "tag value must be a string") end
  return key, value
end

--- Status is one of the given ones (`"ACTIVE"`, `"SHUTOFF"`, ...), in any letter case: the
-- cloud writes statuses in capitals, and "active" meaning nothing would be a trap.
-- @tparam string ... one status or more
-- @treturn function `function(server) -> boolean`
-- @raise an `Error` of kind `argument` for no status, or one that is not a string
function M.status(...)
  local set = set_of({ ... }, "status", string.upper)
  return function(s) return type(s.status) == "string" and set[s.status:upper()] == true end
end

--- Name matches a Lua pattern (not the cloud's fuzzy match). The pattern must be cheap
-- to match (cloud.pattern.affordable): one whose backtracking could take seconds a name
-- is refused. A name longer than the pattern can be matched against within that budget
-- (cloud.pattern.max_name; past 128 bytes, longer than ECS allows) does not match.
-- @tparam string p a Lua pattern, checked whole now (string.find would only notice a
--   malformed one when a name reached the bad part)
-- @treturn function `function(server) -> boolean`
-- @raise an `Error` of kind `argument` when `p` is not a string, not a valid pattern, or
--   too costly to match
function M.name(p)
  if type(p) ~= "string" then errors.argument("cloud.filter.name", nil, "pattern must be a string") end
  -- Checked whole now: string.find only notices a malformed pattern when matching gets there.
  local ok, err = pattern.check(p)
  if not ok then errors.argument("cloud.filter.name", nil, "bad Lua pattern: " .. tostring(err)) end
  ok, err = pattern.affordable(p)
  if not ok then errors.argument("cloud.filter.name", nil, "pattern " .. err) end
  local longest = pattern.max_name(p)
  return function(s)
    local name = s.name
    return type(name) == "string" and #name <= longest and name:find(p) ~= nil
  end
end

--- Has tag key=value: `tag("env", "prod")` or `tag("env=prod")`; `tag("env")` for any value.
-- @tparam string key the key, or `"key=value"`
-- @tparam[opt] string value the value; nil: any value (or the one in `key`)
-- @treturn function `function(server) -> boolean`
-- @raise an `Error` of kind `argument` as `split_tag`
function M.tag(key, value)
  local k, v = M.split_tag(key, value, "cloud.filter.tag")
  return function(s) return M.has_tag(s, k, v) end
end

--- In one of the availability zones (`OS-EXT-AZ:availability_zone`).
-- @tparam string ... one zone or more
-- @treturn function `function(server) -> boolean`
-- @raise an `Error` of kind `argument` for no zone, or one that is not a string
function M.az(...)
  local set = set_of({ ... }, "az")
  return function(s) return set[s["OS-EXT-AZ:availability_zone"]] == true end
end

--- Flavor id or name is one of the given ones.
-- @tparam string ... one flavor id or name, or more
-- @treturn function `function(server) -> boolean`
-- @raise an `Error` of kind `argument` for no flavor, or one that is not a string
function M.flavor(...)
  local set = set_of({ ... }, "flavor")
  return function(s)
    local f = type(s.flavor) == "table" and s.flavor or {}
    return set[f.id] == true or set[f.name] == true
  end
end

--- `metadata[key]` equals value (or exists, when value is nil).
-- @tparam string key the metadata key
-- @param[opt] value the value to compare with (`==`); nil: any value
-- @treturn function `function(server) -> boolean`
-- @raise an `Error` of kind `argument` when `key` is not a string
function M.metadata(key, value)
  if type(key) ~= "string" then errors.argument("cloud.filter.metadata", nil, "key must be a string") end
  return function(s)
    local m = type(s.metadata) == "table" and s.metadata or {}
    if value == nil then return m[key] ~= nil end
    return m[key] == value
  end
end

--- The id is one of the given ones.
-- @tparam string ... one server id or more
-- @treturn function `function(server) -> boolean`
-- @raise an `Error` of kind `argument` for no id, or one that is not a string
function M.id(...)
  local set = set_of({ ... }, "id")
  return function(s) return set[s.id] == true end
end

local function check_preds(preds, where)
  if type(preds) ~= "table" then errors.argument("cloud.filter." .. where, nil, "expected an array of predicates") end
  for i, p in ipairs(preds) do
    if type(p) ~= "function" then
      errors.argument("cloud.filter." .. where, nil, ("element %d is not a function"):format(i))
    end
  end
  return preds
end

--- Every predicate holds (true for an empty list).
-- @tparam {function,...} preds predicates `function(server) -> boolean`
-- @treturn function `function(server) -> boolean`
-- @raise an `Error` of kind `argument` when `preds` is not a table or holds a non-function
function M.all(preds)
  check_preds(preds, "all")
  return function(s)
    for _, p in ipairs(preds) do
      if not p(s) then return false end
    end
    return true
  end
end

--- At least one predicate holds (false for an empty list).
-- @tparam {function,...} preds predicates `function(server) -> boolean`
-- @treturn function `function(server) -> boolean`
-- @raise an `Error` of kind `argument` as `all`
function M.any(preds)
  check_preds(preds, "any")
  return function(s)
    for _, p in ipairs(preds) do
      if p(s) then return true end
    end
    return false
  end
end

--- No predicate holds (true for an empty list).
-- @tparam {function,...} preds predicates `function(server) -> boolean`
-- @treturn function `function(server) -> boolean`
-- @raise an `Error` of kind `argument` as `all`
function M.none(preds)
  local any = M.any(preds)
  return function(s) return not any(s) end
end

return M
