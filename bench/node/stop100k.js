// The official Node.js SDK doing bench/stop/stop100k.lua's work: the ids of a file
// stopped in batches of 1000 (batchStopServers, SOFT), every job polled with showJob
// until it ends, at most CONCURRENCY requests in flight - the same shape as the Lua
// client's scheduler (every batch queued at once, a poll POLL seconds after an answer).
// usage: node bench/node/stop100k.js IDS_FILE
// env: BENCH_URL, BENCH_PROJECT, BENCH_AK, BENCH_SK, BENCH_POLL (s), BENCH_CONCURRENCY
// Prints one key=value line; /usr/bin/time around the process measures it.
'use strict';
const fs = require('fs');
const { BasicCredentials } = require('@huaweicloud/huaweicloud-sdk-core');
const ecs = require('@huaweicloud/huaweicloud-sdk-ecs');

const env = process.env;
const POLL = Number(env.BENCH_POLL || 0.5) * 1000;
const CONCURRENCY = Number(env.BENCH_CONCURRENCY || 8);
const BATCH = 1000;

// A counting semaphore: the "8 requests in flight" of the Lua client's scheduler.
let free = CONCURRENCY;
const queue = [];
async function inFlight(fn) {
  if (free > 0) free--;
  else await new Promise((resolve) => queue.push(resolve));
  try {
    return await fn();
  } finally {
    const next = queue.shift();
    if (next) next(); else free++;
  }
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function stopBatch(client, ids, out) {
  // The request built once a slot is free, as the Lua client builds each body only when
  // it sends it: at most CONCURRENCY requests exist at once, not one per batch.
  const submitted = await inFlight(() => {
    const servers = ids.map((id) => new ecs.ServerId(id));
    const body = new ecs.BatchStopServersRequestBody()
      .withOsStop(new ecs.BatchStopServersOption(servers).withType('SOFT'));
    return client.batchStopServers(new ecs.BatchStopServersRequest().withBody(body));
  });
  const jobId = submitted.job_id;
  if (!jobId) throw new Error(`no job_id in ${JSON.stringify(submitted)}`);
  for (;;) {
    await sleep(POLL);
    const job = await inFlight(() => client.showJob(new ecs.ShowJobRequest().withJobId(jobId)));
    out.polls++;
    if (job.status === 'SUCCESS' || job.status === 'FAIL') {
      // Count per server, as the Lua client's ledger does.
      for (const sub of job.entities.sub_jobs) {
        if (sub.status === 'SUCCESS') out.stopped++; else out.failed++;
      }
      return;
    }
  }
}

async function main() {
  const cpu0 = process.cpuUsage();
  const ids = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter((s) => s !== '');

  const credentials = new BasicCredentials()
    .withAk(env.BENCH_AK).withSk(env.BENCH_SK).withProjectId(env.BENCH_PROJECT);
  const client = ecs.EcsClient.newBuilder()
    .withCredential(credentials)
    .withEndpoint(env.BENCH_URL)
    .build();

  const out = { stopped: 0, failed: 0, polls: 0 };
  const t0 = process.hrtime.bigint();
  const batches = [];
  for (let i = 0; i < ids.length; i += BATCH) batches.push(stopBatch(client, ids.slice(i, i + BATCH), out));
  await Promise.all(batches);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  console.log(`client=node ok=${out.stopped === ids.length} requested=${ids.length} stopped=${out.stopped}` +
    ` failed=${out.failed} polls=${out.polls} work_wall=${wall.toFixed(3)}` +
    ` run_cpu=${((cpu.user + cpu.system) / 1e6).toFixed(3)}`);
}

main().catch((e) => {
  // SDK exceptions carry the HTTP status and the cloud's message.
  console.error('stop100k.js:', e && (e.errorMsg || e.message || e), e && e.httpStatusCode);
  process.exit(1);
});
