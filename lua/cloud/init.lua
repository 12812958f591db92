--- Stop and start Huawei Cloud ECS and BMS servers in batches.
-- `cloud.new{...}` builds a client; `client:stop_ecs{...}` and `client:stop_bms{...}` stop
-- servers and report every server's outcome; `cloud.stop_ecs{...}` does both in one call.
--
-- Two kinds of failure: a mistake in the call (an unknown option, a value of the wrong type
-- or out of range, `filter = {}`) raises at once, before any request, an `Error` of kind
-- `argument` naming the function and the field; a failure of the world (network, cloud,
-- credentials) comes back as `nil, err` when nothing could be attempted, or per server in
-- the result's `failed`. See `cloud.errors`.
--
-- `client:start_ecs{...}` and `client:start_bms{...}` start servers with the same options,
-- `client:restore{...}` starts again what a stop's record shows this tool stopped, and
-- `cloud.fleet{...}` runs any of these across regions and projects at once.
--
-- This file is the public face only: the work is done in cloud.op.act, cloud.op.servers,
-- cloud.op.actions, cloud.record.restore and cloud.fleet (docs/architecture.md).
-- @module cloud
-- @usage
-- local cloud = require "cloud"
-- local client = assert(cloud.new{ region = "cn-north-4", project_id = "...",
--                                  ak = os.getenv("HUAWEICLOUD_SDK_AK"),
--                                  sk = os.getenv("HUAWEICLOUD_SDK_SK") })
-- local res = client:stop_ecs{ ids = { "616fb98f-46ca-475e-917e-2563e5a8cd19" } }
-- for _, f in ipairs(res.failed) do print(f.id, f.code, f.message, f.request_id) end
-- client:close()
local account = require "cloud.auth.account"
local actions = require "cloud.op.actions"
local client_mod = require "cloud.client"
local errors = require "cloud.errors"
local fleet = require "cloud.fleet"
local json = require "cloud.base.json"
local regions = require "cloud.auth.regions"
local restore = require "cloud.record.restore"
local wait_jobs = require "cloud.op.wait_jobs"
local stop = require "cloud.op.act"
local servers = require "cloud.op.servers"

local M = { VERSION = "0.1.0" }
local Client = client_mod.Client

--- The library's version, "major.minor.patch"; the C core reports the same
-- (`cloud.core.version`), and the release rockspec is named for it
-- (tools/release-rockspec.sh reads it from the line above).
-- @field VERSION

