--- Stops in flight, so that overlapping stops are joined rather than sent twice. Before an
-- operation forms its first batch it claims each of its servers under a scope (endpoint,
-- project, service, action). A server another operation has claimed is not sent: this one
-- follows that owner's outcome for it, within its own deadline, and reports it as joined.
-- The owner publishes each server's outcome as its ledger records it, and whatever it has
-- not published when it ends, it releases as unconfirmed.
--
-- Two registries: the worker's own (a table of this Lua state: a worker's requests and
-- timers share it), and with a client's `join_dict`, a lua_shared_dict that every worker
-- of the nginx shares. Outside nginx nothing is claimed: an operation's loop there runs
-- until it ends, so two in one Lua state never overlap (docs/api.md).
-- @module cloud.op.inflight
local core = require "cloud.core"
local errors = require "cloud.errors"
local phase = require "cloud.nginx.phase"

local M = {}

-- A claim outlives its owner's deadline by this much: the owner's last look at the
-- deadline, and its release after it, still find their claims there.
local CLAIM_MARGIN = 60
-- How long a published outcome stays in a shared dict for joiners that poll it.
local OUTCOME_TTL = 300

local OUTCOMES = { done = true, already = true, failed = true }

-- An outcome as a string: "done", "already", or "failed\n<code>\n<message>".
local function encode(state, failure)
  if state ~= "failed" then return state end
  failure = failure or {}
  return ("failed\n%s\n%s"):format(tostring(failure.code or "cloud.failed"), tostring(failure.message or ""))
end

local function decode(v)
  local state, code, message = v:match("^(%a+)\n([^\n]*)\n(.*)$")
  if state then return { state = state, code = code, message = message } end
  return { state = v }
end

---------------------------------------------------------------------------------------
-- The worker's registry: scope -> id -> the owner's claim record ({ expires =, outcome =
-- {} }). A joiner keeps the record itself, so an outcome needs no key of its own and goes
-- with the last reference to it.
local Local = {}
Local.__index = Local
local worker_claims = {}

function Local.claim(_, scope, id, owner)
  local claims = worker_claims[scope]
  if not claims then
    claims = {}
    worker_claims[scope] = claims
  end
  local cur = claims[id]
  if cur and cur.expires > core.now() then return cur end
  claims[id] = owner
  return nil
end

function Local.publish(_, scope, id, owner, value)
  owner.outcome[id] = value
  local claims = worker_claims[scope]
  if claims and claims[id] == owner then claims[id] = nil end
end

-- The owner's outcome for `id`, "gone" when the owner let go without one, nil while pending.
function Local.look(_, scope, id, owner)
  local v = owner.outcome[id]
  if v then return v end
  local claims = worker_claims[scope]
  if not claims or claims[id] ~= owner or owner.expires <= core.now() then return "gone" end
end

function Local.token(_, deadline)
  return { expires = deadline + CLAIM_MARGIN, outcome = {} }
end

---------------------------------------------------------------------------------------
-- A lua_shared_dict: the claim is "j\0<scope>\0<id>" holding the owner's token (added
-- only when absent, atomically across workers, expiring after the owner's deadline); the
-- outcome "o\0<token>\0<id>".
local Shared = {}
Shared.__index = Shared
local tokens = 0

local function claim_key(scope, id) return "j\0" .. scope .. "\0" .. id end
local function outcome_key(token, id) return "o\0" .. token .. "\0" .. id end

function Shared:claim(scope, id, owner)
  local key = claim_key(scope, id)
  for _ = 1, 2 do
    local ok, err = self.dict:safe_add(key, owner.token, math.max(0.001, owner.expires - core.now()))
    if ok then return nil end
    if err ~= "exists" then
      -- The dict is full: this stop goes out as it would without joining, and says why once.
      if not self.full then
        self.full = true
        self.log(("join_dict %s: cannot record a stop in flight (%s); such servers are sent without joining")
          :format(self.name, tostring(err)), "warning")
      end
      return nil
    end
    local cur = self.dict:get(key)
    if cur then return cur end -- else it ended between the two: claim it again
  end
  return nil
end

function Shared:publish(scope, id, owner, value)
  self.dict:safe_set(outcome_key(owner.token, id), value, OUTCOME_TTL)
  local key = claim_key(scope, id)
  if self.dict:get(key) == owner.token then self.dict:delete(key) end
end

function Shared:look(scope, id, token)
  local okey = outcome_key(token, id)
  local v = self.dict:get(okey)
  if v then return v end
  if self.dict:get(claim_key(scope, id)) == token then return nil end
  -- Published between the two reads, or let go (or expired) without an outcome.
  return self.dict:get(okey) or "gone"
end

