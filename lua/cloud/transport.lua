--- Picks the HTTP transport: libcurl's multi engine in the C core, or (inside nginx)
-- the nginx one. Both have :add(id, method, url, headers, body) and :run(timeout).
-- @module cloud.transport
local M = {}

function M.new(opts)
  local core = require "cloud.core"
  return core.http{
    concurrency = opts.concurrency,
    timeout = opts.timeout,
    connect_timeout = opts.connect_timeout,
    verify_tls = opts.verify_tls,
    ca_file = opts.ca_file,
    proxy = opts.proxy,
    max_response = opts.max_response,
  }
end

return M
