--- cloud: stop and start Huawei Cloud ECS and BMS servers in batches.
-- `cloud.new{...}` builds a client; `client:stop_ecs{...}`, `client:start_ecs{...}` and
-- the BMS twins act on servers and report every server's outcome. See README.md for the
-- options. This file is the public face only: the work is done in cloud.stop,
-- cloud.servers and cloud.actions (see docs/architecture.md).
-- @module cloud
local account = require "cloud.account"
local actions = require "cloud.actions"
local client_mod = require "cloud.client"
local fleet = require "cloud.fleet"
local json = require "cloud.json"
local restore = require "cloud.restore"
local stop = require "cloud.stop"
local servers = require "cloud.servers"

local M = { VERSION = "0.1.0" }
local Client = client_mod.Client

--- Builds a client. Returns the client, or `nil, err` when nothing can be attempted.
-- @tparam table opts region, project_id, ak, sk, security_token, endpoints, concurrency,
--   timeout, connect_timeout, verify_tls, ca_file, proxy, retry, logger
M.new = client_mod.new

--- Encodes a result (or any table of plain values) as JSON, with its array fields written
-- as arrays even when empty (cjson alone writes `{}` for "no failures").
-- @function to_json
-- @tparam table res a result of stop_ecs / stop_bms
-- @treturn string JSON text
M.to_json = json.encode

--- Stops ECS servers. Returns the result table (see README), or `nil, err`.
-- @tparam table opts ids, type ("SOFT" default, or "HARD"), wait, poll_interval, wait_timeout,
--   retry_failed, on_progress
function Client:stop_ecs(opts)
  return stop.call(self, "ecs", opts)
end

--- Stops bare-metal servers (always HARD). Same options and result as stop_ecs.
function Client:stop_bms(opts)
  return stop.call(self, "bms", opts)
end

--- Starts ECS servers (`os-start`). The options and the result of stop_ecs, without
-- `type`, and with `started` in place of `stopped`; a filter skips servers already ACTIVE.
function Client:start_ecs(opts)
  return stop.call(self, "ecs", opts, actions.start)
end

--- Starts bare-metal servers; as start_ecs.
function Client:start_bms(opts)
  return stop.call(self, "bms", opts, actions.start)
end

--- Starts exactly the servers a stop's record (`record = "path"`) shows this tool stopped;
-- the record's other servers are skipped with why (off before, started or deleted since).
-- Takes the start's options (dry_run, wait, max_servers, confirm, ...) and `write_record`,
-- a record of the restore itself. Returns the start's result, or `nil, err`.
function Client:restore(opts)
  return restore.call(self, opts)
end

--- All ECS servers matching the cloud-side query (status, name, flavor, tags, ...), every
-- page read. Returns an array of server tables, or `nil, err`.
function Client:list_ecs(query)
  return servers.list(self, "ecs", query)
end

--- All bare-metal servers matching the query; as list_ecs.
function Client:list_bms(query)
  return servers.list(self, "bms", query)
end

--- One call across regions and projects: an object with the client's operations (stop_*,
-- start_*, restore, list_*), run on every target at once; see cloud.fleet.
-- @tparam table opts targets = { { region =, project_id =, endpoints = }, ... },
--   total_concurrency, and the client options of cloud.new for every target
M.fleet = fleet.new

--- The account's projects as IAM lists them (GET /v3/auth/projects): `{ id, name, region }`
-- each, or `nil, err`. Takes the client options (no project id needed) and, optionally,
-- an array of regions to keep.
M.projects = account.projects

--- Stops ECS servers with a client built from opts, the environment and the credentials file.
M.stop_ecs = stop.one_shot("ecs")
--- Stops bare-metal servers likewise.
M.stop_bms = stop.one_shot("bms")
--- Starts ECS servers with a client built from opts, the environment and the credentials file.
M.start_ecs = stop.one_shot("ecs", actions.start)
--- Starts bare-metal servers likewise.
M.start_bms = stop.one_shot("bms", actions.start)

return M
