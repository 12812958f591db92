--- The --help text of cloud-stop and cloud-start: one template, the command's words put
-- in ({P} the program, {verb}, {Verb}, {done}, {doing}, {wanted}); a line starting with
-- "@stop|" or "@start|" belongs to that command only.
-- @module cloud.cli.help
local words = require "cloud.cli.words"

local M = {}

local TEMPLATE = [==[
usage: {P} ecs|bms [ID ...] [--ids-file FILE|-] [--name PATTERN] [--status S] [--tag K=V]...
@stop|                  [--exclude-file FILE] [--type SOFT|HARD] [--region R[,R...]] [--project-id P[,P...]]
@start|                  [--exclude-file FILE] [--region R[,R...]] [--project-id P[,P...]]
                  [--all-projects] [--endpoint URL] [--concurrency N] [--max-servers N]
                  [--dry-run] [--no-wait] [--poll-interval SEC] [--wait-timeout SEC]
                  [--servers-per-minute N] [--record FILE] [--yes] [--json] [--verbose]
                  [--ca-file FILE] [--no-verify-tls] [--proxy URL] [--timeout SEC]
                  [--connect-timeout SEC] [--retries N] [--iam-endpoint URL] [--credentials metadata]
                  [--enterprise-project-id ID|all_granted_eps|none] [--no-project-id-check]
                  [--wait-jobs ID[,ID...]] [--output text|json|tsv] [--profile NAME] [--debug]
@start|      cloud-start [ecs|bms] --from-record FILE [--record FILE] [--dry-run] [--yes] ...

@stop|Stops Huawei Cloud ECS or BMS (bare-metal) servers in batches and reports every server's
@stop|outcome. Servers tagged stop-protect=true are never stopped. A filter skips servers already
@stop|SHUTOFF; one named by id is sent the stop anyway, and is skipped once a lookup finds it off.
@start|Starts Huawei Cloud ECS or BMS (bare-metal) servers in batches and reports every server's
@start|outcome: cloud-stop's twin, with the same flags. Servers tagged stop-protect=true are not
@start|touched. A filter skips servers already ACTIVE. --from-record starts exactly what a
@start|cloud-stop --record FILE run stopped.

Choosing servers (by id, or by filter; not both):
  ID ...                server ids on the command line
                          {P} ecs 3b1c...e1 7f20...9a
  --ids-file FILE|-     ids from a file, or stdin with "-" (blank- or comma-separated, # comments)
                          {P} ecs --ids-file ids.txt
  --name PATTERN        names matching a Lua pattern (escape "-" as "%-")
                          {P} ecs --name '^web%-'
  --status S            servers in status S (ACTIVE, ERROR, ...); repeat or comma-separate
                          {P} ecs --status ERROR --name '^batch'
  --tag K=V             servers tagged K=V (or any value with --tag K); repeat: all must match
                          {P} ecs --tag env=staging --tag team=web
  --exclude-file FILE   ids never to {verb}, even when chosen
                          {P} ecs --tag env=staging --exclude-file keep.txt
@start|  --from-record FILE    the servers FILE (a record of cloud-stop) shows it stopped; those off
@start|                        before, or started or deleted since, are skipped with why
@start|                          cloud-start --from-record stop-2024-06-01.jsonl --yes

How to {verb}:
@stop|  --type SOFT|HARD      ECS stop type (default SOFT); BMS always stops HARD
@stop|                          cloud-stop ecs --type HARD --name '^stuck%-'
  --max-servers N       refuse (exit 2) when more than N servers would be {done}
                          {P} ecs --tag env=staging --max-servers 500 --yes
  --dry-run             show what would be {done} and skipped; send no {verb}
                          {P} ecs --name '^web%-' --dry-run
  --no-wait             return once the cloud accepted the jobs, without waiting for them
                          {P} ecs --tag env=staging --no-wait --yes
  --wait-jobs ID[,ID...] wait on jobs a --no-wait run printed (no ids or filter with it); the
                        same progress, result, --json and exit status as a waiting run
                          {P} ecs --wait-jobs 70a5...8e,c1f2...07 --wait-timeout 1200
  --poll-interval SEC   seconds between job status polls while waiting (default 5)
                          {P} ecs --ids-file ids.txt --poll-interval 2
  --wait-timeout SEC    the whole run ends within SEC seconds and one request timeout (default 600)
                          {P} ecs --ids-file ids.txt --wait-timeout 1200
  --servers-per-minute N  send {verb}s for at most N servers a minute, from the start (default:
                        learned from the cloud's flow control); give what your quota allows
                          {P} ecs --ids-file ids.txt --servers-per-minute 1000 --wait-timeout 3600
  --yes, -y             do not ask before {doing} more than 5 servers chosen by filter or
                        record (without a terminal, {P} refuses unless --yes is given)
                          {P} ecs --name '^web%-' --yes

Where and how:
  --region R[,R...]     region, e.g. cn-north-4 (default: HUAWEICLOUD_SDK_REGION); several at
                        once, each with its project (see --project-id, --all-projects)
                          {P} ecs --region cn-north-4,cn-east-3 --all-projects --tag env=dev --yes
  --project-id P[,P...] project id (default: HUAWEICLOUD_SDK_PROJECT_ID, the credentials file, or
                        else looked up in IAM by the region's name); with several regions, one
                        per region in the same order, or none (each region's from IAM)
                          {P} ecs --project-id 0123456789abcdef0123456789abcdef ID
  --no-project-id-check take a --project-id (or HUAWEICLOUD_SDK_PROJECT_ID) that is not 32 lowercase
                        hex digits, the form IAM gives (else refused before any call)
                          {P} ecs --project-id my-stack-project --no-project-id-check ID
  --all-projects        every project of the account (IAM, GET /v3/auth/projects), in the
                        regions of --region if given; each is one target of a fleet
                          {P} ecs --all-projects --tag env=dev --max-servers 100 --yes
  --endpoint URL        endpoint of the chosen service (default: https://<svc>.<region>.myhuaweicloud.com,
                        or HUAWEICLOUD_SDK_REGION_ECS_<REGION> / _BMS_<REGION>)
                          {P} ecs --endpoint https://ecs.cn-north-4.myhuaweicloud.com ID
  --concurrency N       requests in flight at once, 1-1024 (default 8; per region and project)
                          {P} ecs --tag env=staging --concurrency 16 --yes
  --iam-endpoint URL    IAM, for looking the project id up (default: HUAWEICLOUD_SDK_IAM_ENDPOINT,
                        else the region's IAM, else https://iam.myhuaweicloud.com)
                          {P} ecs --region eu-west-101 --iam-endpoint https://iam.eu-west-101.myhuaweicloud.eu ID
  --enterprise-project-id ID|all_granted_eps|none
                        the enterprise project lists name (default all_granted_eps: every one
                        granted, so rights given through enterprise projects find servers);
                        "none" names none; stops by id are sent whichever it is
                          {P} ecs --enterprise-project-id 0 --tag env=dev --yes
  --credentials metadata
                        use the temporary keys of the ECS instance this runs on (its agency),
                        from the metadata service, even when keys are set elsewhere
                          {P} ecs --credentials metadata --region cn-north-4 ID
  --profile NAME        take the keys (and project id) from the [NAME] section of the
                        credentials file, whatever the environment holds (default:
                        HUAWEICLOUD_SDK_PROFILE, else [basic]); a missing section is an error
                          {P} ecs --profile staging --region cn-north-4 --tag env=dev --yes

Connection:
  --ca-file FILE        trust the CA certificates in FILE (PEM), e.g. a private cloud's
                          {P} ecs --endpoint https://ecs.cloud.internal --ca-file ca.pem ID
  --no-verify-tls       do not verify TLS certificates (anyone on the way can read and change
                        the calls: for a test cloud only)
                          {P} ecs --endpoint https://10.0.0.5:8443 --no-verify-tls ID
  --proxy URL           send every call through this proxy (default: HTTPS_PROXY, or http_proxy
                        for http endpoints, minus the hosts in NO_PROXY, as curl does)
                          {P} ecs --proxy http://proxy.example:3128 --name '^web%-'
  --timeout SEC         give up on one call after SEC seconds (default 30); it is retried
                          {P} ecs --timeout 60 --ids-file ids.txt
  --connect-timeout SEC give up connecting after SEC seconds (default 10)
                          {P} ecs --connect-timeout 3 --ids-file ids.txt
  --retries N           retries of a call that failed for a passing reason, 0-99 (default 5)
                          {P} ecs --retries 10 --tag env=staging --yes

Output:
  --record FILE         write a record (JSON Lines: who, what, each batch and each server's
                        outcome) as it goes; FILE must not exist
@stop|                          cloud-stop ecs --tag env=dev --yes --record stop-$(date +%F).jsonl
@start|                          cloud-start --from-record stop.jsonl --yes --record start.jsonl
  --json                one JSON document on stdout: ok, requested, {done}, failed, jobs,
                        selected, skipped, dry_run (progress still goes to stderr)
                          {P} ecs --tag env=staging --yes --json | jq .failed
  --output text|json|tsv
                        the result as the summary (default), --json's document, or TSV for
                        cut and awk: a header, then id, name, status, outcome, code, detail
                          {P} ecs --tag env=staging --yes --output tsv | awk -F'\t' '$4=="failed"'
  --verbose, -v         also print each retry and failure the library logs, on stderr
                          {P} ecs --name '^web%-' --yes --verbose
  --debug               one line per HTTP call attempt on stderr (also with --json): method,
                        path (ids left out), status, request id, attempt, time, and what
                        came of it (ok, retry, throttled, failed); never a key or signature
                          {P} ecs --yes --debug ID 2> trace.txt
  --help, -h            this text
  --version             the version of {P}

Credentials: HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK (and HUAWEICLOUD_SDK_SECURITY_TOKEN for
temporary keys), or the [basic] section of ~/.huaweicloud/credentials (path in
HUAWEICLOUD_SDK_CREDENTIALS_FILE), or else the temporary keys of the ECS instance this runs
on (metadata service at 169.254.169.254; CLOUD_METADATA_ENDPOINT to move it,
CLOUD_METADATA_FALLBACK=off never to ask it). There is no flag for keys: command lines are
visible to other users and end up in shell history.

Exit status: 0 every chosen server {done} (or nothing to {verb}, or a dry run);
  1 some servers failed (listed with code, message and request id), or some region or
    project could not be reached while others were;
  2 usage error: bad flag or value, more than --max-servers, no confirmation, or a record
    file that exists;
  3 nothing could be attempted: credentials, project, region or endpoint missing, or listing failed;
    also an internal error (a bug), printed in full with a traceback;
  4 the --record file could not be written (disk full): nothing more was sent, what was
    sent is printed and covered by the record;
  130, 143, 129 interrupted by Ctrl-C, SIGTERM or SIGHUP: what was accepted is printed.
]==]

--- The help text of the command for `action` ("stop", "start" or "schedule").
function M.text(action)
  if action == "schedule" then return require "cloud.cli.schedule_help" end
  local w = words[action or "stop"]
  local out = {}
  for line in TEMPLATE:gmatch("([^\n]*)\n") do
    local only, rest = line:match("^@(%a+)|(.*)$")
    if not only then out[#out + 1] = line
    elseif only == w.action then out[#out + 1] = rest end
  end
  local text = table.concat(out, "\n") .. "\n"
  return (text:gsub("{(%a+)}", function(k) return k == "P" and w.program or w[k] end))
end

M.TEXT = M.text("stop")

return M