function Shared.token(_, deadline)
  tokens = tokens + 1
  return { token = ("%d-%d-%.3f"):format(ngx.worker.pid(), tokens, ngx.now()), expires = deadline + CLAIM_MARGIN }
end

---------------------------------------------------------------------------------------

--- The registry an operation of a client uses: inside nginx the worker's own, or the
-- shared dict named `dict`; nil outside nginx. `where` and `field` name the option in
-- the argument error raised when `dict` names no lua_shared_dict. `log(line, level)`.
function M.registry(dict, where, field, log)
  if not phase.in_nginx() then
    if dict ~= nil then
      errors.argument(where, field, "needs nginx (a lua_shared_dict); outside nginx no stops overlap")
    end
    return nil
  end
  if dict == nil then return setmetatable({}, Local) end
  local shared = ngx.shared[dict]
  if not shared then
    errors.argument(where, field, ("names no lua_shared_dict: add 'lua_shared_dict %s 10m;' to the http block "
      .. "of nginx.conf"):format(dict))
  end
  return setmetatable({ dict = shared, name = dict, log = log or function() end }, Shared)
end

--- The registry of one Lua state, for specs of it outside nginx (nginx uses M.registry).
function M.worker_registry()
  return setmetatable({}, Local)
end

local Claim = {}
Claim.__index = Claim

--- Claims each of `ids` (distinct) under `scope` until `deadline` (core.now() time).
-- Returns the claim: `own` (the ids to send, in order) and `joined` (one entry per id
-- another operation has in flight: `{ id = }`, filled in by :follow).
function M.claim(registry, scope, ids, deadline)
  local owner = registry:token(deadline)
  local c = setmetatable({ registry = registry, scope = scope, owner = owner, own = {}, joined = {},
                           follow_of = {}, published = {}, released = false }, Claim)
  for _, id in ipairs(ids) do
    local other = registry:claim(scope, id, owner)
    if other then
      c.joined[#c.joined + 1] = { id = id }
      c.follow_of[#c.joined] = other
    else
      c.own[#c.own + 1] = id
    end
  end
  return c
end

--- The owner's outcome for `id`, one of its own: "done", "already" or "failed" (with the
-- ledger's failure: code, message). The first one stands.
function Claim:settled(id, state, failure)
  if self.released or self.published[id] or not OUTCOMES[state] then return end
  self.published[id] = true
  self.registry:publish(self.scope, id, self.owner, encode(state, failure))
end

-- A joined entry's outcome, as the result shows it.
local function conclude(entry, v, done)
  entry.outcome = v.state == "done" and done or v.state
  if v.state == "failed" then entry.code, entry.message = v.code, v.message end
end

--- Follows the joined servers' owners on `sched` (whose deadline is this operation's),
-- every `interval` seconds, until each has an outcome or the deadline comes. `action`: a
-- table of cloud.op.actions (its `done` names the result's done servers, "stopped");
-- `wait_timeout` is for the message of a server still in flight at the deadline.
function Claim:follow(sched, interval, action, wait_timeout, deadline)
  if #self.joined == 0 then return end
  local done = action.done
  local pending = {}
  for i in ipairs(self.joined) do pending[#pending + 1] = i end
  local function look()
    local still, expired = {}, core.now() >= deadline
    for _, i in ipairs(pending) do
      local entry = self.joined[i]
      local v = self.registry:look(self.scope, entry.id, self.follow_of[i])
      if v == "gone" then
        conclude(entry, { state = "failed", code = "cloud.unconfirmed", message = "the operation this call joined"
          .. " ended without an outcome for this server known here (its request or worker may have ended)" }, done)
      elseif v then
        conclude(entry, decode(v), done)
      elseif expired then
        conclude(entry, { state = "failed", code = "cloud.wait_timeout", message = ("the %s this call joined,"
          .. " another operation's, was still in flight after %gs (this call's wait_timeout); it may yet"
          .. " complete"):format(action.name, wait_timeout) }, done)
      else
        still[#still + 1] = i
      end
    end
    pending = still
    if #pending > 0 then sched:after(interval, look) end
  end
  sched:after(interval, look)
end

--- Ends the claim: each own server without a published outcome is released as
-- unconfirmed (its joiners report that), and each joined server not concluded gets
-- `why` (an error: the call ended first, e.g. interrupted). Idempotent.
function Claim:release(why)
  if self.released then return end
  for _, id in ipairs(self.own) do
    self:settled(id, "failed", { code = "cloud.unconfirmed", message = "the operation that sent it ended"
      .. " without an outcome for it" })
  end
  self.released = true
  for _, entry in ipairs(self.joined) do
    if not entry.outcome then
      entry.outcome, entry.code = "failed", why and why.code or "cloud.unconfirmed"
      entry.message = why and why.message or "this call ended before the outcome it joined was seen"
    end
  end
end

return M
