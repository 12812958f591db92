--- Every default of the library, in one table: the client's options, both HTTP
-- transports (core.http in C and the nginx one), the retry policy and the stop's
-- options. core.http has defaults of its own for callers that give none; they equal
-- `http` here (spec/defaults_spec.lua checks), and the client always passes these.
-- @module cloud.base.defaults
return {
  -- The HTTP engine: calls in flight, seconds, and the largest answer body kept (bytes).
  http = {
    concurrency = 8,
    timeout = 30,
    connect_timeout = 10,
    verify_tls = true,
    max_response = 64 * 1024 * 1024,
  },
  -- Attempts per call, and the backoff's base and cap in seconds (cloud.net.retry). `later`
  -- (absent): the least wait before sending again what the cloud asked to retry later is
  -- cloud.classify's row (Ecs.0603, "try again in 1 minute": 60 s); given, it replaces it.
  retry = { attempts = 6, base = 1, cap = 60 },
  -- Servers tagged <protect_tag>=true are never stopped without `force`.
  protect_tag = "stop-protect",
  -- What lists name as their enterprise project: every one the caller was granted (as the
  -- Terraform provider does), so a user whose rights come through them sees their servers.
  enterprise_project_id = "all_granted_eps",
  -- Listing: a list answer claiming more servers than this is a bad answer, not a fleet
  -- (the count decides how many pages are asked for).
  list = { max_count = 1000000 },
  -- client:stop_ecs / stop_bms.
  -- shutdown_grace: how long jobs already accepted are still polled once nginx's worker is
  -- exiting; with the last look, well inside the 5 s Debian's init gives QUIT before TERM.
  stop = { poll_interval = 5, wait_timeout = 600, retry_failed = 1, shutdown_grace = 2 },
}
