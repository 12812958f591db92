--- The --help text of cloud-stop.
-- @module cloud.cli.help
local M = {}

M.TEXT = [[
usage: cloud-stop ecs|bms [ID ...] [--ids-file FILE|-] [--name PATTERN] [--status S] [--tag K=V]...
                  [--exclude-file FILE] [--type SOFT|HARD] [--region R] [--project-id P]
                  [--endpoint URL] [--concurrency N] [--max-servers N] [--dry-run] [--no-wait]
                  [--poll-interval SEC] [--wait-timeout SEC] [--yes] [--json] [--verbose]
                  [--ca-file FILE] [--no-verify-tls] [--proxy URL] [--timeout SEC]
                  [--connect-timeout SEC] [--retries N] [--iam-endpoint URL] [--credentials metadata]

Stops Huawei Cloud ECS or BMS (bare-metal) servers in batches and reports every server's
outcome. Servers tagged stop-protect=true are never stopped. A filter skips servers already
SHUTOFF; one named by id is sent the stop anyway, and fails with the cloud's code.

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
  --yes, -y             do not ask before stopping more than 5 servers chosen by filter
                        (without a terminal, cloud-stop refuses unless --yes is given)
                          cloud-stop ecs --name '^web%-' --yes

Where and how:
  --region R            region, e.g. cn-north-4 (default: HUAWEICLOUD_SDK_REGION)
                          cloud-stop ecs --region cn-north-4 --name '^web%-'
  --project-id P        project id (default: HUAWEICLOUD_SDK_PROJECT_ID, the credentials file, or
                        else looked up in IAM by the region's name)
                          cloud-stop ecs --project-id 0123456789abcdef0123456789abcdef ID
  --endpoint URL        endpoint of the chosen service (default: https://<svc>.<region>.myhuaweicloud.com,
                        or HUAWEICLOUD_SDK_REGION_ECS_<REGION> / _BMS_<REGION>)
                          cloud-stop ecs --endpoint https://ecs.cn-north-4.myhuaweicloud.com ID
  --concurrency N       requests in flight at once, 1-1024 (default 8)
                          cloud-stop ecs --tag env=staging --concurrency 16 --yes
  --iam-endpoint URL    IAM, for looking the project id up (default: HUAWEICLOUD_SDK_IAM_ENDPOINT,
                        else the region's IAM, else https://iam.myhuaweicloud.com)
                          cloud-stop ecs --region eu-west-101 --iam-endpoint https://iam.eu-west-101.myhuaweicloud.eu ID
  --credentials metadata
                        use the temporary keys of the ECS instance this runs on (its agency),
                        from the metadata service, even when keys are set elsewhere
                          cloud-stop ecs --credentials metadata --region cn-north-4 ID

Connection:
  --ca-file FILE        trust the CA certificates in FILE (PEM), e.g. a private cloud's
                          cloud-stop ecs --endpoint https://ecs.cloud.internal --ca-file ca.pem ID
  --no-verify-tls       do not verify TLS certificates (anyone on the way can read and change
                        the calls: for a test cloud only)
                          cloud-stop ecs --endpoint https://10.0.0.5:8443 --no-verify-tls ID
  --proxy URL           send every call through this proxy (default: HTTPS_PROXY, or http_proxy
                        for http endpoints, minus the hosts in NO_PROXY, as curl does)
                          cloud-stop ecs --proxy http://proxy.example:3128 --name '^web%-'
  --timeout SEC         give up on one call after SEC seconds (default 30); it is retried
                          cloud-stop ecs --timeout 60 --ids-file ids.txt
  --connect-timeout SEC give up connecting after SEC seconds (default 10)
                          cloud-stop ecs --connect-timeout 3 --ids-file ids.txt
  --retries N           retries of a call that failed for a passing reason, 0-99 (default 5)
                          cloud-stop ecs --retries 10 --tag env=staging --yes

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
HUAWEICLOUD_SDK_CREDENTIALS_FILE), or else the temporary keys of the ECS instance this runs
on (metadata service at 169.254.169.254; CLOUD_METADATA_ENDPOINT to move it). There is no flag
for keys: command lines are visible to other users and end up in shell history.

Exit status: 0 every chosen server stopped (or nothing to stop, or a dry run);
  1 some servers failed (listed with code, message and request id);
  2 usage error: bad flag or value, more than --max-servers, or no confirmation;
  3 nothing could be attempted: credentials, project, region or endpoint missing, or listing failed;
    also an internal error (a bug), printed in full with a traceback.
]]

return M
