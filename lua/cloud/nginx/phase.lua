--- Where inside nginx the cloud may be called: only phases that allow cosockets,
-- light threads and waiting. Elsewhere nginx would refuse (or block every request of
-- the worker), so callers get an error that names the phase and the way out.
-- @module cloud.nginx.phase
local M = {}

-- Phases where cosockets, ngx.thread and ngx.semaphore all work.
local ALLOWED = { rewrite = true, access = true, content = true, timer = true }

-- The directive a user wrote, for the phases people try most.
local DIRECTIVE = {
  init = "init_by_lua*", init_worker = "init_worker_by_lua*", set = "set_by_lua*",
  header_filter = "header_filter_by_lua*", body_filter = "body_filter_by_lua*",
  log = "log_by_lua*", balancer = "balancer_by_lua*", ssl_cert = "ssl_certificate_by_lua*",
  exit_worker = "exit_worker_by_lua*",
}

--- True when running inside nginx's Lua (the `ngx` API is there).
function M.in_nginx()
  return type(ngx) == "table" and type(ngx.get_phase) == "function"
end

--- Inside nginx, ngx.worker.exiting: true once the worker is shutting down (a graceful
-- quit, or the old worker of a reload), when no new stop call should leave. Nil elsewhere.
function M.exiting_check()
  if M.in_nginx() and type(ngx.worker) == "table" then return ngx.worker.exiting end
end

--- Raises a clear error unless the current phase may do network I/O and wait.
-- @tparam string what what was attempted, for the message
function M.check(what)
  local phase = ngx.get_phase()
  if ALLOWED[phase] then return end
  local where = DIRECTIVE[phase] and (" (" .. DIRECTIVE[phase] .. ")") or ""
  error(("cloud: cannot %s in nginx's '%s' phase%s: nginx allows no network I/O or waiting there. "
    .. "Run it from a content/access/rewrite handler, or start a timer from here: "
    .. "ngx.timer.at(0, function(premature) ... end)"):format(what, phase, where), 0)
end

return M
