--- The cloud's time, as the client signs with it: our clock plus the skew measured from
-- an answer's Date when the cloud refused a signature for its date. One per client, so a
-- skew found once holds for every later call.
-- @module cloud.net.clock
local core = require "cloud.core"
local utc = require "cloud.base.utc"

local M = {}
local Clock = {}
Clock.__index = Clock

function M.new()
  return setmetatable({ offset = 0 }, Clock)
end

--- Epoch seconds as the cloud sees them.
function Clock:now()
  return core.time() + self.offset
end

--- The signing date ("20231114T221320Z") for now.
function Clock:date()
  return os.date("!%Y%m%dT%H%M%SZ", math.floor(self:now()))
end

--- Seconds the clock of an answer's Date header (IMF-fixdate) is ahead of ours, or nil.
-- Measured against our own clock, never the corrected one: `clock:skew(h)` reads no state.
function Clock.skew(_, date_header)
  local server = utc.from_http_date(date_header)
  if server then return server - core.time() end
end

--- From now on, signs with our clock moved by `skew` seconds.
function Clock:adjust(skew)
  self.offset = skew
end

return M