--- Builds a client. Credentials, project id and region that the options leave out are read
-- from the environment (`HUAWEICLOUD_SDK_AK`, `HUAWEICLOUD_SDK_SK`,
-- `HUAWEICLOUD_SDK_SECURITY_TOKEN`, `HUAWEICLOUD_SDK_PROJECT_ID`, `HUAWEICLOUD_SDK_REGION`),
-- then from the credentials file (`HUAWEICLOUD_SDK_CREDENTIALS_FILE`, default
-- `~/.huaweicloud/credentials`, section `[basic]` or the one `profile` names), and, with
-- none of those, from the ECS metadata service (temporary keys of the instance's agency). A project id none of them
-- gives is looked up in IAM. Nothing is sent here: keys from the metadata service and the
-- project lookup come with the first call, which returns `cloud.no_credentials` or
-- `cloud.no_project_id`, listing every place looked at, when they fail (or the IAM call's
-- own error, such as `APIGW.0301` for a wrong key, when that call failed).
-- @function new
-- @tparam[opt] new_options opts the client's options (none: everything from the environment)
-- @treturn Client the client
-- @return[2] nil
-- @treturn[2] Error err when nothing can be attempted: code `cloud.no_region` (no region
--   and no endpoint), `cloud.unknown_region` (a region the official SDKs do not list, with
--   the nearest names, and no endpoint for the service), `cloud.no_project_id` (none and
--   no region to look one up by), or `cloud.bad_environment` (a project id, region or
--   endpoint from the environment or the file that cannot be one); kind `config`
-- @raise an `Error` of kind `argument` for a malformed option: an unknown key, a wrong
--   type, a value out of range, a region or project id with characters it cannot have, an
--   endpoint that is not an http(s) URL; and `transport = "nginx"` outside nginx, or
--   `ca_file` inside it
M.new = client_mod.new

--- Options of `cloud.new`. Every key is optional; an unknown key raises (kind `argument`),
-- and so does a value of the wrong type or out of range, naming the option (`cloud.new:
-- option 'concurrency' must be an integer from 1 to 1024`).
-- @table new_options
-- @tfield[opt] string region the region (`"cn-north-4"`): the endpoints become
--   `https://ecs.<region>.myhuaweicloud.com` and `https://bms.<region>.myhuaweicloud.com`,
--   unless `HUAWEICLOUD_SDK_REGION_ECS_<REGION>` (and `_BMS_`) name others. Default:
--   `HUAWEICLOUD_SDK_REGION`. Lower-case letters, digits and inner `-`, or it raises.
--   Without a region or `endpoints`, `cloud.new` returns `nil, err` (`cloud.no_region`);
--   a region the SDKs do not list, without an endpoint for the service, `cloud.unknown_region`
--   (`cloud.regions(service)` lists the known ones).
-- @tfield[opt] string project_id the project the servers belong to. Default: the
--   environment, then the credentials file, then IAM (`GET /v3/projects?name=<region>`, at
--   the first call, kept for the process); none found: `cloud.no_project_id` from that call,
--   or the IAM call's own error when it failed (`APIGW.0301` for a wrong key). One given must
--   be 32 lowercase hex digits, the form IAM gives, or it raises (from the environment or the
--   file: `cloud.bad_environment`), before any call.
-- @tfield[opt] boolean project_id_check `false` takes a given project id of another form, on
--   purpose (default true).
-- @tfield[opt] string ak the access key. `ak`, `sk` and `security_token` always come whole
--   from one place: the options, else the environment, else the file, else the metadata
--   service. `ak` without `sk` (or the reverse) raises.
-- @tfield[opt] string profile the section of the credentials file to read (default
--   `HUAWEICLOUD_SDK_PROFILE`, else `basic`), for one file holding several accounts. Named
--   here, the keys come from that section, whatever the environment holds; cannot go with
--   `ak`, `sk`, `security_token` or `credentials`. A named section that is missing, or has
--   no `ak` and `sk`, makes `cloud.new` return `nil, err` (`cloud.no_credentials`) naming
--   the file and the section.
-- @tfield[opt] string credentials `"metadata"`: temporary keys from the ECS metadata
--   service only (refreshed before they expire; the secret and token kept in C memory);
--   cannot go with `ak`, `sk` or `security_token`.
-- @tfield[opt] boolean metadata_fallback `false`: never ask the metadata service
--   (`http://169.254.169.254`) when no other place has keys; `cloud.new` then returns
--   `cloud.no_credentials` at once. Default: `CLOUD_METADATA_FALLBACK` (`on` or `off`),
--   else true, as in the official SDKs. `credentials = "metadata"` still asks it.
-- @tfield[opt] string sk the secret key: copied into C memory that is wiped on `close` or
--   collection; it never appears in an error, a log line or `tostring(client)`.
-- @tfield[opt] string security_token the token of temporary credentials (sent as
--   `X-Security-Token` and signed).
-- @tfield[opt] table endpoints `{ ecs = "https://...", bms = "https://...", iam = ...,
--   metadata = ... }`: any scheme (http or https), host, port and path prefix, instead of
--   the region's (IAM: `HUAWEICLOUD_SDK_IAM_ENDPOINT`, then the region's IAM host; metadata:
--   `http://169.254.169.254`). Another key, or a value that is not such a URL, raises. A service without an
--   endpoint returns `nil, err` (`cloud.no_endpoint`) when a stop asks for it.
-- @tfield[opt=8] int concurrency requests in flight at once, 1 to 1024; as many more wait
--   signed, ready to leave the moment one ends (not when `timeout` is over 300 s: a
--   signature is good for 15 minutes).
-- @tfield[opt=30] number timeout seconds for one request, from 0.001. A request that takes
--   longer fails with `cloud.timeout` (retried, see `retry`).
-- @tfield[opt=10] number connect_timeout seconds to connect (TCP and TLS), from 0.001; a
--   connection that takes longer fails its call (retried, see `retry`).
-- @tfield[opt=true] boolean verify_tls check the server's certificate and host name. Only
--   `false` turns it off; no environment variable does. A refused certificate fails
--   with `cloud.tls` and is not retried.
-- @tfield[opt] string ca_file a PEM bundle to trust instead of the system store (a file
--   that cannot be read fails every call with `cloud.tls`). Raises inside nginx, whose
--   trust comes from `lua_ssl_trusted_certificate`.
-- @tfield[opt] string proxy an HTTP(S) proxy URL (`http://host:port`, credentials in it
--   percent-encoded), or `"env"`: `HTTPS_PROXY`, `NO_PROXY` and friends as curl reads them;
--   without it the proxy environment variables are ignored. Inside nginx `http://` only,
--   through a CONNECT tunnel.
-- @tfield[opt=67108864] int max_response the largest answer body kept, in bytes (64 MiB),
--   from 1024; a larger answer fails its call with `cloud.response_too_large`.
-- @tfield[opt] retry_options retry the retry policy; default
--   `{ attempts = 6, base = 1, cap = 60 }`.
-- @tfield[opt] function logger `function(line, level)`, called with one line per retry and
--   per failed call, naming the call, the code and the request id, never a secret; `level`
--   is `"warning"` for what to fix (a credentials file others may read), `"debug"` for the
--   lines `debug` asks for, nil otherwise. A logger that raises is ignored.
-- @tfield[opt=false] boolean debug also hand the logger, at level `"debug"`, one line per
--   HTTP attempt: `http <service> <method> <path template> -> <status> [code]
--   request_id=<id> attempt=<n> <seconds>s: <verdict>` (`ok`, `retry in 0.50s`, `throttled:
--   ...`, `failed`, ...). No header, key, token, signature, query or id is in it.
-- @tfield[opt] function on_request `function(info)`, once per HTTP attempt on either
--   transport, for metrics: `service`, `method`, `path` (a template, ids left out:
--   `/v1/{project_id}/jobs/{job_id}`), `status`, `code`, `ok`, `duration` (seconds),
--   `attempt`, `request_id`. What it raises is logged and ignored.
-- @tfield[opt="stop-protect"] string protect_tag servers tagged `<protect_tag>=true` are
--   not stopped without the stop option `force`.
-- @tfield[opt="all_granted_eps"] string|boolean enterprise_project_id the enterprise
--   project lists name: an EPS id, `"all_granted_eps"` (every one granted, as the Terraform
--   provider lists, so a user whose rights come through enterprise projects sees their
--   servers), or `false` for none. Lookups by id and the protection-tag check name
--   `all_granted_eps` unless it is `false`; stop calls name none.
-- @tfield[opt] string|table transport `"curl"` (libcurl in the C core) or `"nginx"` (cosockets,
--   without blocking the worker); default: `"nginx"` inside nginx, else `"curl"`.
--   `"nginx"` outside nginx raises. Or an engine object, used as it is (`cloud.net.transport`
--   says its methods: `add`, `run`, `pending`, `drop_queued`, `close`): one the caller built
--   with `cloud.net.transport.new`, or wrapped to watch what the client sends (the specs do).

