// ns per call of the official Node.js SDK's own AK/SK signer (AKSKSigner.sign from
// @huaweicloud/huaweicloud-sdk-core, the call BaseCredentials.processAuthRequest makes)
// on the same two vector requests, best of several rounds.
// usage: node bench/node/sign_bench.js [vectors.json]
'use strict';
const fs = require('fs');
const path = require('path');
const { AKSKSigner } = require('@huaweicloud/huaweicloud-sdk-core/auth/AKSKSigner');
const { BasicCredentials } = require('@huaweicloud/huaweicloud-sdk-core/auth/BasicCredentials');

const REQUESTS = ['ecs_stop_seed_hard', 'ecs_stop_1000_ids'];
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 7;
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS) || 0.25;
const file = process.argv[2] || path.join(__dirname, '../../spec/fixtures/sign-vectors.json');
const vectors = JSON.parse(fs.readFileSync(file, 'utf8'));

// The request object the SDK hands its signer: the endpoint carries the path,
// the body is the model object the signer JSON.stringify's and hashes.
function sdkRequest(v) {
  const data = v.body === null ? undefined : JSON.parse(v.body);
  if (data !== undefined && JSON.stringify(data) !== v.body) throw new Error(`${v.name}: body does not round-trip`);
  return {
    endpoint: v.url,
    method: v.method,
    headers: Object.assign({}, v.headers, { 'X-Sdk-Date': v.sdk_date }),
    queryParams: v.query,
    data,
  };
}

function timeLoop(req, cred, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) AKSKSigner.sign(req, cred);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

for (const name of REQUESTS) {
  const v = vectors.find((x) => x.name === name);
  if (!v) throw new Error(`no vector ${name}`);
  const cred = new BasicCredentials().withAk(v.ak).withSk(v.sk);
  const req = sdkRequest(v);
  // Same work as the vector: refuse to time a signer that gives another answer.
  const got = AKSKSigner.sign(req, cred).Authorization;
  if (got !== v.expected.authorization) throw new Error(`${name}: authorization differs:\n${got}`);

  let n = 1;
  while (timeLoop(req, cred, n) < ROUND_SECONDS / 10) n *= 2; // also warms up the JIT
  n = Math.max(1, Math.round(n * ROUND_SECONDS / timeLoop(req, cred, n)));
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) best = Math.min(best, timeLoop(req, cred, n) / n);
  console.log(`sign impl=node-sdk-${require('@huaweicloud/huaweicloud-sdk-core/package.json').version} ` +
    `request=${name} body_bytes=${Buffer.byteLength(v.body || '')} ns_per_call=${Math.round(best * 1e9)} ` +
    `iters=${n} rounds=${ROUNDS}`);
}
