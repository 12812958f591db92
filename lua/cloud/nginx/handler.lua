--- Runs a handler or timer callback so that an error it does not catch reaches nginx's
-- error.log as text. lua-nginx-module (0.10.23, Debian 12) logs a raised table as
-- "runtime error: unknown reason", whatever its __tostring says: a caller's mistake (an
-- `Error` of kind `argument`, raised by the library) would reach the log without its
-- message. Secrets never appear in it: an `Error`'s text is its code, message, status and
-- request id, none of which holds a key.
-- @module cloud.nginx.handler
-- @usage
-- location = /stop { content_by_lua_block { require("cloud.nginx.handler").run(require("app").stop) } }
-- ngx.timer.at(0, require("cloud.nginx.handler").wrap(function(premature) ... end))
local M = {}

local unpack = table.unpack or unpack

-- What was raised, as text, with where it was raised: nginx's own traceback would show
-- only where run raised it again.
local function as_text(e)
  local text = e
  if type(e) ~= "string" then
    local ok, s = pcall(tostring, e)
    text = ok and s or ("(" .. type(e) .. " raised, whose __tostring failed)")
  end
  return debug.traceback(text, 2)
end

-- xpcall's results without its status, raising again (as text) on failure.
local function results(ok, ...)
  if not ok then error((...), 0) end
  return ...
end

--- Calls `fn(...)` and returns what it returns; whatever it raises is raised again as
-- text (a table through its __tostring), with the traceback of where it was raised.
-- @tparam function fn the handler
-- @return what fn returns
-- @raise what fn raised, as a string
function M.run(fn, ...)
  if type(fn) ~= "function" then
    error("cloud.nginx.handler.run: the handler must be a function, got " .. type(fn), 2)
  end
  local n, args = select("#", ...), { ... }
  return results(xpcall(function() return fn(unpack(args, 1, n)) end, as_text))
end

--- `fn` made into a function that runs it through `run`, for `ngx.timer.at` and
-- `ngx.timer.every` (a timer's error reaches error.log the same way).
-- @tparam function fn the callback
-- @treturn function
function M.wrap(fn)
  if type(fn) ~= "function" then
    error("cloud.nginx.handler.wrap: the callback must be a function, got " .. type(fn), 2)
  end
  return function(...) return M.run(fn, ...) end
end

return M