--- The retry policy (`cloud.new{ retry = ... }`). What an answer means is `cloud.classify`'s
-- table (the code first, the HTTP status when the code is absent or unknown). Retried with
-- exponential backoff and full jitter: what the table calls `retry` (system exceptions, other
-- 5xx), `retry_later` (`Ecs.0603`: not sooner than its minute, or `later`) and `throttled`
-- answers to lists and job polls, connection failures and timeouts; never sooner than the
-- answer's `Retry-After` (up to `cap`). A stop call refused by flow control (202
-- `Common.0024`, 429 `APIGW.0308`, 503 `Common.1503`) is not retried but sent again at the
-- operation's pace, not counted against `attempts`. Never retried: what the table calls
-- permanent (400, 401, 403, 404, ...) and a refused certificate. An unknown key or a value
-- out of range raises.
-- @table retry_options
-- @tfield[opt=6] int attempts tries per call, first one included, 1 to 100.
-- @tfield[opt=1] number base seconds of the first backoff (at least 0); each next one
--   doubles, up to `cap`.
-- @tfield[opt=60] number cap the longest wait between two tries, seconds (at least 0).
-- @tfield[opt] number later the least wait before sending again what the cloud asked to retry
--   later (`Ecs.0603`, "try again in 1 minute"); default: the table's 60 s. Not capped by `cap`.

