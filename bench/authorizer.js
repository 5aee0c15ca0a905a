#!/usr/bin/env node
// Runtime benchmark (issue 7):
//  1. the warm authorizer path on one core: verify an RS256 access token (aws-jwt-verify, JWKS
//     cached), look the tenant up (cached), build its session policy and take its credentials
//     from the vendor's cache; p50/p99 per request and requests/s, against the target p99 < 100 us;
//  2. each tier's session policy: build time, and compact size against half of STS's limit;
//  3. the sample API on the local stack (cognito-local token, authorizer, STS emulator, dynalite,
//     embedded PostgreSQL) under autocannon: requests/s and latency of GET /documents/<id>,
//     GET /documents and POST /documents.
// Needs a current build (`npm run build`): it imports dist/. See bench/README.md.
import { createSign, generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `Usage: node bench/authorizer.js [options]   (npm run bench:authorizer -- [options])

  --requests N     warm authorizer requests to time (default 200000)
  --seconds N      autocannon duration per API route (default 10)
  --connections N  autocannon connections (default 10)
  --skip-api       only the authorizer and the policies (no local stack)
  --check          exit 1 when a target is missed (default: report only)
  --no-save        do not write bench/results/authorizer-<date>.json
  -h, --help       this text`;

const { values: flags } = parseArgs({
  options: {
    requests: { type: 'string', default: '200000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    'skip-api': { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    'no-save': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const dist = (p) => import(path.join(ROOT, 'dist', p));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

// ---- 1. the warm authorizer path ------------------------------------------------------------
const { TenantAuthorizer, cognitoIssuer } = await dist('lib/runtime/authorizer.js');
const { CachedTenantReader } = await dist('lib/runtime/tenant-access.js');
const { TokenVendor } = await dist('lib/runtime/vending.js');
const { localPlatformConfig } = await dist('lib/platform/config.js');
const { tenantSessionPolicy, serializeSessionPolicy, SESSION_POLICY_MAX_CHARS } =
  await dist('lib/runtime/policy.js');
const { DEFAULT_TIERS } = await dist('lib/tenants/tiers.js');

const POOL = 'us-east-1_Bench0001';
const CLIENT = 'bench-client';
const config = {
  ...localPlatformConfig('bench', 'us-east-1', { id: POOL, clientId: CLIENT }),
  accountId: '123456789012',
};
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = publicKey.export({ format: 'jwk' });
const jwks = { keys: [{ ...jwk, kid: 'bench', alg: 'RS256', use: 'sig' }] };
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const input = `${b64({ alg: 'RS256', kid: 'bench', typ: 'JWT' })}.${b64({
  sub: 'user-1',
  iss: cognitoIssuer('us-east-1', POOL),
  client_id: CLIENT,
  token_use: 'access',
  iat: now,
  exp: now + 3600,
  tenantId: 'acme',
})}`;
const token = `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
const tenant = { tenantId: 'acme', tier: 'pro', isolation: 'pool', status: 'ACTIVE', region: 'us-east-1' };
let stsCalls = 0;
const sts = {
  send: async () => {
    stsCalls++;
    return {
      Credentials: {
        AccessKeyId: 'ASIABENCH',
        SecretAccessKey: 'secret',
        SessionToken: 'token',
        Expiration: new Date(Date.now() + 900_000),
      },
      AssumedRoleUser: { Arn: 'arn:aws:sts::123456789012:assumed-role/runtime/acme' },
      PackedPolicySize: 20,
    };
  },
};
const authorizer = new TenantAuthorizer({
  issuer: cognitoIssuer('us-east-1', POOL),
  clientId: CLIENT,
  jwks,
  tenants: new CachedTenantReader({ get: async () => tenant }),
  vendor: new TokenVendor({ sts: () => sts, roleArn: config.tenantRuntimeRoleArn }),
  platform: config,
});
const header = `Bearer ${token}`;
for (let i = 0; i < 2000; i++) await authorizer.authorize(header); // warm: JWKS, tenant, credentials, JIT
const requests = Number(flags.requests);
const samples = new Float64Array(requests);
const started = performance.now();
for (let i = 0; i < requests; i++) {
  const t0 = performance.now();
  await authorizer.authorize(header);
  samples[i] = performance.now() - t0;
}
const wall = performance.now() - started;
samples.sort();
const warm = {
  requests,
  p50Us: +(percentile(samples, 50) * 1000).toFixed(1),
  p99Us: +(percentile(samples, 99) * 1000).toFixed(1),
  requestsPerSecond: Math.round(requests / (wall / 1000)),
  stsCalls,
};
console.log(
  `warm authorizer: p50 ${warm.p50Us} us, p99 ${warm.p99Us} us, ${warm.requestsPerSecond.toLocaleString('en-US')} req/s on one core (${stsCalls} STS call)`,
);

// ---- 2. session policies per tier ---------------------------------------------------------
const policies = [];
for (const tier of DEFAULT_TIERS) {
  const silo = tier.isolation.startsWith('silo');
  const subject = {
    tenantId: 'acme-corporation-2',
    tier: tier.name,
    isolation: tier.isolation,
    region: 'eu-central-1',
    ...(silo || tier.isolation === 'pool-dedicated-table'
      ? { dataTable: 'saasctl-bench-tenant-acme-corporation-2' }
      : {}),
    ...(silo
      ? { keyArn: 'arn:aws:kms:eu-central-1:123456789012:key/0b7e2f5c-1d3a-4c8e-9f10-2a3b4c5d6e7f' }
      : {}),
    ...(tier.isolation === 'silo-account' ? { accountId: '210987654321' } : {}),
  };
  const n = 20_000;
  const t0 = performance.now();
  let text = '';
  for (let i = 0; i < n; i++) text = serializeSessionPolicy(tenantSessionPolicy(subject, config));
  const us = ((performance.now() - t0) * 1000) / n;
  policies.push({
    tier: tier.name,
    characters: text.length,
    limit: SESSION_POLICY_MAX_CHARS,
    buildUs: +us.toFixed(2),
  });
  console.log(
    `policy ${tier.name.padEnd(18)} ${String(text.length).padStart(5)} chars (${((100 * text.length) / SESSION_POLICY_MAX_CHARS).toFixed(0)}% of ${SESSION_POLICY_MAX_CHARS}), built in ${us.toFixed(2)} us`,
  );
}

// ---- 3. the sample API on the local stack -------------------------------------------------
let apiResults;
if (!flags['skip-api']) apiResults = await benchApi();

const misses = [];
if (warm.p99Us >= 100) misses.push(`warm authorizer p99 ${warm.p99Us} us (target < 100 us)`);
for (const p of policies) {
  if (p.characters >= p.limit / 2)
    misses.push(`${p.tier} policy ${p.characters} chars (target < ${p.limit / 2})`);
}
console.log(
  misses.length
    ? `MISSED: ${misses.join('; ')}`
    : 'targets met: warm p99 < 100 us; every policy < 1,024 chars',
);
if (!flags['no-save']) {
  const dir = path.join(ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `authorizer-${new Date().toISOString().slice(0, 10)}.json`);
  await writeFile(
    file,
    `${JSON.stringify({ at: new Date().toISOString(), node: process.version, cpus: os.cpus().length, warm, policies, api: apiResults }, null, 2)}\n`,
  );
  console.log(`saved ${path.relative(ROOT, file)}`);
}
process.exit(flags.check && misses.length ? 1 : 0);

async function benchApi() {
  const { default: autocannon } = await import('autocannon');
  const { startStack } = await dist('lib/local/admin.js');
  const { API_SERVICES, serveLocalApi } = await dist('lib/local/api.js');
  const { runCommand } = await benchCli();
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'saasctl-bench-api-'));
  const home = path.join(scratch, 'home');
  const owner = await startStack({ home, stage: 'local', region: 'us-east-1' });
  try {
    await runCommand(home, [
      'tenant',
      'onboard',
      'bench',
      '--tier',
      'pro',
      '--name',
      'Bench',
      '--admin-email',
      'admin@bench.test',
    ]);
    await runCommand(home, [
      'user',
      'create',
      'dev@bench.test',
      '--tenant',
      'bench',
      '--password',
      'Bench-Passw0rd!',
    ]);
    const login = await runCommand(home, [
      'user',
      'login',
      'dev@bench.test',
      '--password',
      'Bench-Passw0rd!',
    ]);
    const accessToken = login.trim();
    const info = await owner.ensure(API_SERVICES);
    const api = await serveLocalApi(info, { port: 0 });
    const headers = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' };
    try {
      const created = await fetch(`${api.url}/documents`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ title: 'bench', body: 'x'.repeat(256) }),
      });
      if (created.status !== 201)
        throw new Error(`POST /documents answered ${created.status}: ${await created.text()}`);
      const { documentId } = await created.json();
      const routes = [
        ['GET /documents/<id>', { method: 'GET', path: `/documents/${documentId}` }],
        ['GET /documents', { method: 'GET', path: '/documents?limit=25' }],
        [
          'POST /documents',
          { method: 'POST', path: '/documents', body: JSON.stringify({ title: 't', body: 'x'.repeat(256) }) },
        ],
      ];
      const results = [];
      for (const [name, request] of routes) {
        // A short unrecorded run first: JIT, connection pools and LevelDB caches warm up.
        await autocannon({
          url: api.url,
          connections: Number(flags.connections),
          duration: 2,
          headers,
          requests: [request],
        });
        const result = await autocannon({
          url: api.url,
          connections: Number(flags.connections),
          duration: Number(flags.seconds),
          headers,
          requests: [request],
        });
        const entry = {
          route: name,
          requestsPerSecond: Math.round(result.requests.average),
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          non2xx: result.non2xx,
          errors: result.errors,
        };
        results.push(entry);
        console.log(
          `api ${name.padEnd(20)} ${String(entry.requestsPerSecond).padStart(6)} req/s, p50 ${entry.p50Ms} ms, p99 ${entry.p99Ms} ms, non-2xx ${entry.non2xx}, errors ${entry.errors}`,
        );
      }
      return { connections: Number(flags.connections), seconds: Number(flags.seconds), routes: results };
    } finally {
      await api.close();
    }
  } finally {
    await owner.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The CLI as a child process against the bench's home (the stack this process owns). */
async function benchCli() {
  const { spawn } = await import('node:child_process');
  const bin = path.join(ROOT, 'bin', 'run.js');
  return {
    runCommand: (home, args) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [bin, ...args], {
          env: {
            ...process.env,
            SAASCTL_HOME: home,
            SAASCTL_TARGET: 'local',
            SAASCTL_STAGE: 'local',
            NO_COLOR: '1',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c) => (stdout += c));
        child.stderr.on('data', (c) => (stderr += c));
        child.on('error', reject);
        child.on('close', (code) =>
          code === 0
            ? resolve(stdout)
            : reject(new Error(`saasctl ${args.join(' ')} exited ${code}: ${stderr}`)),
        );
      }),
  };
}
