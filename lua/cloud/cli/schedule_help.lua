--- The --help text of cloud-schedule, in the layout of cloud-stop's (cloud.cli.help), which
-- tools/gen_cli_docs.lua reads into its completion script and man page.
-- @module cloud.cli.schedule_help
return [==[
usage: cloud-schedule plan --config FILE [--at TIME] [--state-dir DIR] [--json] [connection flags]
       cloud-schedule plan --usage --from DATE --to DATE --config FILE [--json]
       cloud-schedule run --config FILE --state-dir DIR --yes [--at TIME] [--json] [connection flags]

Stops and starts Huawei Cloud ECS and BMS servers on schedules kept in a file (docs/schedule-file.md):
a server tagged schedule=NAME runs inside NAME's periods and is stopped outside them. Each run
acts only where a schedule's wanted state changed since the last run (the state directory
remembers), so it can run every few minutes; entering "stopped" stops the tagged running servers
with a record, entering "running" starts exactly what those records show it stopped.

Commands:
  plan                  per schedule: the wanted state at TIME (default now), the next change,
                        and the servers a run would stop or start (a dry run: nothing is sent
                        but listings and lookups)
                          cloud-schedule plan --config /etc/cloud/schedule.json --state-dir /var/lib/cloud-schedule
  run                   act on every schedule whose wanted state changed (or that enforces)
                          cloud-schedule run --config /etc/cloud/schedule.json --state-dir /var/lib/cloud-schedule --yes

Schedules:
  --config FILE         the schedule file (JSON); a mistake in it is an error naming the
                        schedule and the field (exit 2), before any call
                          cloud-schedule plan --config schedule.json
  --state-dir DIR       where run keeps one state file per schedule, target and service, and
                        its records (DIR/records); made when absent
                          cloud-schedule run --config schedule.json --state-dir /var/lib/cloud-schedule --yes
  --at TIME             the time to plan or run at, ISO 8601 with its offset (default now)
                          cloud-schedule plan --config schedule.json --at 2026-12-24T20:00:00+01:00
  --usage               with plan: each schedule's running hours between --from and --to, and
                        the share of hours saved; needs no connection
                          cloud-schedule plan --usage --from 2026-01-01 --to 2026-12-31 --config schedule.json
  --from DATE           the first day of --usage (YYYY-MM-DD, in each schedule's zone)
                          cloud-schedule plan --usage --from 2026-01-01 --to 2026-01-31 --config schedule.json
  --to DATE             the last day of --usage
                          cloud-schedule plan --usage --from 2026-01-01 --to 2026-01-31 --config schedule.json
  --yes, -y             run acts unattended: without --yes it refuses (exit 2)
                          cloud-schedule run --config schedule.json --state-dir /var/lib/cloud-schedule --yes

How to stop and start:
  --poll-interval SEC   seconds between job status polls while waiting (default 5)
                          cloud-schedule run --config schedule.json --state-dir st --yes --poll-interval 2
  --wait-timeout SEC    each stop or start ends within SEC seconds and one request timeout
                        (default 600)
                          cloud-schedule run --config schedule.json --state-dir st --yes --wait-timeout 1200
  --servers-per-minute N  send stops and starts for at most N servers a minute (default: learned
                        from the cloud's flow control)
                          cloud-schedule run --config schedule.json --state-dir st --yes --servers-per-minute 500

Where and how (when the file names no targets):
  --region R            region, e.g. cn-north-4 (default: HUAWEICLOUD_SDK_REGION)
                          cloud-schedule run --region cn-north-4 --config schedule.json --state-dir st --yes
  --project-id P        project id (default: HUAWEICLOUD_SDK_PROJECT_ID, the credentials file, or
                        else looked up in IAM by the region's name)
                          cloud-schedule plan --project-id 0123456789abcdef0123456789abcdef --config schedule.json
  --no-project-id-check take a --project-id that is not 32 lowercase hex digits
                          cloud-schedule plan --project-id my-stack-project --no-project-id-check --config schedule.json
  --endpoint URL        the ECS and BMS endpoint (default: https://<svc>.<region>.myhuaweicloud.com,
                        or HUAWEICLOUD_SDK_REGION_ECS_<REGION> / _BMS_<REGION>)
                          cloud-schedule plan --endpoint https://ecs.cn-north-4.myhuaweicloud.com --config schedule.json
  --iam-endpoint URL    IAM, for looking the project id up (default: HUAWEICLOUD_SDK_IAM_ENDPOINT,
                        else the region's IAM)
                          cloud-schedule plan --iam-endpoint https://iam.example.internal --config schedule.json
  --concurrency N       requests in flight at once, 1-1024 (default 8; per region and project)
                          cloud-schedule run --concurrency 16 --config schedule.json --state-dir st --yes
  --enterprise-project-id ID|all_granted_eps|none
                        the enterprise project lists name (default all_granted_eps)
                          cloud-schedule plan --enterprise-project-id 0 --config schedule.json
  --credentials metadata
                        use the temporary keys of the ECS instance this runs on (its agency)
                          cloud-schedule run --credentials metadata --config schedule.json --state-dir st --yes
  --profile NAME        take the keys (and project id) from the [NAME] section of the
                        credentials file (default: HUAWEICLOUD_SDK_PROFILE, else [basic])
                          cloud-schedule run --profile prod --config schedule.json --state-dir st --yes

Connection:
  --ca-file FILE        trust the CA certificates in FILE (PEM), e.g. a private cloud's
                          cloud-schedule plan --endpoint https://ecs.internal --ca-file ca.pem --config f.json
  --no-verify-tls       do not verify TLS certificates (for a test cloud only)
                          cloud-schedule plan --endpoint https://10.0.0.5:8443 --no-verify-tls --config schedule.json
  --proxy URL           send every call through this proxy (default: HTTPS_PROXY and NO_PROXY,
                        as curl reads them)
                          cloud-schedule run --proxy http://proxy.example:3128 --config f.json --state-dir st --yes
  --timeout SEC         give up on one call after SEC seconds (default 30); it is retried
                          cloud-schedule run --timeout 60 --config schedule.json --state-dir st --yes
  --connect-timeout SEC give up connecting after SEC seconds (default 10)
                          cloud-schedule run --connect-timeout 3 --config schedule.json --state-dir st --yes
  --retries N           retries of a call that failed for a passing reason, 0-99 (default 5)
                          cloud-schedule run --retries 10 --config schedule.json --state-dir st --yes

Output:
  --json                one JSON document on stdout: ok, at, results (one per schedule, target
                        and service: wanted, previous, action, result, record, ok, error)
                          cloud-schedule run --config schedule.json --state-dir st --yes --json | jq '.results[].action'
  --verbose, -v         also print each retry and failure the library logs, on stderr
                          cloud-schedule run --config schedule.json --state-dir st --yes --verbose
  --debug               one line per HTTP call attempt on stderr (never a key or signature)
                          cloud-schedule plan --config schedule.json --debug 2> trace.txt
  --help, -h            this text
  --version             the version of cloud-schedule

Credentials: HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK (and HUAWEICLOUD_SDK_SECURITY_TOKEN for
temporary keys), or the [basic] section of ~/.huaweicloud/credentials (path in
HUAWEICLOUD_SDK_CREDENTIALS_FILE), or else the temporary keys of the ECS instance this runs
on (metadata service). There is no flag for keys; targets in the file may name a profile.

Exit status: 0 every schedule, target and service ok (or nothing to do);
  1 some stop or start failed, or some target could not be reached while others were;
  2 usage error: bad flag, a mistake in the schedule file, run without --yes, more servers
    than a schedule's max_servers, or another run holding a schedule's lock;
  3 nothing could be attempted: credentials, project, region or endpoint missing, a state
    file that is not one, or listing failed; also an internal error (a bug);
  4 a state file or a record could not be written: nothing more was sent for that schedule;
  130, 143, 129 interrupted by Ctrl-C, SIGTERM or SIGHUP: the state says so, and the next
    run finishes what was begun.
]==]