--- Encodes a result (or any table of plain values) as JSON, with its array fields
-- (`stopped`, `failed`, `jobs`, `selected`, `skipped`) written as arrays even when empty
-- (lua-cjson alone writes `{}` for "no failures"), object keys sorted, and functions,
-- userdata, NaN and infinities as `null`. The command line tool's `--json` prints exactly
-- this.
-- @function to_json
-- @tparam result res a result of `Client:stop_ecs` or `Client:stop_bms`
-- @treturn string JSON text
-- @raise when tables nest deeper than 32 levels (a table that holds itself, for one)
M.to_json = json.encode

--- The regions where the official SDKs offer a service, sorted (a new table each call).
-- @tparam string service `"ecs"` or `"bms"`
-- @treturn {string,...} region names
-- @raise an `Error` of kind `argument` for any other service
function M.regions(service)
  if service ~= "ecs" and service ~= "bms" then
    errors.argument("cloud.regions", "service", "must be \"ecs\" or \"bms\"")
  end
  return regions.list(service)
end

--- Stops ECS servers with a client built for this call, then closed: the client options
-- of `opts` (`new_options`) and the environment and credentials file build it, the
-- other keys are the stop's (`stop_options`).
-- @function stop_ecs
-- @tparam table opts `new_options` and `stop_options` in one table
-- @treturn result the result
-- @return[2] nil
-- @treturn[2] Error err when nothing could be attempted: what `cloud.new` or
--   `Client:stop_ecs` returns
-- @raise an `Error` of kind `argument` for a malformed option, before a client is built
--   (so even without credentials); kind `interrupted` as `Client:stop_ecs`
-- @usage local res, err = cloud.stop_ecs{ region = "cn-north-4", ids = ids, type = "HARD" }
M.stop_ecs = stop.one_shot("ecs")

--- Stops bare-metal servers with a client built for this call, as `stop_ecs`.
-- @function stop_bms
-- @tparam table opts `new_options` and `stop_options` in one table (`type` is `"HARD"`)
-- @treturn result the result
-- @return[2] nil
-- @treturn[2] Error err when nothing could be attempted
-- @raise an `Error` of kind `argument` for a malformed option; kind `interrupted` on Ctrl-C
M.stop_bms = stop.one_shot("bms")

--- Options of `Client:stop_ecs` and `Client:stop_bms`. Give exactly one of `ids` and
-- `filter`; anything else raises (kind `argument`), as does an unknown key or a value of
-- the wrong type or out of range, naming the option (`client:stop_ecs: option 'ids[3]'
-- must be a non-empty string without control characters`).
-- @table stop_options
-- @tfield[opt] {string,...} ids the servers to stop: each 1 to 256 bytes of valid UTF-8
--   without control characters, in an array without holes; repeats are sent once. Read in
--   place while the call runs (a million ids are not copied): leave the array unchanged
--   until it returns. `{}` asks for nothing: an ok result, no request sent.
-- @tfield[opt] filter_options filter choose the servers by what the cloud lists instead;
--   `{}` raises (a filter must choose: `{ all = true }` chooses every server on purpose).
-- @tfield[opt="SOFT"] string type ECS: `"SOFT"` or `"HARD"`; BMS: `"HARD"` only (the
--   default there).
-- @tfield[opt=true] boolean wait wait for the cloud's jobs: "stopped" then means the cloud
--   confirmed it (a SUCCESS sub-job, or the server seen `SHUTOFF`). `false`: stopped
--   means accepted in a job, whose status stays `"SUBMITTED"`.
-- @tfield[opt=5] number poll_interval seconds between two polls of a job (0 and fractions
--   allowed, negative raises).
-- @tfield[opt=600] number wait_timeout seconds for the whole call, from its start; a job
--   still running then fails its servers with `cloud.wait_timeout` (they may yet stop). A
--   stop call that flow control kept back until then is not sent, and its servers fail with
--   the cloud's code: the real cloud stops about 1000 servers a minute, so give 18,000
--   servers about 20 minutes.
-- @tfield[opt=1] int retry_failed how often servers whose sub-job failed with a code
--   `cloud.classify` says is worth another try (`Ecs.0603` after its minute, system
--   exceptions) are sent again, 0 to 10.
-- @tfield[opt] number servers_per_minute the pace of stop calls, in servers a minute, from
--   the first call and never exceeded (at least 1); without it the pace is learned from the
--   cloud's flow control (slow start, then AIMD).
-- @tfield[opt] number resend_grace seconds a stop call whose answer was lost is given to show
--   before a server still untouched is sent again (default: max(2 x timeout, 60)).
-- @tfield[opt] function on_progress `function(event)`, called as the stop goes on with a
--   `progress_event`; one that raises is ignored.
-- @tfield[opt=false] boolean dry_run choose and report as a real run would, and send no
--   stop.
-- @tfield[opt=false] boolean force stop servers tagged `<protect_tag>=true` too. Without
--   it they are skipped (`reason = "protected"`), and a stop by id counts them as not ok.
-- @tfield[opt] int max_servers the most servers this call may stop (at least 0). More
--   returns `nil, err` (code `cloud.max_servers`, kind `refused`) before anything is sent:
--   it depends on what the cloud holds, so it is not raised.
-- @tfield[opt] {string,...} exclude with `ids`: ids never to stop, reported skipped
--   (`reason = "excluded"`); a filter takes `filter.exclude` instead (here it raises).
-- @tfield[opt] function confirm `function(plan) -> boolean`, called once the servers are
--   chosen and before anything is sent, with `{ selected =, skipped =, requested = }`;
--   false sends nothing and the result has `cancelled = true`.
-- @tfield[opt] string record the path of a new record of this call (docs/records.md): written
--   ahead of each call and as it goes; a path where anything exists is refused
--   (`cloud.record_exists`), and a record that cannot be written stops the call from sending
--   more (`nil, err` of kind `record`, `err.result` the outcome of what was sent).
-- @tfield[opt] string record_source with `ids` and `record`: where the ids came from, as the
--   record's header says it (the CLI writes `"arguments"` or `"--ids-file FILE"`); default
--   `"ids"`.

