--- The keys a client signs with: fixed ones (options, environment, credentials file), or
-- temporary ones from the ECS metadata service, fetched at the first call and again
-- before they expire. Either way the secret key and the security token are
-- cloud.core.secret values (C memory, wiped when closed or collected).
-- Both kinds have :ensure() (true, or nil and a cloud.no_credentials error), :current()
-- (the keys to sign with now: { ak, sk, token, generation }), :renew(generation) (after
-- a 401: true when keys newer than that generation are there to sign again with) and
-- :close().
-- @module cloud.auth.keys
local core = require "cloud.core"
local errors = require "cloud.errors"
local single_flight = require "cloud.net.single_flight"

local M = {}

-- The SDKs fetch again when less than about 40 minutes remain; a key that lives less
-- than twice that (a short-lived one, say 3 s in a test) is fetched again at half its
-- life, so it is neither used expired nor fetched at every call.
M.MARGIN = 40 * 60
-- After a failed fetch, the next try waits this long (the old keys serve meanwhile).
local RETRY_AFTER = 1

local Fixed = {}
Fixed.__index = Fixed

--- Keys given once (strings; the secret parts are copied into C memory here).
function M.fixed(ak, sk, token)
  return setmetatable({ keys = { ak = ak, sk = core.secret(sk), token = token and core.secret(token),
                                 generation = 1 } }, Fixed)
end

function Fixed.ensure(_) return true end -- a method of the interface: nothing to fetch
function Fixed:current() return self.keys end
function Fixed.renew(_) return false end -- fixed keys have no newer ones
function Fixed:close()
  self.keys.sk:close()
  if self.keys.token then self.keys.token:close() end
end

local Temporary = {}
Temporary.__index = Temporary

--- Keys from `source` (cloud.auth.metadata). `tried`: where else we looked and why that did
-- not serve (lines for the cloud.no_credentials message); `clock()`: the cloud's wall
-- clock (expiry times are the cloud's); `log(line, level)`.
function M.temporary(source, tried, clock, log)
  return setmetatable({ source = source, tried = tried, clock = clock, log = log, generation = 0,
                        retry_at = 0 }, Temporary)
end

-- Fetches new keys (one light thread at a time inside nginx; the others wait for it).
-- Returns true, or nil and why.
function Temporary:_fetch()
  return single_flight.run(self, 2 * 3 + 1, function()
    local gen = self.generation
    local k, why = self.source:fetch()
    if not k then
      self.retry_at = core.now() + RETRY_AFTER
      return nil, why
    end
    if self.generation ~= gen then return true end -- another fetch got there first
    local now = self.clock()
    local life = k.expires_at - now
    if life <= 0 then
      self.retry_at = core.now() + RETRY_AFTER
      return nil, ("its keys had expired when they arrived (expires_at %s s ago)"):format(math.floor(-life))
    end
    -- The service hands out the same keys until shortly before they expire: only new
    -- ones make a new generation (a call refused with these would be refused again).
    if not self.keys or self.keys.ak ~= k.ak then self.generation = gen + 1 end
    k.generation = self.generation
    -- The old keys are not closed here: a request still queued may carry their token.
    -- They are wiped when collected.
    self.keys = k
    self.refresh_at = k.expires_at - math.min(M.MARGIN, life / 2)
    self.fetched_at = core.now()
    return true
  end)
end

function Temporary:ensure()
  if self.keys then return true end
  local ok, why = self:_fetch()
  if ok then return true end
  if #self.tried == 0 then -- credentials = "metadata": the one place to look
    return nil, errors.new("cloud.no_credentials", ("no AK/SK from the %s (credentials = \"metadata\"): %s")
      :format(self.source:where(), tostring(why)))
  end
  local lines = {}
  for i, t in ipairs(self.tried) do lines[i] = t end
  lines[#lines + 1] = self.source:where() .. ": " .. tostring(why)
  return nil, errors.new("cloud.no_credentials", "no AK/SK; looked in: " .. table.concat(lines, "; "))
end

function Temporary:current()
  if not self.keys then
    -- Only when ensure failed and the caller went on: sign with nothing rather than crash.
    local ok, why = self:ensure()
    if not ok then error(why, 0) end
  end
  if self.clock() >= self.refresh_at and core.now() >= self.retry_at then
    local ok, why = self:_fetch()
    if not ok then
      self.log(("credentials: fetching new temporary keys from the %s failed (%s); %s")
        :format(self.source:where(), tostring(why),
          self.clock() < self.keys.expires_at and "the current ones serve until they expire"
          or "the current ones have expired"), "warning")
    end
  end
  return self.keys
end

--- After a 401 to a call signed with keys of `generation`: true when newer keys are
-- there (fetched now if none has been since, at most once a second).
function Temporary:renew(generation)
  if self.generation > generation then return true end
  if self.fetched_at and core.now() - self.fetched_at < RETRY_AFTER then return false end
  if core.now() < self.retry_at then return false end
  local ok = self:_fetch()
  return ok and self.generation > generation or false
end

function Temporary:close()
  if self.source then self.source:close() end
  if self.keys then
    self.keys.sk:close()
    self.keys.token:close()
  end
end

M.is_temporary = function(k) return getmetatable(k) == Temporary end

return M
