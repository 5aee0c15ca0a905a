import { request } from 'node:http';

import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { expect } from 'chai';

import { startStack } from '../../src/lib/local/admin.js';
import { localClients, type StackOwner } from '../../src/lib/local/stack.js';
import { AwsClientFactory } from '../../src/lib/platform/clients.js';
import type { CredsPolicyResult, CredsVendResult } from '../../src/lib/runtime/creds.js';
import { policyHash, serializeSessionPolicy } from '../../src/lib/runtime/policy.js';
import type { AuditRecord } from '../../src/lib/tenants/model.js';
import { type ErrorEnvelope, run, tempHome, onboardTenants } from '../helpers/cli.js';

const STAGE = 'local';

/** How many sessions the STS emulator has handed out (its control API). */
function sessionCount(endpoint: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}/_saasctl/ListSessions`, { method: 'POST', agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve((JSON.parse(text) as { sessions: unknown[] }).sessions.length));
    });
    req.on('error', reject);
    req.end('{}');
  });
}
const REGION = 'us-east-1';

describe('creds policy / creds vend (local stack)', function () {
  this.timeout(120_000);
  const { home, dispose } = tempHome('saasctl-creds-');
  let owner: StackOwner;
  let clients: AwsClientFactory;

  before(async () => {
    owner = await startStack({ home, stage: STAGE, region: REGION });
    clients = localClients(owner.info().endpoints, REGION);
    await onboardTenants(home, [
      ['acme', 'pro'],
      ['bigco', 'enterprise'],
    ]);
  });
  after(async () => {
    clients?.destroy();
    await owner?.stop();
    dispose();
  });

  it('prints the exact session policy with its size and hash', async () => {
    const outcome = await run(['creds', 'policy', 'acme', '--json'], home);
    expect(outcome.exitCode).to.equal(0);
    const result = outcome.json as CredsPolicyResult;
    expect(result).to.include({ tenantId: 'acme', tier: 'pro', isolation: 'pool', limit: 2048 });
    const text = serializeSessionPolicy(result.policy);
    expect(result.characters).to.equal(text.length);
    expect(result.policyHash).to.equal(policyHash(text));
    expect(result.policy.Statement[0].Condition).to.deep.equal({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TENANT#acme', 'TENANT#acme#*'] },
      Null: { 'dynamodb:LeadingKeys': 'false' },
    });

    const human = await run(['creds', 'policy', 'acme'], home);
    expect(JSON.parse(human.stdout)).to.deep.equal(result.policy);
    expect(human.stderr).to.contain(`${result.characters} of 2048 characters`);
  });

  it("names a silo tenant's own table and key in its policy", async () => {
    const result = (await run(['creds', 'policy', 'bigco', '--json'], home)).json as CredsPolicyResult;
    expect(result.policy.Statement[0].Resource).to.equal(
      'arn:aws:dynamodb:us-east-1:000000000000:table/local-tenant-bigco',
    );
    expect(result.policy.Statement.map((s) => [s.Effect, s.Action])).to.deep.equal([
      ['Allow', ['dynamodb:*Item', 'dynamodb:Query']],
      ['Deny', ['dynamodb:Scan', 'dynamodb:PartiQL*']],
      ['Deny', 'dynamodb:*'],
      ['Allow', ['s3:GetObject', 's3:PutObject', 's3:DeleteObject']],
      ['Allow', ['kms:Decrypt', 'kms:GenerateDataKey']],
    ]);
  });

  it('vends working 15-minute credentials from the STS emulator and audits the vending', async () => {
    const outcome = await run(['creds', 'vend', 'acme', '--reason', 'ticket 77', '--json'], home);
    expect(outcome.exitCode, outcome.stdout).to.equal(0);
    const creds = outcome.json as CredsVendResult;
    expect(creds.assumedRoleArn).to.equal(
      'arn:aws:sts::000000000000:assumed-role/saasctl-local-tenant-runtime/tenant-acme',
    );
    expect(Date.parse(creds.expiration) - Date.now()).to.be.within(890_000, 900_000);

    const session = new AwsClientFactory({
      region: REGION,
      endpoints: owner.info().endpoints,
      credentials: {
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
        sessionToken: creds.sessionToken,
      },
    });
    expect((await session.sts().send(new GetCallerIdentityCommand({}))).Arn).to.equal(creds.assumedRoleArn);
    session.destroy();

    const show = await run(['tenant', 'show', 'acme', '--json'], home);
    const record = (show.json as { audit: AuditRecord[] }).audit.find((a) => a.action === 'creds-vend');
    expect(record).to.deep.include({ reason: 'ticket 77', actor: record?.actor });
    expect(record?.changes).to.deep.equal({
      accessKeyId: { to: creds.accessKeyId },
      policyHash: { to: creds.policyHash },
      expiration: { to: creds.expiration },
    });
    expect(JSON.stringify(record)).to.not.contain(creds.secretAccessKey);
  });

  it('prints shell exports for humans', async () => {
    const outcome = await run(['creds', 'vend', 'acme', '--reason', 'ticket 78'], home);
    expect(outcome.stdout).to.match(
      /^export AWS_ACCESS_KEY_ID=ASIA[A-Z2-7]{16}\nexport AWS_SECRET_ACCESS_KEY=\S+\nexport AWS_SESSION_TOKEN=\S+\n$/,
    );
  });

  it('refuses a suspended tenant (exit 4) and vends nothing', async () => {
    expect((await run(['tenant', 'suspend', 'acme', '--reason', 'unpaid invoice'], home)).exitCode).to.equal(
      0,
    );
    const before = await sessionCount(owner.info().endpoints.sts as string);
    try {
      const outcome = await run(['creds', 'vend', 'acme', '--reason', 'ticket 79', '--json'], home);
      expect(outcome.exitCode).to.equal(4);
      expect((outcome.json as ErrorEnvelope).error.code).to.equal('TENANT_NOT_ACTIVE');
      expect(await sessionCount(owner.info().endpoints.sts as string)).to.equal(before);
    } finally {
      await run(['tenant', 'resume', 'acme', '--reason', 'paid in full'], home);
    }
  });

  it('refuses a bad id (exit 2) and an unknown tenant (exit 3) before any STS call', async () => {
    const bad = await run(['creds', 'vend', 'acme*', '--reason', 'ticket 80', '--json'], home);
    expect(bad.exitCode).to.equal(2);
    expect((bad.json as ErrorEnvelope).error.code).to.equal('INVALID_TENANT_ID');
    const missing = await run(['creds', 'policy', 'nobody', '--json'], home);
    expect(missing.exitCode).to.equal(3);
  });
});