--- A filter (`stop_options.filter`): every key given must hold for a server to be chosen.
-- `status`, `tags` and a single `flavor` also go into the cloud's list query; everything
-- is checked again in Lua. Servers already `SHUTOFF` are skipped, not sent, and so are
-- protected ones (see `force`); `stop_ecs` skips the bare-metal servers ECS lists too. An
-- unknown key, a wrong type or a malformed pattern raises, naming `filter.<key>`.
-- @table filter_options
-- @tfield[opt] string|{string,...} status one status or several (`"ACTIVE"`), any letter
--   case.
-- @tfield[opt] string name a Lua pattern the server's name must match (checked whole when
--   the call starts; never sent to the cloud, whose name filter is a fuzzy match).
-- @tfield[opt] table tags `{ env = "staging" }` or `{ "env=staging" }`: every tag must be
--   on the server (a key alone: any value).
-- @tfield[opt] string|{string,...} az availability zones.
-- @tfield[opt] string|{string,...} flavor flavor ids or names.
-- @tfield[opt] {string,...} exclude ids never to stop, reported skipped.
-- @tfield[opt] function where `function(server) -> boolean` over the listed server table,
--   for example built with `cloud.filter`.
-- @tfield[opt] boolean all `true`: every server (of the other keys, only `exclude` may go
--   with it).
-- @tfield[opt] string|boolean enterprise_project_id where to list, in place of the
--   client's option (same values); not a choice by itself.

