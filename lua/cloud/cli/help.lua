--- The --help text of cloud-stop.
-- @module cloud.cli.help
local M = {}

M.TEXT = [[
usage: cloud-stop ecs|bms [ID ...] [--ids-file FILE|-] [--name PATTERN] [--status S] [--tag K=V]...
                  [--exclude-file FILE] [--type SOFT|HARD] [--region R] [--project-id P]
                  [--endpoint URL] [--concurrency N] [--max-servers N] [--dry-run] [--no-wait]
                  [--poll-interval SEC] [--wait-timeout SEC] [--servers-per-minute N]
                  [--yes] [--json] [--verbose]

Stops Huawei Cloud ECS or BMS (bare-metal) servers in batches and reports every server's
outcome. Servers tagged stop-protect=true are never stopped. A filter skips servers already
SHUTOFF; one named by id is sent the stop anyway, the cloud refuses it, and it is reported
skipped, "already SHUTOFF": running the same stop again succeeds. When the cloud says to slow
down (flow control), cloud-stop slows down and sends the same servers again later.

Choosing servers (by id, or by filter; not both):
  ID ...                server ids on the command line
                          cloud-stop ecs 3b1c...e1 7f20...9a
  --ids-file FILE|-     ids from a file, or stdin with "-" (blank- or comma-separated, # comments)
                          cloud-stop ecs --ids-file ids.txt
  --name PATTERN        names matching a Lua pattern (escape "-" as "%-")
                          cloud-stop ecs --name '^web%-'
  --status S            servers in status S (ACTIVE, ERROR, ...); repeat or comma-separate
                          cloud-stop ecs --status ERROR --name '^batch'
  --tag K=V             servers tagged K=V (or any value with --tag K); repeat: all must match
                          cloud-stop ecs --tag env=staging --tag team=web
  --exclude-file FILE   ids never to stop, even when chosen
                          cloud-stop ecs --tag env=staging --exclude-file keep.txt

How to stop:
  --type SOFT|HARD      ECS stop type (default SOFT); BMS always stops HARD
                          cloud-stop ecs --type HARD --name '^stuck%-'
  --max-servers N       refuse (exit 2) when more than N servers would be stopped
                          cloud-stop ecs --tag env=staging --max-servers 500 --yes
  --dry-run             show what would be stopped and skipped; send no stop
                          cloud-stop ecs --name '^web%-' --dry-run
  --no-wait             return once the cloud accepted the stops, without waiting for the jobs
                          cloud-stop ecs --tag env=staging --no-wait --yes
  --poll-interval SEC   seconds between job status polls while waiting (default 5)
                          cloud-stop ecs --ids-file ids.txt --poll-interval 2
  --wait-timeout SEC    give up waiting for jobs after SEC seconds (default 600)
                          cloud-stop ecs --ids-file ids.txt --wait-timeout 1200
  --servers-per-minute N  send stops for at most N servers a minute, from the start (default:
                        learned from the cloud's flow control); give what your quota allows
                          cloud-stop ecs --ids-file ids.txt --servers-per-minute 1000 --wait-timeout 3600
  --yes, -y             do not ask before stopping more than 5 servers chosen by filter
                        (without a terminal, cloud-stop refuses unless --yes is given)
                          cloud-stop ecs --name '^web%-' --yes

Where and how:
  --region R            region, e.g. cn-north-4 (default: HUAWEICLOUD_SDK_REGION)
                          cloud-stop ecs --region cn-north-4 --name '^web%-'
  --project-id P        project id (default: HUAWEICLOUD_SDK_PROJECT_ID, or the credentials file)
                          cloud-stop ecs --project-id 0123456789abcdef0123456789abcdef ID
  --endpoint URL        endpoint of the chosen service (default: https://<svc>.<region>.myhuaweicloud.com,
                        or HUAWEICLOUD_SDK_REGION_ECS_<REGION> / _BMS_<REGION>)
                          cloud-stop ecs --endpoint https://ecs.cn-north-4.myhuaweicloud.com ID
  --concurrency N       requests in flight at once, 1-1024 (default 8)
                          cloud-stop ecs --tag env=staging --concurrency 16 --yes

Output:
  --json                one JSON document on stdout: ok, requested, stopped, failed, jobs,
                        selected, skipped, dry_run (progress still goes to stderr)
                          cloud-stop ecs --tag env=staging --yes --json | jq .failed
  --verbose, -v         also print each retry and failure the library logs, on stderr
                          cloud-stop ecs --name '^web%-' --yes --verbose
  --help, -h            this text
  --version             the version of cloud-stop

Credentials: HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK (and HUAWEICLOUD_SDK_SECURITY_TOKEN for
temporary keys), or the [basic] section of ~/.huaweicloud/credentials (path in
HUAWEICLOUD_SDK_CREDENTIALS_FILE). There is no flag for keys: command lines are visible to
other users and end up in shell history.

Exit status: 0 every chosen server stopped (or nothing to stop, or a dry run);
  1 some servers failed (listed with code, message and request id);
  2 usage error: bad flag or value, more than --max-servers, or no confirmation;
  3 nothing could be attempted: credentials, project, region or endpoint missing, or listing failed;
    also an internal error (a bug), printed in full with a traceback.
]]

return M