--- What `on_progress` receives: one table per step of the stop.
-- @table progress_event
-- @tfield string phase `"list"` (reading the servers of a filter), `"submit"` (sending the
--   stop calls) or `"wait"` (polling the jobs).
-- @tfield int done servers listed, accepted, or settled so far in this phase.
-- @tfield int total servers this phase is about.
-- @tfield int failed servers failed so far.
-- @tfield[opt] int skipped servers found already in the wanted state so far (submit and
--   wait: settled, in `done`, yet the result's `skipped`, neither stopped nor failed).

--- What a stop returns. Every distinct id asked for (or chosen by the filter) ends in
-- exactly one of `stopped`, `failed` and `skipped`.
-- @table result
-- @tfield boolean ok true when no server failed and, stopping by id, none was skipped
--   but those in `exclude` and those found already `SHUTOFF` (every requested server is
--   off now); false when `confirm` cancelled the call.
-- @tfield int requested distinct servers asked for, or chosen by the filter.
-- @tfield {string,...} stopped ids the cloud confirmed stopped (`wait = true`) or accepted
--   in a job (`wait = false`).
-- @tfield {failure,...} failed the servers that were not stopped, each with why.
-- @tfield {job,...} jobs the cloud's jobs, one per stop call accepted.
-- @tfield {server_brief,...} skipped servers chosen but not sent, or refused by the cloud
--   because they were already in the wanted state (`Ecs.0100`, confirmed by a lookup), each
--   with a `reason`: `"protected"`, `"excluded"`, `"already SHUTOFF"`, `"bare-metal server
--   (use stop_bms)"`.
-- @tfield[opt] {server_brief,...} selected filter stops and dry runs: the servers chosen
--   (a dry run by id looks nothing up but the protection tag, and gives `{ id = }` each).
-- @tfield[opt] boolean dry_run true for a dry run.
-- @tfield[opt] Error error set when a check before any stop failed (the protection-tag
--   lookup), so nothing was sent: that error, which every id in `failed` carries too.
-- @tfield[opt] boolean cancelled true when `confirm` said no: nothing was sent.
-- @tfield[opt] string hint a filter that chose nothing and whose name pattern has a bare
--   `-`: how to write it; or that listed naming no enterprise project: why that may be.

--- A server that was not stopped (`result.failed`).
-- @table failure
-- @tfield string id the server.
-- @tfield string code the cloud's code (`"Ecs.0114"`, `"APIGW.0301"`) or the library's
--   (`"cloud.timeout"`, `"cloud.unconfirmed"`, ...: see `cloud.errors`).
-- @tfield string message what went wrong, in words.
-- @tfield[opt] int status the HTTP status of the answer, when there was one.
-- @tfield[opt] string request_id the cloud's `X-Request-Id`, for its support.
-- @tfield[opt] string errorcode_message the sub-job's `entities.errorcode_message`, as the
--   cloud gave it, when it had one.
-- @tfield[opt] {table,...} details the finer codes of a service error, `error.details` of
--   its answer, as `{ {code =, message =}, ... }` (at most 20), when it had them.

--- A job of the cloud (`result.jobs`): one stop call accepted.
-- @table job
-- @tfield string job_id the cloud's job id.
-- @tfield {string,...} ids the servers the call named.
-- @tfield string status the job's status as last polled (`"SUCCESS"`, `"FAIL"`,
--   `"RUNNING"`, `"INIT"`, ...), as the cloud gave it (a status the reference does not list,
--   such as `"PENDING_PAYMENT"`, counts as not ended), or `"SUBMITTED"` when it never was
--   (as with `wait = false`).

--- A server chosen or skipped (`result.selected`, `result.skipped`).
-- @table server_brief
-- @tfield string id the server.
-- @tfield[opt] string name its name, as listed.
-- @tfield[opt] string status its status, as listed.
-- @tfield[opt] string reason `result.skipped` only: why it was not sent.

--- A client (`cloud.new`): its options checked once, the SK held in wiped C memory, one
-- HTTP engine kept across calls so connections are reused. One client may serve several
-- coroutines (nginx requests, timers), each running its own calls; a callback of a call
-- (`on_progress`, `logger`) must not call the same client again (that raises). `tostring`
-- shows the region, the project id and the first characters of the AK.
-- @type Client

--- Stops ECS servers: batches of at most 1000 ids, up to `concurrency` calls in flight,
-- retries of what is worth retrying, then the cloud's jobs polled until each server's
-- outcome is known.
-- @tparam stop_options opts what to stop, and how
-- @treturn result every server's outcome; failures of calls land in `result.failed`
-- @return[2] nil
-- @treturn[2] Error err when nothing could be attempted: no endpoint for ECS
--   (`cloud.no_endpoint`), listing the servers of a filter failed, or more servers than
--   `max_servers` (`cloud.max_servers`, kind `refused`)
-- @raise an `Error` of kind `argument` for a malformed option, a closed client, a call
--   with `.` instead of `:`, or a call from a callback of this client's own call; of kind
--   `interrupted` when Ctrl-C stops the call, with `err.result` the result so far (the
--   jobs already accepted)
function Client:stop_ecs(opts)
  return stop.call(self, "ecs", opts)
end

--- Stops bare-metal servers (always `"HARD"`). Options, result and errors as
-- `Client:stop_ecs`.
-- @tparam stop_options opts what to stop
-- @treturn result every server's outcome
-- @return[2] nil
-- @treturn[2] Error err when nothing could be attempted
-- @raise an `Error` of kind `argument` for a malformed option (`type = "SOFT"` among
--   them); kind `interrupted` on Ctrl-C
function Client:stop_bms(opts)
  return stop.call(self, "bms", opts)
end

--- Starts ECS servers (`os-start`). The options and the result of stop_ecs, without
-- `type`, and with `started` in place of `stopped`; a filter skips servers already ACTIVE.
-- @tparam stop_options opts as for stop_ecs, without `type`
-- @treturn result the result, with `started` in place of `stopped`
-- @return[2] nil
-- @treturn[2] Error err when nothing could be attempted
-- @raise an `Error` of kind `argument` for a malformed option
function Client:start_ecs(opts)
  return stop.call(self, "ecs", opts, actions.start)
end

--- Starts bare-metal servers; as start_ecs.
-- @tparam stop_options opts as for stop_ecs, without `type`
-- @treturn result the result, with `started` in place of `stopped`
function Client:start_bms(opts)
  return stop.call(self, "bms", opts, actions.start)
end

--- Starts exactly the servers a stop's record (`record = "path"`) shows this tool stopped;
-- the record's other servers are skipped with why (off before, started or deleted since).
-- Takes the start's options (dry_run, wait, max_servers, confirm, ...) and `write_record`,
-- a record of the restore itself. Returns the start's result, or `nil, err`.
-- @tparam table opts `record` (the path of a stop's record), the start's options,
--   `write_record`
-- @treturn result the start's result
-- @return[2] nil
-- @treturn[2] Error err when the record cannot be read or is not a stop's
function Client:restore(opts)
  return restore.call(self, opts)
end

--- Runs schedules (cloud.schedule) on this client's target at time `at`: for each schedule
-- and service, the state it wants is compared with the one last acted on (kept in
-- `state_dir`, one file per schedule, target and service) and acted on when it changed:
-- entering "stopped" stops the servers tagged `<tag>=<schedule>` (protected ones and those
-- tagged `<override_tag>=running` left), with a record under `state_dir/records`; entering
-- "running" restores exactly what those records show was stopped (those tagged
-- `<override_tag>=stopped` left off). Nothing changed: nothing is sent. `enforce` in a
-- schedule acts at every run. See docs/scheduling.md.
-- @tparam table opts `schedule` (a schedule file's path, its table, or a set from
--   cloud.schedule), `state_dir` (required; made when absent), `at` (epoch seconds, default
--   now), the stop's and start's `wait_timeout`, `poll_interval`, `servers_per_minute`,
--   `on_progress`, and `on_unit` (`function(entry)`, called before a unit acts)
-- @treturn table `{ ok, at, results = { { schedule, target = { region, project_id }, service,
--   wanted, previous, action ("stop", "start" or "none"), result, record, ok, error }, ... } }`
-- @return[2] nil
-- @treturn[2] Error err when the state directory cannot be made (kind `record`)
-- @raise an `Error` of kind `argument` for a malformed option or schedule (naming the
--   schedule and its field), before any call
function Client:run_schedule(opts)
  local engine = require "cloud.schedule.engine"
  local o = engine.check("client:run_schedule", opts)
  local results, err = engine.run_client(self, o)
  if not results then return nil, err end
  return engine.result(results, o.at)
end

--- What `run_schedule` would do at `at`, sending no stop or start: per schedule and service
-- the wanted state, the previous one (when `state_dir` is given), the action, and
-- `would_stop` / `would_start` (the servers, from dry runs: a listing, lookups).
-- @tparam table opts `schedule`, `at`, `state_dir` (optional)
-- @treturn table `{ ok, at, results = { ... } }`
function Client:plan_schedule(opts)
  local engine = require "cloud.schedule.engine"
  local o = engine.check("client:plan_schedule", opts, true)
  return engine.result(engine.plan_client(self, o), o.at)
end

--- Waits on jobs accepted earlier (a stop or start with `wait = false` returned them in
-- `result.jobs`; the CLI's `--no-wait` prints them) and reports their servers as a waiting
-- call would: each job's servers are the ones its sub-jobs name; each job is polled until
-- it ends or `wait_timeout` passes. A server whose sub-job says it was already in the
-- wanted state (Ecs.0100) is looked up, and found there it is skipped.
-- @tparam table opts `service` ("ecs" or "bms", required), `jobs` (an array of job ids,
--   required), `action` ("stop", the default, or "start": whose jobs they are),
--   `poll_interval`, `wait_timeout` (the whole call, default 600), `on_progress`
-- @treturn result the result of a waiting stop (or start): `stopped` (or `started`),
--   `failed` (each with its `job_id`), `skipped`, `requested` (the servers the jobs name),
--   and `jobs`, each `{ job_id, ids, status, job_type, error }`: `error` (code, message,
--   status, request_id) when the job could not be read (no such job, `Common.0011`), and
--   then `ok` is false
-- @return[2] nil
-- @treturn[2] Error err when nothing could be asked (credentials, project, endpoint)
-- @raise an `Error` of kind `argument` for a malformed option, a job id among them
--   (`jobs[2]`), before any call
function Client:wait_jobs(opts)
  return wait_jobs.call(self, opts)
end

--- All ECS servers matching a cloud-side query, every page read (the first tells the
-- count, the rest are fetched concurrently). `enterprise_project_id` is the client's
-- (default `all_granted_eps`) unless the query names one. A query with `server_id` is a
-- lookup of those ids (the reference ignores the other filters then), sure whichever
-- form of several ids the cloud reads: the servers found, in the order asked.
-- @tparam[opt] table query the list call's query parameters: `status`, `name` (the cloud's
--   fuzzy match), `flavor`, `tags`, `not-tags`, `enterprise_project_id`, `reservation_id`,
--   `ip`, `ip_eq`, `server_id = "a,b"` or `{ "a", "b" }`; values are strings, numbers,
--   booleans or arrays of them. Default: every server. Paging (`offset`, `limit`) is the client's.
-- @treturn {table,...} the cloud's server objects
-- @return[2] nil
-- @treturn[2] Error err when a page could not be read (after its retries)
-- @raise an `Error` of kind `argument` when the client is closed or busy; a query key that
--   is not a string, or a value of another type, raises from the signer
function Client:list_ecs(query)
  return servers.list(self, "ecs", query)
end

--- All bare-metal servers matching a cloud-side query; as `Client:list_ecs` (BMS has no
-- `server_id` filter).
-- @tparam[opt] table query the list call's query parameters
-- @treturn {table,...} the cloud's server objects
-- @return[2] nil
-- @treturn[2] Error err when a page could not be read
-- @raise as `Client:list_ecs`
function Client:list_bms(query)
  return servers.list(self, "bms", query)
end

--- Closes the HTTP engine and wipes the SK. The client cannot be used afterwards (a call
-- raises, kind `argument`); closing again does nothing. The collector closes a client
-- that was not.
-- @function Client:close

--- One call across regions and projects: an object with the client's operations (stop_*,
-- start_*, restore, list_*), run on every target at once; see cloud.fleet.
-- @function fleet
-- @tparam table opts `targets = { { region =, project_id =, endpoints = }, ... }`,
--   `total_concurrency`, and the client options of cloud.new for every target
-- @treturn table the fleet
M.fleet = fleet.new

--- The account's projects as IAM lists them (GET /v3/auth/projects).
-- @function projects
-- @tparam table opts the client options (no project id needed), and optionally `regions`,
--   an array of regions to keep
-- @treturn {table,...} `{ id =, name =, region = }` each
-- @return[2] nil
-- @treturn[2] Error err
M.projects = account.projects

--- Starts ECS servers with a client built for this call, as `stop_ecs` does for a stop.
-- @function start_ecs
-- @tparam table opts client options and start options together
M.start_ecs = stop.one_shot("ecs", actions.start)
--- Starts bare-metal servers with a client built for this call, as `start_ecs`.
-- @function start_bms
-- @tparam table opts client options and start options together
M.start_bms = stop.one_shot("bms", actions.start)

--- Restores from a stop's record with a client built for this call, then closed, as
-- `start_ecs` does for a start: the client options of `opts` (`new_options`) and the
-- environment and credentials file build it; the other keys are `Client:restore`'s
-- (`record`, the start's options, `write_record`).
-- @function restore
-- @tparam table opts `new_options` and the restore's options in one table
-- @treturn result the start's result, with `record` (what was read of the record)
-- @return[2] nil
-- @treturn[2] Error err when nothing could be attempted: what `cloud.new` or
--   `Client:restore` returns (the record cannot be read, or is not a stop's)
-- @raise an `Error` of kind `argument` for a malformed option, before a client is built
-- @usage local res, err = cloud.restore{ region = "cn-north-4", record = "stop.jsonl" }
M.restore = restore.one_shot

return M
